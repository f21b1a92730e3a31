#!/usr/bin/env bash
# KICLIP base-to-novel training on Kinetics-400 (split s3), with the original script's overrides.
# Usage: bash train_b2n_k400.sh [DATA_ROOT] [--device cpu] [--cfg extra.yaml] [--opts KEY VALUE ...]
#   DATA_ROOT (default $VIDEOKD_DATA or <repo>/data) holds zs_label_db/B2N_k400/{train_s3.csv,train_rephrased.json,...}
#   and the videos under k400/. CLIP weights: $KICLIP_CLIP (default ~/.cache/clip/ViT-B-16.pt).
#   Run folder: $KICLIP_OUTPUT (default <repo>/basetraining)/B2N_k400_KICLIP (checkpoints/, metrics.jsonl, TensorBoard).
#   NPROC=N (or auto) trains with N processes (torchrun); TRAIN.BATCH_SIZE stays the global batch.
source "$(dirname "${BASH_SOURCE[0]}")/_run.sh"
LISTS="$DATA/zs_label_db/B2N_k400"
kiclip_require kiclip_k400 "$LISTS/train_s3.csv" "$LISTS/train_rephrased.json" "$DATA/k400"
kiclip_require_clip
kiclip_launch kiclip.train_b2n --cfg "$KICLIP_DIR/configs/Kinetics/KICLIP_vitb16_8x16_STAdapter_K400.yaml" --opts \
  "${TRAIN_COMMON[@]}" DATA.PATH_TO_DATA_DIR "$LISTS" DATA.PATH_PREFIX "$DATA/k400" TRAIN_FILE train_s3.csv \
  VAL_FILE val_new.csv TEST_FILE test_1.csv DATA.INDEX_LABEL_MAPPING_FILE "$LISTS/train_rephrased.json" \
  MODEL.NUM_CLASSES 200 SOLVER.MAX_EPOCH 12 NUM_GPUS 1 TRAIN.EVAL_PERIOD 1 OUTPUT_DIR "$OUT/B2N_k400_KICLIP" "${EXTRA[@]}"
