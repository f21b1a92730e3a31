# Demo stage `core` (sourced by scripts/demo.sh, which sets PY, OUT, REPO_ROOT, DEMO_DEVICE and log).
stage_core() {
  log "stage core: CLIP tokenizer + tiny CLIP, synthetic video decoding, a short engine run"
  "$PY" "$REPO_ROOT/scripts/demo_core.py" --out "$OUT/core" ${DEMO_DEVICE:+--device "$DEMO_DEVICE"}
}
