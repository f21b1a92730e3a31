#!/usr/bin/env bash
# KICLIP base-to-novel training on HMDB51 (split 1), with the original script's overrides (alias: train_b2n_hmdb.sh).
# Usage: bash train_b2n_hmdb51.sh [DATA_ROOT] [--device cpu] [--cfg extra.yaml] [--opts KEY VALUE ...]
#   DATA_ROOT (default $VIDEOKD_DATA or <repo>/data) holds zs_label_db/B2N_hmdb/{train.csv,train_rephrased.json,...}
#   and the videos under hmdb51/videos/<class>/. CLIP weights: $KICLIP_CLIP (default ~/.cache/clip/ViT-B-16.pt).
#   Run folder: $KICLIP_OUTPUT (default <repo>/basetraining)/B2N_hmdb51_KICLIP. NPROC=N: N processes (torchrun).
source "$(dirname "${BASH_SOURCE[0]}")/_run.sh"
LISTS="$DATA/zs_label_db/B2N_hmdb"
kiclip_require kiclip_hmdb51 "$LISTS/train.csv" "$LISTS/train_rephrased.json" "$DATA/hmdb51/videos"
kiclip_require_clip
kiclip_launch kiclip.train_b2n --cfg "$KICLIP_DIR/configs/Kinetics/KICLIP_vitb16_8x16_STAdapter_HMDB51.yaml" --opts \
  "${TRAIN_COMMON[@]}" DATA.PATH_TO_DATA_DIR "$LISTS" DATA.PATH_PREFIX "$DATA/hmdb51/videos" TRAIN_FILE train.csv \
  VAL_FILE val.csv TEST_FILE test.csv DATA.INDEX_LABEL_MAPPING_FILE "$LISTS/train_rephrased.json" \
  MODEL.NUM_CLASSES 26 SOLVER.MAX_EPOCH 12 NUM_GPUS 1 TRAIN.EVAL_PERIOD 1 OUTPUT_DIR "$OUT/B2N_hmdb51_KICLIP" "${EXTRA[@]}"
