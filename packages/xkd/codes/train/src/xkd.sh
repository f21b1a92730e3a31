#!/usr/bin/env bash
#SBATCH --job-name=xkd
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=16
# XKD pre-training (the original codes/train/src/xkd.sh).
# Usage: bash xkd.sh CONFIG [--data_dir DIR] [--output_dir DIR] [--job_id ID | --resume ID] [--device cpu] [KEY=VALUE ...]
#   CONFIG: xkd.yaml, xkd_mas.yaml, xkd_mats.yaml (codes/train/configs/pretext/kinetics400/) or a path.
#   Data: --data_dir or $VIDEOKD_DATA/kinetics400 (VIDEOKD_DATA defaults to <repo>/data): train/<class>/<video>.
#   Output: --output_dir or $VIDEOKD_OUTPUT (default <repo>/OUTPUTS): Transformer/pretext/<job_id>/.
#   Launch: bash (CPU / 1 GPU), NPROC=N|auto bash xkd.sh ... (torchrun, N GPUs), sbatch xkd.sh ... (SLURM,
#   one process per task over all nodes). dataset.batch_size is the global batch.
if [ $# -eq 0 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '7,13p' "$0" | sed 's/^# \{0,1\}//'
  [ $# -eq 0 ] && exit 2 || exit 0
fi
_pkg="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
# under sbatch the script runs from a spool copy: find the package from XKD_HOME or the submit folder
[ -f "$_pkg/_run.sh" ] || _pkg="${XKD_HOME:-${SLURM_SUBMIT_DIR:-.}/../../..}"
source "$_pkg/_run.sh"
CONFIG="$1"; shift
xkd_launch xkd.pretrain --config-file "$CONFIG" --sub_dir pretext --db kinetics400 --seed 99999 "$@"
