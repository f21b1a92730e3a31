#!/usr/bin/env bash
# Shared by do_*.sh (not meant to be run directly): environment, data checks, launcher.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh" >/dev/null
[ -n "$DLDKD_PYTHON" ] || { echo "[dldkd] error: no usable Python; run 'bash $REPO_ROOT/scripts/setup.sh'" >&2; exit 2; }

# dldkd_require_data ROOT COLLECTION FEATURE PHASE: a clear message instead of a traceback
dldkd_require_data() {
  local root="$1" coll="$2" feat="$3" phase="$4" missing=()
  local base="$root/$coll"
  local files=("$base/FeatureData/$feat/feature.bin" "$base/FeatureData/$feat/shape.txt" "$base/FeatureData/$feat/id.txt"
               "$base/FeatureData/$feat/video2frames.txt" "$base/TextData/roberta_${coll}_query_feat.hdf5")
  if [ "$phase" = train ]; then
    files+=("$base/TextData/${coll}train.caption.txt" "$base/TextData/${coll}val.caption.txt"
            "$base/TextData/clip_ViT_B_32_${coll}_query_feat.hdf5" "$base/FeatureData/new_clip_vit_32_${coll}_vid_features.hdf5")
  else
    files+=("$base/TextData/${coll}test.caption.txt")
  fi
  for f in "${files[@]}"; do [ -e "$f" ] || missing+=("$f"); done
  if [ ${#missing[@]} -gt 0 ]; then
    {
      echo "[dldkd] the $coll data is not under $root. Missing:"
      printf '          %s\n' "${missing[@]}"
      echo "[dldkd] get the MS-SL feature bundle (<collection>.zip) and the DL-DKD CLIP teacher features"
      echo "        (see $DIR_PWD/README.md), unzip them into ROOTPATH, or make a synthetic stand-in:"
      local fmt="$coll"
      case "$coll" in activitynet|charades) fmt="$coll-prvr" ;; esac
      echo "          $DLDKD_PYTHON $REPO_ROOT/datasets/make_synthetic.py $fmt ${root}"
    } >&2
    exit 2
  fi
}

# dldkd_launch MODULE ARGS...: one process, or torchrun with NPROC processes (DDP over the visible GPUs)
dldkd_launch() {
  local module="$1"; shift
  local nproc="${NPROC:-1}"
  if [ "$nproc" = auto ]; then
    nproc="$("$DLDKD_PYTHON" -c 'import torch; print(max(torch.cuda.device_count(), 1))')"
  fi
  if [ "$nproc" -gt 1 ]; then
    exec "$DLDKD_PYTHON" -m torch.distributed.run --standalone --nproc_per_node="$nproc" -m "$module" "$@"
  fi
  exec "$DLDKD_PYTHON" -m "$module" "$@"
}
