# Shared by run_train_vision.sh and run_test_vision.sh (POSIX sh: works with `sh` and `bash`).
# Sets TDS_PKG (packages/tdsclip), REPO_ROOT, PY; defines tds_python, tds_check, tds_launch.
TDS_PKG="$(cd "$(dirname "$0")/.." && pwd)"
REPO_ROOT="$(cd "$TDS_PKG/../.." && pwd)"
export VIDEOKD_DATA="${VIDEOKD_DATA:-$REPO_ROOT/data}"
case ":${PYTHONPATH:-}:" in
  *":$TDS_PKG/src:"*) ;;
  *) PYTHONPATH="$TDS_PKG/src:$REPO_ROOT/core/src${PYTHONPATH:+:$PYTHONPATH}"; export PYTHONPATH ;;
esac

# the active python when it can import tdsclip, else the repository's .venv, else python3
tds_python() {
  if [ -n "${TDSCLIP_PYTHON:-}" ]; then PY="$TDSCLIP_PYTHON"; return; fi
  for cand in python python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "import tdsclip, torch" >/dev/null 2>&1; then
      PY="$(command -v "$cand")"; return
    fi
  done
  if [ -x "$REPO_ROOT/.venv/bin/python" ]; then PY="$REPO_ROOT/.venv/bin/python"; return; fi
  if command -v python3 >/dev/null 2>&1; then PY="$(command -v python3)"; else PY=python; fi
}

# number of processes: NPROC (a number or "auto" = every visible GPU), default auto
tds_nproc() {
  n="${NPROC:-auto}"
  if [ "$n" = auto ]; then
    n="$("$PY" -c 'import torch; print(max(torch.cuda.device_count(), 1))' 2>/dev/null || echo 1)"
  fi
  echo "$n"
}

# tds_launch SCRIPT.py ARGS...: one process, or torchrun with NPROC processes (DDP)
tds_launch() {
  script="$1"; shift
  n="$(tds_nproc)"
  if [ "$n" -gt 1 ] 2>/dev/null; then
    exec "$PY" -m torch.distributed.run --standalone --nproc_per_node="$n" "$TDS_PKG/$script" "$@"
  fi
  exec "$PY" "$TDS_PKG/$script" "$@"
}
