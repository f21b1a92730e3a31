#!/usr/bin/env bash
# KICLIP cross-dataset training on the full Kinetics-400 (400 classes, 22 epochs), the original overrides.
# Usage: bash train_cd_k400.sh [DATA_ROOT] [--device cpu] [--cfg extra.yaml] [--opts KEY VALUE ...]
#   DATA_ROOT (default $VIDEOKD_DATA or <repo>/data) holds label_db/weng_compress_full_splits/train.csv,
#   label_rephrase/k400_rephrased_classes.json and the videos under k400/. CLIP: $KICLIP_CLIP.
#   Run folder: $KICLIP_OUTPUT (default <repo>/basetraining)/kiclip. NPROC=2 runs the original's 2 GPUs (torchrun;
#   upstream's NUM_GPUS 2 path crashed). Zero-shot tests on UCF/HMDB/K600 use test_b2n.py with their lists.
source "$(dirname "${BASH_SOURCE[0]}")/_run.sh"
LISTS="$DATA/label_db/weng_compress_full_splits"
LABELS="$DATA/label_rephrase/k400_rephrased_classes.json"
kiclip_require kiclip_cd_k400 "$LISTS/train.csv" "$LABELS" "$DATA/k400"
kiclip_require_clip
kiclip_launch kiclip.train_b2n --cfg "$KICLIP_DIR/configs/Kinetics/KICLIP_vitb16_8x16_STAdapter_K400.yaml" --opts \
  "${TRAIN_COMMON[@]}" DATA.PATH_TO_DATA_DIR "$LISTS" DATA.PATH_PREFIX "$DATA/k400" TRAIN_FILE train.csv \
  VAL_FILE val.csv TEST_FILE test.csv DATA.INDEX_LABEL_MAPPING_FILE "$LABELS" \
  MODEL.NUM_CLASSES 400 SOLVER.MAX_EPOCH 22 NUM_GPUS 2 TRAIN.EVAL_PERIOD 22 OUTPUT_DIR "$OUT/kiclip" "${EXTRA[@]}"
