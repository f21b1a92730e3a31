# Sourced by scripts/demo.sh (which provides $PY, $OUT, $REPO_ROOT, $DEMO_DEVICE and `log`).
# TDS-CLIP on synthetic Something-Something v1 frame folders with a random tiny CLIP: the original
# entry scripts train 2 epochs (run_train_vision.sh) and run the 8x3x2-style multi-view test
# (run_test_vision.sh, 3 crops x 2 clips); prints top-1 / top-5.
stage_tdsclip() {
  local root="$OUT/tdsclip/data" exp="$OUT/tdsclip/exp" pkg="$REPO_ROOT/packages/tdsclip"
  log "stage tdsclip: synthetic sthv1 frames + tiny CLIP -> run_train_vision.sh (2 epochs) -> run_test_vision.sh (3 crops x 2 clips)"
  rm -rf "$OUT/tdsclip"
  "$PY" "$REPO_ROOT/datasets/make_synthetic.py" sthv1 "$root/sthv1" --classes 6 --videos-per-class 20 --frames 24 --size 48
  "$PY" -m tdsclip.tools.random_clip "$root/clip_pretrain/tiny.pt" >/dev/null
  VIDEOKD_DATA="$root" TDSCLIP_PYTHON="$PY" NPROC=1 \
    sh "$pkg/scripts/run_train_vision.sh" "$pkg/configs/tiny/sthv1_tiny.yaml" --device "${DEMO_DEVICE:-cpu}" --exp_dir "$exp"
  local run
  run="$(ls -td "$exp"/somethingv1/tiny/*/ | head -n 1)"
  VIDEOKD_DATA="$root" TDSCLIP_PYTHON="$PY" NPROC=1 \
    sh "$pkg/scripts/run_test_vision.sh" "$pkg/configs/tiny/sthv1_tiny.yaml" "$run/model_best.pt" \
    --test_crops 3 --test_clips 2 --device "${DEMO_DEVICE:-cpu}" --output_json "$run/test_3x2.json"
  log "tdsclip run folder (log.txt, last_model.pt, model_best.pt, TensorBoard, test_3x2.json): $run"
}
