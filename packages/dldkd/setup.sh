#!/usr/bin/env bash
# Source me: `source packages/dldkd/setup.sh` (from any directory).
# Exports DIR_PWD (this package's folder, as the original setup.sh did), REPO_ROOT, and DLDKD_PYTHON:
# the active python (or python3) when it can import dldkd, else the repository's .venv/bin/python. Also puts the
# package and core sources on PYTHONPATH so a plain checkout works without an install.
_dldkd_here="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)"
export DIR_PWD="$_dldkd_here"
export REPO_ROOT="$(cd "$_dldkd_here/../.." && pwd)"
case ":${PYTHONPATH:-}:" in
  *":$_dldkd_here/src:"*) ;;
  *) export PYTHONPATH="$_dldkd_here/src:$REPO_ROOT/core/src${PYTHONPATH:+:$PYTHONPATH}" ;;
esac
if [ -z "${DLDKD_PYTHON:-}" ]; then
  for _py in python python3; do
    if command -v "$_py" >/dev/null 2>&1 && "$_py" -c "import dldkd, videokd, torch, h5py" >/dev/null 2>&1; then
      DLDKD_PYTHON="$(command -v "$_py")"
      break
    fi
  done
  unset _py
  if [ -n "${DLDKD_PYTHON:-}" ]; then
    :
  elif [ -x "$REPO_ROOT/.venv/bin/python" ]; then
    DLDKD_PYTHON="$REPO_ROOT/.venv/bin/python"
  else
    DLDKD_PYTHON=""
  fi
fi
export DLDKD_PYTHON
if [ -z "$DLDKD_PYTHON" ]; then
  echo "[dldkd] no Python with torch + h5py found: run 'bash $REPO_ROOT/scripts/setup.sh' first (creates $REPO_ROOT/.venv)" >&2
else
  echo "[dldkd] DIR_PWD=$DIR_PWD python=$DLDKD_PYTHON"
fi
unset _dldkd_here
