# XKD GPU stage (sourced by scripts/gpu_check.sh, which provides bench_run, $PY and $OUT_DIR): bf16 XKD
# pre-training steps at ViT-B size (32x112x112 video, 80x448 audio, 8192-way heads, batch 8): clips/s,
# MFU, peak memory; and the audio front end on the GPU; JSON into $OUT_DIR/bench/xkd/.
gpu_stage_xkd() {
  bench_run xkd xkd_pretrain_step xkd_audio_frontend
}
