# kd2d3d demo stage (sourced by scripts/demo.sh, which provides $PY, $OUT, $REPO_ROOT, $DEMO_DEVICE and log):
# synthetic UCF-101 videos -> the lineage tools (frames, n_frames, json) -> main.py --config with a
# tiny 3D ResNet-10, twice: distilled from a frozen 2D ResNet-18 teacher (logit + feature KD) and
# without KD, 2 epochs each -> clip and video accuracy of the test loop (val_accuracy.json, val.json).
stage_kd2d3d() {
  local root="$OUT/kd2d3d" pkg="$REPO_ROOT/packages/kd2d3d"
  log "stage kd2d3d: synthetic UCF-101 -> tools/*.py -> main.py --config configs/tiny.yaml (3D student, with and without a 2D teacher)"
  rm -rf "$root"
  mkdir -p "$root"
  "$PY" -c "from videokd.data.synthetic import make_ucf101_dataset as m; m('$root/raw', classes=3, videos_per_class=30, frames=16, size=32)"
  "$PY" "$pkg/tools/video_jpg_ucf101_hmdb51.py" "$root/raw/UCF-101" "$root/jpg" --height 48 --no_progress
  "$PY" "$pkg/tools/n_frames_ucf101_hmdb51.py" "$root/jpg"
  "$PY" "$pkg/tools/ucf101_json.py" "$root/raw/ucfTrainTestlist" --dst_dir "$root"
  # the 2D teacher: a torchvision ResNet-18 (3-way head); untrained here (no weights are downloaded)
  "$PY" -c "import torch, torchvision; torch.manual_seed(0); torch.save(torchvision.models.resnet18(num_classes=3).state_dict(), '$root/teacher.pth')"
  local common=(video_path="$root/jpg" annotation_path="$root/ucf101_01.json" run.device="${DEMO_DEVICE:-cpu}")
  "$PY" "$pkg/main.py" --config "$pkg/configs/tiny.yaml" "${common[@]}" result_path="$root/run_kd" \
    kd.type=both kd.alpha=0.3 teacher.weights="$root/teacher.pth"
  "$PY" "$pkg/main.py" --config "$pkg/configs/tiny.yaml" "${common[@]}" result_path="$root/run_nokd" kd.type=none
  local tag
  for tag in kd nokd; do
    "$PY" -c "import json; a = json.load(open('$root/run_$tag/val_accuracy.json')); print('[kd2d3d] $tag: video top-1 %.3f  top-5 %.3f  clip top-1 %.3f (chance 0.333)' % (a['video_top1'], a['video_top5'], a['clip_top1']))"
  done
  log "kd2d3d run folders (opts.json, logs, save_N.pth, val.json, TensorBoard): $root/run_kd, $root/run_nokd"
}
