#!/usr/bin/env bash
# The main job on built-in tiny data, on the CPU (or a GPU if present): creates .venv if missing, then
# runs each package's demo stage. Outputs go to ${VIDEOKD_DEMO_DIR:-runs/demo}.
# Usage: bash scripts/demo.sh [STAGE ...]      stages: core dldkd (default: all)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
ensure_venv
PY="$VENV/bin/python"
OUT="${VIDEOKD_DEMO_DIR:-$REPO_ROOT/runs/demo}"
mkdir -p "$OUT"
export PATH="$VENV/bin:$PATH"

stage_core() {
  log "stage core: CLIP tokenizer + tiny CLIP, synthetic video decoding, a short engine run"
  "$PY" "$REPO_ROOT/scripts/demo_core.py" --out "$OUT/core"
}

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(core)
for s in "${stages[@]}"; do
  declare -F "stage_$s" >/dev/null || die "unknown stage '$s' (known: $(declare -F | sed -n 's/.*stage_//p' | tr '\n' ' '))"
  start=$(date +%s)
  "stage_$s"
  log "stage $s done in $(( $(date +%s) - start )) s"
done
log "demo finished; outputs in $OUT"
