# KICLIP GPU stage (sourced by scripts/gpu_check.sh, which provides bench_run, $PY and $OUT_DIR): the full
# KICLIP training step at ViT-B/16, 8x224, 4 clips, bf16, against the plain ViT-B/16 step: clips/s,
# achieved TFLOP/s and model FLOP utilisation over the measured bf16 matmul peak; JSON into $OUT_DIR/bench/kiclip/.
gpu_stage_kiclip() {
  bench_run kiclip kiclip_train_step
}
