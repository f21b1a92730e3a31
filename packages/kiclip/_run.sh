#!/usr/bin/env bash
# Shared by the KICLIP entry scripts (not meant to be run directly): help, paths, data checks, launcher.
set -euo pipefail
KICLIP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$KICLIP_DIR/../.." && pwd)"
KICLIP_SCRIPT="${BASH_SOURCE[1]:-$0}"

# --help / -h anywhere: the calling script's header comment, exit 0
for _a in "$@"; do
  if [ "$_a" = "--help" ] || [ "$_a" = "-h" ]; then
    sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$KICLIP_SCRIPT"
    exit 0
  fi
done

# the Python: the active one when it can import kiclip, else the repository's .venv (python3 when there is no python)
if [ -z "${KICLIP_PYTHON:-}" ]; then
  for _p in python python3; do
    if command -v "$_p" >/dev/null 2>&1 && "$_p" -c "import kiclip, videokd, torch" >/dev/null 2>&1; then
      KICLIP_PYTHON="$(command -v "$_p")"; break
    fi
  done
fi
if [ -z "${KICLIP_PYTHON:-}" ] && [ -x "$REPO_ROOT/.venv/bin/python" ]; then KICLIP_PYTHON="$REPO_ROOT/.venv/bin/python"; fi
if [ -z "${KICLIP_PYTHON:-}" ]; then
  echo "[kiclip] error: no Python that imports kiclip + torch; run 'bash $REPO_ROOT/scripts/setup.sh' first" >&2
  exit 2
fi
export PYTHONPATH="$KICLIP_DIR/src:$REPO_ROOT/core/src${PYTHONPATH:+:$PYTHONPATH}"

# DATA: first argument when it does not start with '-', else $VIDEOKD_DATA, else <repo>/data; EXTRA: the rest
DATA="${VIDEOKD_DATA:-$REPO_ROOT/data}"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then DATA="$1"; shift; fi
EXTRA=("$@")
CLIP="${KICLIP_CLIP:-$HOME/.cache/clip/ViT-B-16.pt}"
OUT="${KICLIP_OUTPUT:-$REPO_ROOT/basetraining}"

# the overrides every original training script passes
TRAIN_COMMON=(TRAIN.ENABLE True TRAIN.BATCH_SIZE 4 TEST.BATCH_SIZE 4 TEST.NUM_ENSEMBLE_VIEWS 3 TEST.NUM_SPATIAL_CROPS 1
  SOLVER.WARMUP_EPOCHS 2.0 SOLVER.BASE_LR 3.33e-6 SOLVER.WARMUP_START_LR 3.33e-8 SOLVER.COSINE_END_LR 3.33e-8
  TRAIN.MIXED_PRECISION True DATA.DECODING_BACKEND pyav DATA.PATH_LABEL_SEPARATOR , MIXUP.ENABLE False AUG.ENABLE False
  AUG.NUM_SAMPLE 1 TRAIN.CHECKPOINT_PERIOD 1 MODEL.LOSS_FUNC soft_cross_entropy TRAIN.LINEAR_CONNECT_CLIMB False
  TRAIN.LINEAR_CONNECT_LOSS_RATIO 0.0 MODEL.RAW_MODEL_DISTILLATION True MODEL.KEEP_RAW_MODEL True
  MODEL.DISTILLATION_RATIO 2.0 MODEL.CLIP_PATH "$CLIP")
# ... and every original test script
TEST_COMMON=(TRAIN.ENABLE False TEST.BATCH_SIZE 4 NUM_GPUS 1 DATA.DECODING_BACKEND pyav TEST.CUSTOM_LOAD True
  TEST.NUM_ENSEMBLE_VIEWS 3 TEST.NUM_SPATIAL_CROPS 1 TEST.PATCHING_MODEL False DATA_LOADER.NUM_WORKERS 4
  DATA.PATH_LABEL_SEPARATOR , MODEL.CLIP_PATH "$CLIP")

# kiclip_require FORMAT FILE...: a clear message (what is missing, where to get it, a synthetic stand-in), exit 2
kiclip_require() {
  local fmt="$1"; shift
  local missing=() f
  for f in "$@"; do
    [ -e "$f" ] && continue
    # descriptions missing but the bare class names there: the model runs on plain class names
    case "$f" in
      *_rephrased.json)
        local raw
        raw="$(dirname "$f")/raw_$(basename "$f" | sed 's/_rephrased.json$//')_idx2cls.json"
        if [ -e "$raw" ]; then
          echo "[kiclip] note: no class descriptions $f; the model uses the plain class names of $raw" >&2
          continue
        fi ;;
    esac
    missing+=("$f")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    {
      echo "[kiclip] missing input under the data root $DATA:"
      printf '          %s\n' "${missing[@]}"
      echo "[kiclip] get the videos and the split/description files (see $KICLIP_DIR/README.md, 'Data'),"
      echo "         pass the data root as the first argument or VIDEOKD_DATA, or make a synthetic stand-in:"
      echo "           $KICLIP_PYTHON -c \"from videokd.data.synthetic.kiclip_b2n import FORMATS; FORMATS['$fmt']('$DATA')\""
    } >&2
    exit 2
  fi
}

# kiclip_require_clip: the OpenAI CLIP file
kiclip_require_clip() {
  if [ ! -f "$CLIP" ]; then
    echo "[kiclip] CLIP weights not found: $CLIP" >&2
    echo "         put OpenAI's ViT-B-16.pt there (openai/CLIP release) or set KICLIP_CLIP=/path/to/ViT-B-16.pt" >&2
    exit 2
  fi
}

# kiclip_launch MODULE ARGS...: one process, or torchrun with NPROC processes (NPROC=auto: one per GPU)
kiclip_launch() {
  local module="$1"; shift
  local nproc="${NPROC:-1}"
  if [ "$nproc" = auto ]; then
    nproc="$("$KICLIP_PYTHON" -c 'import torch; print(max(torch.cuda.device_count(), 1))')"
  fi
  if [ "$nproc" -gt 1 ]; then
    exec "$KICLIP_PYTHON" -m torch.distributed.run --standalone --nproc_per_node="$nproc" -m "$module" "$@"
  fi
  exec "$KICLIP_PYTHON" -m "$module" "$@"
}
