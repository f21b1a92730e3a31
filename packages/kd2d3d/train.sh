#!/usr/bin/env bash
# Usage: bash train.sh CONFIG.yaml [KEY=VALUE ...] [--<lineage flag> VALUE ...]
#   Runs main.py --config CONFIG.yaml (train / validate / test as configured) with the repository's
#   Python. Relative data paths in the config are read from the current directory; the data root
#   can also be given as VIDEOKD_DATA (used by the shipped configs through root_path).
#   NPROC=N (or auto) trains with N processes (torchrun, DDP over the visible GPUs); under SLURM
#   start one task per GPU with srun instead. --device cpu is spelled run.device=cpu.
set -euo pipefail
usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in -h|--help) usage; exit 0 ;; "") usage >&2; exit 2 ;; esac
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
[ -n "$KD2D3D_PYTHON" ] || exit 2
CONFIG="$1"; shift
[ -f "$CONFIG" ] || { echo "[kd2d3d] error: config not found: $CONFIG (shipped configs: $KD2D3D_DIR/configs/)" >&2; exit 2; }
nproc="${NPROC:-1}"
if [ "$nproc" = auto ]; then
  nproc="$("$KD2D3D_PYTHON" -c 'import torch; print(max(torch.cuda.device_count(), 1))')"
fi
if [ "$nproc" -gt 1 ]; then
  exec "$KD2D3D_PYTHON" -m torch.distributed.run --standalone --nproc_per_node="$nproc" "$KD2D3D_DIR/main.py" --config "$CONFIG" "$@"
fi
exec "$KD2D3D_PYTHON" "$KD2D3D_DIR/main.py" --config "$CONFIG" "$@"
