#!/bin/sh
# Multi-view test: sh scripts/run_test_vision.sh CONFIG CHECKPOINT [--test_crops N --test_clips N --dense ...]
usage() {
  cat <<'USAGE'
usage: run_test_vision.sh CONFIG CHECKPOINT [--test_crops 1|3|5|10] [--test_clips N] [--dense]
                          [--device cpu] [--data_root DIR] [--output_json FILE] [--nproc N] [KEY.SUB=value ...]

  CONFIG      the training config (data.val_list is the test list, as in the original)
  CHECKPOINT  model_best.pt / last_model.pt of a run (or an original TDS-CLIP checkpoint)
The paper's protocol: SSv1/SSv2 --test_crops 3 --test_clips 2; K400 --test_crops 3 --test_clips 4.
Prints top-1 / top-5 (softmax averaged over the views, every video counted once).
USAGE
}
case "${1:-}" in -h|--help) usage; exit 0 ;; esac
if [ $# -lt 2 ]; then usage >&2; echo "error: need CONFIG and CHECKPOINT" >&2; exit 2; fi
. "$(cd "$(dirname "$0")" && pwd)/_launch.sh"
CONFIG="$1"; WEIGHTS="$2"; shift 2
[ -f "$CONFIG" ] || { echo "run_test_vision.sh: error: config file not found: $CONFIG" >&2; exit 2; }
[ -f "$WEIGHTS" ] || { echo "run_test_vision.sh: error: checkpoint not found: $WEIGHTS" >&2; exit 2; }
tds_python
n=$#; i=0
while [ "$i" -lt "$n" ]; do
  a="$1"; shift; i=$((i + 1))
  case "$a" in
    --nproc=*) NPROC="${a#--nproc=}" ;;
    --nproc) NPROC="$1"; shift; i=$((i + 1)) ;;
    *) set -- "$@" "$a" ;;
  esac
done
"$PY" -m tdsclip.check --test --config "$CONFIG" "$@" || exit $?
tds_launch test_vision.py --config "$CONFIG" --weights "$WEIGHTS" "$@"
