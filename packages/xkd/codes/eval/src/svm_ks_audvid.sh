#!/usr/bin/env bash
#SBATCH --job-name=svm_ks_audvid
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --gpus-per-node=1
# Kinetics-Sound audio+video linear SVM (L2-normalised video and audio features, concatenated).
# Usage: bash svm_ks_audvid.sh [CONFIG] --weight_path_vid FILE --weight_path_aud FILE [--data_dir DIR] [--select_on_test] [KEY=VALUE ...]
#   CONFIG: config (default) or config_tiny (codes/eval/configs/svm/kinetics_sound/).
#   Data: a Kinetics root (--data_dir or $VIDEOKD_DATA/kinetics400) with train/ and val/; the clip lists
#   cache/kinetics_sound/{train,val}.txt (JSON "class/file") pick the 32 classes, else every class is used.
#   C is chosen on held-out training videos; --select_on_test reports the best C on test (the original).
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '6,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0
fi
_pkg="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
[ -f "$_pkg/_run.sh" ] || _pkg="${XKD_HOME:-${SLURM_SUBMIT_DIR:-.}/../../..}"
source "$_pkg/_run.sh"
xkd_eval xkd.eval_svm kinetics_sound "$@"
