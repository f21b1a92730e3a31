# KICLIP demo stage (sourced by scripts/demo.sh, which provides $PY, $OUT, $REPO_ROOT, $DEMO_DEVICE and `log`).
# Synthetic K400 base-to-novel data + a tiny CLIP fitted for a few seconds to the synthetic classes,
# then the original scripts: train_b2n_k400.sh (2 epochs) -> weight_average_tool.py -> test_b2n_k400.sh,
# which prints base accuracy, novel accuracy and their harmonic mean (the paper's metric).
stage_kiclip() {
  local root="$OUT/kiclip"
  log "stage kiclip: synthetic K400 B2N + tiny CLIP -> train_b2n_k400.sh (2 epochs) -> weight_average_tool.py -> test_b2n_k400.sh"
  rm -rf "$root"
  mkdir -p "$root"
  "$PY" -c "
from kiclip.tiny_clip import write_tiny_clip
from videokd.data.synthetic.kiclip_b2n import write_kiclip_k400
write_kiclip_k400('$root/data', classes=6, videos_per_class=8, frames=24, size=40)
write_tiny_clip('$root/ViT-tiny.pt', classes=6)
"
  local tiny=(DATA.TRAIN_JITTER_SCALES "[32,40]" DATA.TRAIN_CROP_SIZE 32 DATA.TEST_CROP_SIZE 32 DATA.SAMPLING_RATE 2
    DATA_LOADER.NUM_WORKERS 0)
  local env=(KICLIP_PYTHON="$PY" KICLIP_CLIP="$root/ViT-tiny.pt" KICLIP_OUTPUT="$root/runs")
  env "${env[@]}" bash "$REPO_ROOT/packages/kiclip/train_b2n_k400.sh" "$root/data" --device "${DEMO_DEVICE:-cpu}" --opts "${tiny[@]}" \
    SOLVER.MAX_EPOCH 2 SOLVER.BASE_LR 1e-4 SOLVER.WARMUP_EPOCHS 0.0 SOLVER.WARMUP_START_LR 1e-4 \
    SOLVER.COSINE_END_LR 1e-5 TRAIN.BATCH_SIZE 2
  local run="$root/runs/B2N_k400_KICLIP"
  "$PY" "$REPO_ROOT/packages/kiclip/weight_average_tool.py" "$run/checkpoints" --start 1 --end 2 --clip "$root/ViT-tiny.pt"
  env "${env[@]}" CKPT="$run/wa_checkpoints/swa_1_2.pth" bash "$REPO_ROOT/packages/kiclip/test_b2n_k400.sh" \
    "$root/data" --device "${DEMO_DEVICE:-cpu}" --opts "${tiny[@]}"
  log "kiclip run folder (per-epoch checkpoints, WA file, TensorBoard, metrics.jsonl, b2n_results.json): $run"
}
