# kd2d3d GPU stage (sourced by scripts/gpu_check.sh, which provides bench_run, $PY and $OUT_DIR): the
# distillation train step (3D ResNet-18 student, 2D ResNet-18 teacher, 16x112x112 clips, bf16,
# channels_last_3d, batch 16) through benchmarks/run.py; JSON into $OUT_DIR/bench/kd2d3d/.
gpu_stage_kd2d3d() {
  bench_run kd2d3d kd2d3d_train_step
}
