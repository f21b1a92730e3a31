#!/usr/bin/env bash
#SBATCH --job-name=linear_k400
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --gpus-per-node=1
# Kinetics-400 video linear probe on a frozen backbone (*vid_student.pth.tar), trained on the core Trainer; prints the test top-1/top-5.
# Usage: bash linear_k400.sh [CONFIG] --weight_path FILE [--data_dir DIR] [--select_on_test] [--device cpu] [KEY=VALUE ...]
#   CONFIG: config (default; the original values) or config_tiny (codes/eval/configs/linear/kinetics400/).
#   Data: --data_dir or $VIDEOKD_DATA/kinetics400 (VIDEOKD_DATA defaults to <repo>/data).
#   The epoch is chosen on a validation split of the training data; --select_on_test: on test (the original).
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '6,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0
fi
_pkg="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
[ -f "$_pkg/_run.sh" ] || _pkg="${XKD_HOME:-${SLURM_SUBMIT_DIR:-.}/../../..}"
source "$_pkg/_run.sh"
xkd_eval xkd.eval_linear kinetics400 "$@"
