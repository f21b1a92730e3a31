# Sourced by the GPU check (provides $PY and $OUT_DIR): a short bf16 CUDA run of the TDS-CLIP train
# step at ViT-B/16 size (random weights, 224 px, 8 frames), frozen trunk under no_grad vs not and
# full fine-tuning; writes $OUT_DIR/tdsclip_gpu.json.
gpu_stage_tdsclip() {
  local repo="${REPO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
  "$PY" "$repo/benchmarks/tdsclip_train_step.py" --device cuda --precision bf16 \
    --batch 4 --frames 8 --resolution 224 --steps 5 --warmup 2 --out "$OUT_DIR/tdsclip_gpu.json"
}
