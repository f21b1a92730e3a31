#!/usr/bin/env bash
# Shared by do_*.sh (not meant to be run directly): help, data root, data checks, launcher.
set -euo pipefail
_DLDKD_SCRIPT="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

# dldkd_help ARGS...: `-h`/`--help` prints the calling script's header comment and exits 0
dldkd_help() {
  case "${1:-}" in
    -h|--help)
      sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$_DLDKD_SCRIPT"
      exit 0
      ;;
  esac
}
dldkd_help "$@"

source "$(dirname "${BASH_SOURCE[0]}")/setup.sh" >/dev/null
[ -n "$DLDKD_PYTHON" ] || { echo "[dldkd] error: no usable Python; run 'bash $REPO_ROOT/scripts/setup.sh'" >&2; exit 2; }

# the data root: an explicit first argument (not a flag), else $VIDEOKD_DATA ($DLDKD_DATA, the old
# name, still works), else <repo>/data. Sets ROOTPATH and DLDKD_ROOT_GIVEN (1 when $1 was the root).
dldkd_root() {
  DLDKD_ROOT_GIVEN=0
  if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    ROOTPATH="$1"; DLDKD_ROOT_GIVEN=1
  else
    ROOTPATH="${VIDEOKD_DATA:-${DLDKD_DATA:-$REPO_ROOT/data}}"
  fi
}

# dldkd_require_data ROOT COLLECTION FEATURE PHASE: the files a phase reads are listed once, in
# dldkd.data; a clear message (what is missing, where to get it, how to make a stand-in), exit 2
dldkd_require_data() {
  "$DLDKD_PYTHON" -m dldkd.data check "$@"
}

# dldkd_launch MODULE ARGS...: one process, or torchrun with NPROC processes (DDP over the visible GPUs)
dldkd_launch() {
  local module="$1"; shift
  local nproc="${NPROC:-1}"
  if [ "$nproc" = auto ]; then
    nproc="$("$DLDKD_PYTHON" -c 'import torch; print(max(torch.cuda.device_count(), 1))')"
  fi
  if [ "$nproc" -gt 1 ]; then
    exec "$DLDKD_PYTHON" -m torch.distributed.run --standalone --nproc_per_node="$nproc" -m "$module" "$@"
  fi
  exec "$DLDKD_PYTHON" -m "$module" "$@"
}
