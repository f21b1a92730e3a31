#!/usr/bin/env bash
# Sets up a fresh clone: .venv-tools (uv, tox) and .venv (core + all packages, editable, with test extras).
# Usage: bash scripts/setup.sh            (VIDEOKD_REINSTALL=1 to reinstall into an existing .venv)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
ensure_venv
"$VENV/bin/python" -c "import torch, videokd; print('[videokd] ready: torch', torch.__version__, '| CUDA' if torch.cuda.is_available() else '| CPU only', '| activate with: source .venv/bin/activate')"
