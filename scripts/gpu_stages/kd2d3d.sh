# kd2d3d GPU stage (sourced by scripts/gpu_check.sh, which provides $PY and $OUT_DIR): a short bf16
# CUDA run of the distillation train step (3D ResNet-18 student, 2D ResNet-18 teacher, 16x112x112
# clips, channels_last_3d) through the benchmark script; JSON into $OUT_DIR.
gpu_stage_kd2d3d() {
  local repo
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  "$PY" "$repo/benchmarks/kd2d3d_train_step.py" --device cuda --precision bf16 --channels-last \
    --batch-size 8 --steps 10 --warmup 3 --skip-extraction --out "$OUT_DIR/kd2d3d_gpu.json"
}
