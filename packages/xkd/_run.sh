#!/usr/bin/env bash
# Shared by the codes/*/src/*.sh entry scripts (not meant to be run directly): environment and launcher.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
if [ -z "$XKD_PYTHON" ]; then
  echo "[xkd] error: no Python with torch + PyAV + xkd; run 'bash $REPO_ROOT/scripts/setup.sh' first" >&2
  exit 2
fi

# xkd_launch MODULE ARGS...: one process (CPU or one GPU), torchrun with NPROC processes on this node
# (NPROC=auto: one per visible GPU), or - inside an sbatch allocation with several tasks - srun, one
# process per task (the core reads SLURM_PROCID / SLURM_NTASKS / SLURM_NODELIST).
xkd_launch() {
  local module="$1"; shift
  if [ -n "${SLURM_JOB_ID:-}" ] && [ "${SLURM_NTASKS:-1}" -gt 1 ] && [ -z "${SLURM_PROCID:-}" ]; then
    exec srun "$XKD_PYTHON" -m "$module" "$@"
  fi
  local nproc="${NPROC:-1}"
  if [ "$nproc" = auto ]; then
    nproc="$("$XKD_PYTHON" -c 'import torch; print(max(torch.cuda.device_count(), 1))')"
  fi
  if [ "$nproc" -gt 1 ]; then
    exec "$XKD_PYTHON" -m torch.distributed.run --standalone --nproc_per_node="$nproc" -m "$module" "$@"
  fi
  exec "$XKD_PYTHON" -m "$module" "$@"
}

# xkd_eval MODULE DB ARGS...: leading arguments that are not flags are config names (-c NAME each);
# WEIGHT_PATH (environment) is used when --weight_path is not given.
xkd_eval() {
  local module="$1" db="$2"; shift 2
  local args=(--db "$db")
  while [ $# -gt 0 ] && [ "${1#-}" = "$1" ] && [ "${1#*=}" = "$1" ]; do args+=(-c "$1"); shift; done
  case " $* " in
    *" --weight_path "*|*" --weight_path="*) ;;
    *) [ -n "${WEIGHT_PATH:-}" ] && args+=(--weight_path "$WEIGHT_PATH") ;;
  esac
  xkd_launch "$module" "${args[@]}" "$@"
}
