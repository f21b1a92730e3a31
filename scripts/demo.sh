#!/usr/bin/env bash
# The main job on built-in tiny data, on the CPU (or a GPU if present): creates .venv if missing, then
# runs each package's demo stage. Outputs go to ${VIDEOKD_DEMO_DIR:-runs/demo}.
# Usage: bash scripts/demo.sh [STAGE ...]      stages: core dldkd (default: all, in that order)
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

stage_dldkd() {
  # DL-DKD on a synthetic TVR-format feature bundle: train with early stopping, then the test table
  local root="$OUT/dldkd/data"
  log "stage dldkd: synthetic TVR features -> packages/dldkd/do_tvr.sh (tiny model) -> do_test.sh"
  rm -rf "$OUT/dldkd"
  "$PY" "$REPO_ROOT/datasets/make_synthetic.py" tvr "$root" --classes 8 --videos-per-class 8
  "$REPO_ROOT/packages/dldkd/do_tvr.sh" "$root" --exp_id demo --n_epoch 8 --max_es_cnt 3 \
    --A_hidden_size 64 --B_hidden_size 64 --bsz 16 --lr 1e-3 --num_workers 0
  local run
  run="$(ls -td "$root"/tvr/results/tvr-demo-* | head -n 1)"
  "$REPO_ROOT/packages/dldkd/do_test.sh" tvr i3d_resnet "$root" "$(basename "$run")"
  log "dldkd run folder (checkpoint, opt.json, TensorBoard, metrics, ranks): $run"
}

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(core dldkd)
for s in "${stages[@]}"; do
  declare -F "stage_$s" >/dev/null || die "unknown stage '$s' (known: $(declare -F | sed -n 's/.*stage_//p' | tr '\n' ' '))"
  start=$(date +%s)
  "stage_$s"
  log "stage $s done in $(( $(date +%s) - start )) s"
done
log "demo finished; outputs in $OUT"
