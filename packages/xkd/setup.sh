#!/usr/bin/env bash
# Source me: `source packages/xkd/setup.sh` (from any directory).
# Exports XKD_HOME (this package's folder), REPO_ROOT and XKD_PYTHON: the active python when it can
# import xkd, else the repository's .venv/bin/python, else python3. Puts the package and core sources on
# PYTHONPATH so a plain checkout works without an install.
_xkd_here="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)"
export XKD_HOME="$_xkd_here"
export REPO_ROOT="$(cd "$_xkd_here/../.." && pwd)"
case ":${PYTHONPATH:-}:" in
  *":$_xkd_here/src:"*) ;;
  *) export PYTHONPATH="$_xkd_here/src:$REPO_ROOT/core/src${PYTHONPATH:+:$PYTHONPATH}" ;;
esac
if [ -z "${XKD_PYTHON:-}" ]; then
  for _cand in python python3 "$REPO_ROOT/.venv/bin/python"; do
    if command -v "$_cand" >/dev/null 2>&1 && "$_cand" -c "import torch, av, xkd" >/dev/null 2>&1; then
      XKD_PYTHON="$(command -v "$_cand")"; break
    fi
  done
fi
export XKD_PYTHON="${XKD_PYTHON:-}"
unset _xkd_here _cand
