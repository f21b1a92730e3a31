#!/usr/bin/env bash
# Runs every test suite: tox, one environment per distribution (core kiclip kd2d3d dldkd tdsclip xkd),
# each a fresh venv with only what that distribution declares. Installs tox (+ tox-uv) if missing.
# Usage: bash scripts/test.sh                 all six environments
#        bash scripts/test.sh -e dldkd        one environment
#        bash scripts/test.sh -e core -- -k config   extra pytest arguments after --
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
ensure_tools
configure_local_index
cd "$REPO_ROOT"
exec tox run "$@"
