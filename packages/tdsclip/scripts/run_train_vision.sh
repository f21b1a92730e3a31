#!/bin/sh
# Train TDS-CLIP: sh scripts/run_train_vision.sh CONFIG [overrides / flags ...]
usage() {
  cat <<'USAGE'
usage: run_train_vision.sh CONFIG [KEY.SUB=value ...] [--device cpu] [--precision amp|fp16|bf16|fp32]
                           [--data_root DIR] [--exp_dir DIR] [--nproc N]

  CONFIG      a YAML from configs/ (e.g. configs/sthv1/sthv1_train_rgb_vitb-16-side4video.yaml)
  overrides   config keys, e.g. solver.epochs=2 data.batch_size=8
Data paths in the config are relative to the data root: --data_root, else $VIDEOKD_DATA, else
<repo>/data. The CLIP weights are read from network.clip_path (default
<data root>/clip_pretrain/ViT-B-16.pt). Processes: --nproc N or NPROC=N (default: every visible GPU,
the CPU when there is none); more than one runs torchrun (DDP). Outputs:
exp_onehot/<dataset>/<arch>/<timestamp>/ (log.txt, last_model.pt, model_best.pt, TensorBoard).
USAGE
}
case "${1:-}" in -h|--help) usage; exit 0 ;; "") usage >&2; echo "error: need a config file" >&2; exit 2 ;; esac
. "$(cd "$(dirname "$0")" && pwd)/_launch.sh"
CONFIG="$1"; shift
[ -f "$CONFIG" ] || { echo "run_train_vision.sh: error: config file not found: $CONFIG" >&2; exit 2; }
tds_python
# --nproc N / --nproc=N (ours), everything else goes to train_vision.py
n=$#; i=0
while [ "$i" -lt "$n" ]; do
  a="$1"; shift; i=$((i + 1))
  case "$a" in
    --nproc=*) NPROC="${a#--nproc=}" ;;
    --nproc) NPROC="$1"; shift; i=$((i + 1)) ;;
    *) set -- "$@" "$a" ;;
  esac
done
"$PY" -m tdsclip.check --config "$CONFIG" "$@" || exit $?
tds_launch train_vision.py --config "$CONFIG" --log_time "$(date +%Y%m%d_%H%M%S)" "$@"
