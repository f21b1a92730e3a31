#!/usr/bin/env bash
# Evaluate a trained model on the test split: prints R@1/5/10/100/SumR, writes the metrics JSON and
# the per-query ranks next to the checkpoint.
# Usage: ./do_test.sh DATASET FEATURE ROOTPATH MODELDIR [extra flags, e.g. --device cpu]
#   DATASET: tvr | activitynet | charades;  FEATURE: i3d_resnet (tvr), i3d, i3d_rgb_lgi (charades)
#   MODELDIR: a run dir (name under ROOTPATH/DATASET/results/, or a path) holding opt.json + model.ckpt,
#             or a released checkpoint: a folder holding model.ckpt, or the model.ckpt file itself.
source "$(dirname "${BASH_SOURCE[0]}")/_run.sh"
if [ $# -lt 4 ]; then
  echo "usage: $0 DATASET FEATURE ROOTPATH MODELDIR   (e.g. $0 tvr i3d_resnet \$ROOTPATH tvr-double_kl_...; --help)" >&2
  exit 2
fi
DATASET="$1"; FEATURE="$2"; ROOTPATH="$3"; MODELDIR="$4"; shift 4
dldkd_require_data "$ROOTPATH" "$DATASET" "$FEATURE" test
dldkd_launch dldkd.test --collection "$DATASET" --visual_feature "$FEATURE" --root_path "$ROOTPATH" \
  --dset_name "$DATASET" --model_dir "$MODELDIR" "$@"
