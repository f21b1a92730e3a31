#!/usr/bin/env bash
# KICLIP base-to-novel training on UCF101 (split 1), with the original script's overrides.
# Usage: bash train_b2n_ucf101.sh [DATA_ROOT] [--device cpu] [--cfg extra.yaml] [--opts KEY VALUE ...]
#   DATA_ROOT (default $VIDEOKD_DATA or <repo>/data) holds zs_label_db/B2N_ucf101/{train_s1.csv,train_rephrased.json,...}
#   and the videos flat under ucf101/ (v_*.avi). CLIP weights: $KICLIP_CLIP (default ~/.cache/clip/ViT-B-16.pt).
#   Run folder: $KICLIP_OUTPUT (default <repo>/basetraining)/B2N_ucf101_KICLIP. NPROC=N: N processes (torchrun).
source "$(dirname "${BASH_SOURCE[0]}")/_run.sh"
LISTS="$DATA/zs_label_db/B2N_ucf101"
kiclip_require kiclip_ucf101 "$LISTS/train_s1.csv" "$LISTS/train_rephrased.json" "$DATA/ucf101"
kiclip_require_clip
kiclip_launch kiclip.train_b2n --cfg "$KICLIP_DIR/configs/Kinetics/KICLIP_vitb16_8x16_STAdapter_UCF101.yaml" --opts \
  "${TRAIN_COMMON[@]}" DATA.PATH_TO_DATA_DIR "$LISTS" DATA.PATH_PREFIX "$DATA/ucf101" TRAIN_FILE train_s1.csv \
  VAL_FILE val_1.csv TEST_FILE test_raw.csv DATA.INDEX_LABEL_MAPPING_FILE "$LISTS/train_rephrased.json" \
  MODEL.NUM_CLASSES 51 SOLVER.MAX_EPOCH 12 NUM_GPUS 1 TRAIN.EVAL_PERIOD 1 OUTPUT_DIR "$OUT/B2N_ucf101_KICLIP" "${EXTRA[@]}"
