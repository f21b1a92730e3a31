# Sourced by scripts/demo.sh (which provides $PY, $OUT, $REPO_ROOT, $DEMO_DEVICE and log): the xkd stage.
# Synthetic Kinetics-layout clips with class-dependent tones and motion -> a micro XKD pre-trained for
# 2 epochs on the CPU through codes/train/src/xkd.sh -> the linear-SVM evaluation of its video backbone on
# a synthetic UCF101 fold (svm_ucf101.sh), of its audio backbone on a synthetic ESC-50 fold (svm_esc50.sh), a
# linear probe of the video backbone on a larger synthetic Kinetics set (linear_k400.sh) and a fine-tuning of the
# audio backbone on ESC-50 fold 1 (finetune_esc50.sh, 224-frame pre-training -> 3-s crops).
stage_xkd() {
  local root="$OUT/xkd" pkg="$REPO_ROOT/packages/xkd"
  log "stage xkd: synthetic audio-visual clips -> xkd.sh (micro XKD, 2 epochs, CPU) -> svm_ucf101.sh / svm_esc50.sh / linear_k400.sh / finetune_esc50.sh"
  rm -rf "$root"
  "$PY" "$REPO_ROOT/datasets/make_synthetic.py" kinetics-avi "$root/k400" --classes 4 --videos-per-class 4 --frames 60 --size 48
  "$PY" "$REPO_ROOT/datasets/make_synthetic.py" kinetics-avi "$root/k400_eval" --classes 4 --videos-per-class 12 --frames 60 --size 48
  "$PY" "$REPO_ROOT/datasets/make_synthetic.py" ucf101 "$root/ucf101" --classes 4 --videos-per-class 12 --frames 40 --size 48
  "$PY" - "$root/esc50" <<'PYEOF'
import sys
from videokd.data.synthetic import make_esc50_dataset
make_esc50_dataset(sys.argv[1], classes=4, videos_per_class=30, seconds=2.5, seed=7)
PYEOF
  XKD_PYTHON="$PY" bash "$pkg/codes/train/src/xkd.sh" xkd_tiny.yaml --data_dir "$root/k400" --output_dir "$root/runs" \
    --job_id demo --device "${DEMO_DEVICE:-cpu}" --quiet
  local weights="$root/runs/Transformer/pretext/demo/model/XKD_pretext_kinetics400_ep1"
  XKD_PYTHON="$PY" bash "$pkg/codes/eval/src/svm_ucf101.sh" config_tiny --weight_path "${weights}vid_student.pth.tar" \
    --data_dir "$root/ucf101" --output_dir "$root/runs" --job_id demo --device "${DEMO_DEVICE:-cpu}" --quiet
  XKD_PYTHON="$PY" bash "$pkg/codes/eval/src/svm_esc50.sh" config_tiny --weight_path "${weights}aud_student.pth.tar" \
    --data_dir "$root/esc50" --output_dir "$root/runs" --job_id demo --device "${DEMO_DEVICE:-cpu}" --quiet
  XKD_PYTHON="$PY" bash "$pkg/codes/eval/src/linear_k400.sh" config_demo --weight_path "${weights}vid_student.pth.tar" \
    --data_dir "$root/k400_eval" --output_dir "$root/runs" --job_id demo --device "${DEMO_DEVICE:-cpu}" --quiet
  XKD_PYTHON="$PY" bash "$pkg/codes/eval/src/finetune_esc50.sh" config_tiny_f1 --weight_path "${weights}aud_student.pth.tar" \
    --data_dir "$root/esc50" --output_dir "$root/runs" --job_id demo --device "${DEMO_DEVICE:-cpu}" --quiet
  log "xkd run folder (backbone files, checkpoint, metrics.jsonl): $root/runs/Transformer/pretext/demo"
}
