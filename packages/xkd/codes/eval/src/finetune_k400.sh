#!/usr/bin/env bash
#SBATCH --job-name=finetune_k400
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=4
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=5
# Full fine-tuning on Kinetics-400 action recognition (top-1/top-5 on val, 224 px from the 112-px pre-training; video backbone *vid_student.pth.tar), on the core Trainer.
# Usage: bash finetune_k400.sh [CONFIG ...] --weight_path FILE [--data_dir DIR] [--select_on_test] [--device cpu] [KEY=VALUE ...]
#   CONFIG: config (the original values) or config_tiny (codes/eval/configs/finetune/kinetics400/).
#   FILE: a backbone file of codes/train/src/xkd.sh, a full checkpoint (--which student|teacher) or the released weights; WEIGHT_PATH=FILE works too.
#   Data: --data_dir or $VIDEOKD_DATA/kinetics400 (VIDEOKD_DATA defaults to <repo>/data). Output: --output_dir or $VIDEOKD_OUTPUT.
#   The epoch is chosen on a held-out 10 % of the training videos; --select_on_test: best epoch on the test split (the original).
#   Launch: bash (CPU or 1 GPU), NPROC=N bash ... (torchrun, N GPUs on this node), sbatch (srun, one task per GPU).
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '7,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0
fi
_pkg="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
[ -f "$_pkg/_run.sh" ] || _pkg="${XKD_HOME:-${SLURM_SUBMIT_DIR:-.}/../../..}"
source "$_pkg/_run.sh"
xkd_eval xkd.finetune kinetics400 "$@"
