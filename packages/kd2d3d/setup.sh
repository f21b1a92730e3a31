#!/usr/bin/env bash
# Source me: `source packages/kd2d3d/setup.sh` (from any directory).
# Exports KD2D3D_DIR (this package's folder), REPO_ROOT and KD2D3D_PYTHON: the active python (or
# python3) when it can import kd2d3d, else the repository's .venv/bin/python. Also puts the package
# and core sources on PYTHONPATH so a plain checkout works without an install.
_kd_here="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)"
export KD2D3D_DIR="$_kd_here"
export REPO_ROOT="$(cd "$_kd_here/../.." && pwd)"
case ":${PYTHONPATH:-}:" in
  *":$_kd_here/src:"*) ;;
  *) export PYTHONPATH="$_kd_here/src:$REPO_ROOT/core/src${PYTHONPATH:+:$PYTHONPATH}" ;;
esac
if [ -z "${KD2D3D_PYTHON:-}" ]; then
  KD2D3D_PYTHON=""
  for _kd_py in python python3; do
    if command -v "$_kd_py" >/dev/null 2>&1 && "$_kd_py" -c "import kd2d3d, videokd, torch, torchvision, av" >/dev/null 2>&1; then
      KD2D3D_PYTHON="$(command -v "$_kd_py")"
      break
    fi
  done
  if [ -z "$KD2D3D_PYTHON" ] && [ -x "$REPO_ROOT/.venv/bin/python" ]; then
    KD2D3D_PYTHON="$REPO_ROOT/.venv/bin/python"
  fi
fi
export KD2D3D_PYTHON
if [ -z "$KD2D3D_PYTHON" ]; then
  echo "[kd2d3d] no Python with torch + torchvision + av found: run 'bash $REPO_ROOT/scripts/setup.sh' first (creates $REPO_ROOT/.venv)" >&2
fi
unset _kd_here _kd_py
