# KICLIP GPU stage (given $PY and $OUT_DIR): a short bf16 CUDA benchmark of the full KICLIP training step
# (student with injection, teacher, text towers, AdamW) at ViT-B/16 size, 224 px, 8 frames, 4 clips,
# against the plain ViT-B/16 image-tower step; JSON into $OUT_DIR/kiclip_train_step.json (< 60 s).
gpu_stage_kiclip() {
  local here
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  "$PY" "$here/benchmarks/kiclip_train_step.py" --device cuda --iters 2 --output "$OUT_DIR/kiclip_train_step.json"
}
