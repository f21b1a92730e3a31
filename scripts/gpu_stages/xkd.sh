# Sourced by scripts/gpu_check.sh (which provides $PY and $OUT_DIR): the xkd GPU stage.
# A bf16 CUDA run of XKD pre-training steps at ViT-B size (the paper's 32x112x112 video / 80x448 audio,
# 8192-way heads) through the package benchmark, plus the audio front end on the GPU; JSON into $OUT_DIR.
gpu_stage_xkd() {
  local repo
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  "$PY" "$repo/benchmarks/xkd_pretrain_step.py" --device cuda --precision bf16 --batch 8 --steps 5 --warmup 2 \
    --variants XKD --out "$OUT_DIR/xkd_pretrain_step_cuda.json"
  "$PY" "$repo/benchmarks/xkd_audio_frontend.py" --device cuda --clips 256 --out "$OUT_DIR/xkd_audio_frontend_cuda.json"
}
