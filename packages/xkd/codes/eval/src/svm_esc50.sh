#!/usr/bin/env bash
#SBATCH --job-name=svm_esc50
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --gpus-per-node=1
# Linear-SVM evaluation on ESC-50 sound classification (5 folds; audio backbone: *aud_student.pth.tar).
# Usage: bash svm_esc50.sh [CONFIG ...] --weight_path FILE [--data_dir DIR] [--select_on_test] [--device cpu] [KEY=VALUE ...]
#   CONFIG: config_f1 .. config_f5 (codes/eval/configs/svm/esc50/); none = every fold, then the mean is printed.
#   FILE: a backbone file of codes/train/src/xkd.sh (or the released weights); WEIGHT_PATH=FILE works too.
#   Data: --data_dir or $VIDEOKD_DATA/esc50 (VIDEOKD_DATA defaults to <repo>/data).
#   C is chosen on held-out training videos; --select_on_test reports the best C on test (the original).
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '6,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0
fi
_pkg="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
[ -f "$_pkg/_run.sh" ] || _pkg="${XKD_HOME:-${SLURM_SUBMIT_DIR:-.}/../../..}"
source "$_pkg/_run.sh"
xkd_eval xkd.eval_svm esc50 "$@"
