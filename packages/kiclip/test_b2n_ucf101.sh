#!/usr/bin/env bash
# KICLIP base-to-novel test on UCF101: base (base classes) and novel (novel classes) accuracy and their harmonic mean.
# Usage: bash test_b2n_ucf101.sh [DATA_ROOT] [--device cpu] [--opts KEY VALUE ...]
#   Weights: $CKPT (default <run>/wa_checkpoints/swa_2_22.pth from weight_average_tool.py), run folder
#   $KICLIP_OUTPUT (default <repo>/basetraining)/B2N_ucf101_KICLIP, the one the training script writes.
#   Prints one table (base, novel, HM) and writes <run>/b2n_results.json. NPROC=N tests with N processes.
source "$(dirname "${BASH_SOURCE[0]}")/_run.sh"
LISTS="$DATA/zs_label_db/B2N_ucf101"
RUN="$OUT/B2N_ucf101_KICLIP"
CKPT="${CKPT:-$RUN/wa_checkpoints/swa_2_22.pth}"
kiclip_require kiclip_ucf101 "$LISTS/val_1.csv" "$LISTS/test_raw.csv" "$LISTS/train_rephrased.json" "$LISTS/test_rephrased.json"
kiclip_require_clip
if [ ! -f "$CKPT" ]; then
  echo "[kiclip] weights not found: $CKPT" >&2
  echo "         train first (train_b2n_ucf101.sh), then: $KICLIP_PYTHON $KICLIP_DIR/weight_average_tool.py $RUN/checkpoints --start 2 --end 22" >&2
  echo "         (or set CKPT=/path/to/checkpoint)" >&2
  exit 2
fi
kiclip_launch kiclip.test_b2n --opts "${TEST_COMMON[@]}" DATA.PATH_TO_DATA_DIR "$LISTS" DATA.PATH_PREFIX "$DATA/ucf101" \
  TEST.BASE_FILE val_1.csv TEST.BASE_LABEL_FILE "$LISTS/train_rephrased.json" TEST.NOVEL_FILE test_raw.csv \
  TEST.NOVEL_LABEL_FILE "$LISTS/test_rephrased.json" TEST.CUSTOM_LOAD_FILE "$CKPT" TEST.SAVE_RESULTS_PATH temp.pyth \
  OUTPUT_DIR "$RUN" "${EXTRA[@]}"
