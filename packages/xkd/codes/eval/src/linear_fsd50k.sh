#!/usr/bin/env bash
#SBATCH --job-name=linear_fsd50k
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --gpus-per-node=1
# FSD50K audio linear probe, multi-label, on a frozen backbone (*aud_student.pth.tar), trained on the core Trainer; prints the test mAP.
# Usage: bash linear_fsd50k.sh [CONFIG] --weight_path FILE [--data_dir DIR] [--select_on_test] [--device cpu] [KEY=VALUE ...]
#   CONFIG: config (default; the original values) or config_tiny (codes/eval/configs/linear/fsd50k/).
#   Data: --data_dir or $VIDEOKD_DATA/fsd50k (VIDEOKD_DATA defaults to <repo>/data).
#   The epoch is chosen on a validation split of the training data; --select_on_test: on test (the original).
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '6,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0
fi
_pkg="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
[ -f "$_pkg/_run.sh" ] || _pkg="${XKD_HOME:-${SLURM_SUBMIT_DIR:-.}/../../..}"
source "$_pkg/_run.sh"
xkd_eval xkd.eval_linear fsd50k "$@"
