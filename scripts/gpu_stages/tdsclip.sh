# TDS-CLIP GPU stage (sourced by scripts/gpu_check.sh, which provides bench_run, $PY and $OUT_DIR): the
# train step at ViT-B/16, 8x224, 4 videos, bf16 - side network with the frozen trunk under no_grad, without
# it, and full fine-tuning of the same CLIP (each in its own process): clips/s, MFU, peak memory per clip;
# JSON into $OUT_DIR/bench/tdsclip/.
gpu_stage_tdsclip() {
  bench_run tdsclip tdsclip_train_step
}
