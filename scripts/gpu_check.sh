#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one run of a few minutes: the tests marked `cuda` (skipped
# everywhere else), the demo stages on the GPU, and the GPU rows of the benchmarks. Each stage writes
# its log and JSON into the output folder, and a summary (gpu_check.json) lists every stage's exit
# code and time. Exit code 0 when every stage passed, 1 otherwise, 2 when there is no usable GPU.
#
# Usage: bash scripts/gpu_check.sh [--wheels DIR] [--out DIR] [STAGE ...]
#   stages: tests demo bench, then every scripts/gpu_stages/<pkg>.sh (function gpu_stage_<pkg>);
#           default: all of them, in that order.
#   --wheels DIR  install the Python packages the GPU machine lacks from wheel files in DIR
#                 (no network needed; `bash scripts/gpu_wheels.sh DIR` downloads them on a machine
#                 that has pip access), into a private folder put on PYTHONPATH.
#   --out DIR     where logs and JSON go (default: runs/gpu_check, or $OUT when it is set).
# The repository's own code is used from source (core/src, packages/*/src): nothing is installed
# into the machine's Python, which only needs torch with CUDA.
# GPU_CHECK_DEVICE=cpu runs the same flow on the CPU with small sizes (a dry run of this script).
set -uo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
WHEELS=""
OUT_DIR="${OUT:-$REPO_ROOT/runs/gpu_check}"
STAGES=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
    --wheels) WHEELS="${2:?--wheels needs a folder}"; shift 2 ;;
    --out) OUT_DIR="${2:?--out needs a folder}"; shift 2 ;;
    -*) echo "gpu_check: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) STAGES+=("$1"); shift ;;
  esac
done
case "$PY" in */*) PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")" ;; esac
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
log() { printf '[gpu_check] %s\n' "$*" >&2; }

DEVICE="${GPU_CHECK_DEVICE:-cuda}"
if [ "$DEVICE" = cuda ] && ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  echo "gpu_check: $PY has no torch with a usable CUDA GPU; run this on a GPU machine (set PYTHON=...)" >&2
  exit 2
fi

if [ -n "$WHEELS" ]; then
  [ -d "$WHEELS" ] || { echo "gpu_check: --wheels $WHEELS is not a folder" >&2; exit 2; }
  SITE="${TMPDIR:-/tmp}/videokd-gpu-site"
  log "installing $(ls "$WHEELS"/*.whl 2>/dev/null | wc -l) wheels from $WHEELS into $SITE"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$WHEELS"/*.whl \
    || { echo "gpu_check: installing the wheels from $WHEELS failed" >&2; exit 2; }
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
SRC="$REPO_ROOT/core/src"
for p in "$REPO_ROOT"/packages/*/src; do SRC="$SRC:$p"; done
export PYTHONPATH="$SRC${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1

missing=$("$PY" - <<'EOF'
import importlib.util
need = ["av", "ftfy", "regex", "easydict", "h5py", "yaml", "tqdm", "tensorboard", "PIL", "numpy", "pytest"]
print(" ".join(m for m in need if importlib.util.find_spec(m) is None))
EOF
) || { echo "gpu_check: $PY could not check the modules it needs" >&2; exit 2; }
if [ -n "$missing" ]; then
  echo "gpu_check: missing Python modules: $missing (carry their wheels: bash scripts/gpu_wheels.sh DIR, then --wheels DIR)" >&2
  exit 2
fi
"$PY" - >"$OUT_DIR/environment.json" <<'EOF'
import json, platform, torch
gpu = torch.cuda.is_available()
print(json.dumps({"gpu": torch.cuda.get_device_name(0) if gpu else None, "torch": torch.__version__,
                  "cuda": torch.version.cuda, "bf16": gpu and torch.cuda.is_bf16_supported(),
                  "python": platform.python_version()}, indent=2))
EOF
log "$(tr -d '\n' <"$OUT_DIR/environment.json")"

gpu_stage_tests() {
  # every test file that has cuda-marked tests, per distribution (its own conftest)
  local dir files rc=0
  for dir in "$REPO_ROOT/core" "$REPO_ROOT"/packages/*; do
    [ -d "$dir/tests" ] || continue
    files=$(grep -l "pytest.mark.cuda" "$dir"/tests/test_*.py 2>/dev/null || true)
    [ -n "$files" ] || continue
    (cd "$dir" && "$PY" -m pytest -q -m cuda -p no:cacheprovider $files) || rc=1
  done
  return $rc
}

gpu_stage_demo() {
  # the demo stages on the GPU (DEMO_DEVICE=cuda), with the GPU machine's Python
  local OUT="$OUT_DIR/demo" rc=0 f s
  mkdir -p "$OUT"
  export DEMO_DEVICE="$DEVICE"
  log() { printf '[demo] %s\n' "$*" >&2; }
  for s in core dldkd; do
    f="$REPO_ROOT/scripts/demo_stages/$s.sh"
    [ -f "$f" ] || continue
    # shellcheck source=/dev/null
    source "$f"
    # not `( ... ) || rc=1`: bash ignores set -e inside a subshell on the left of ||
    local st=0
    set +e
    ( set -e; "stage_$s" )
    st=$?
    [ "$st" -eq 0 ] || rc=1
  done
  return $rc
}

# benchmarks/run.py with this run's device: on CUDA the full-size bf16 rows (MFU, peak memory);
# in the CPU dry run (GPU_CHECK_DEVICE=cpu) the --quick sizes. Every stage writes its JSON, run.json
# and logs into $OUT_DIR/bench/<stage>/ and rewrites $OUT_DIR/bench/RESULTS.md from all of them.
bench_run() {
  local stage="$1"; shift
  local size=(--quick)
  [ "$DEVICE" = cuda ] && size=()
  "$PY" "$REPO_ROOT/benchmarks/run.py" --device "$DEVICE" "${size[@]}" --results "$OUT_DIR/bench/$stage" \
    --report-root "$OUT_DIR/bench" --report "$OUT_DIR/bench/RESULTS.md" --only "$@"
}

gpu_stage_bench() {
  # the CLIP image tower (bf16 MFU) and DL-DKD: full evaluation at TVR / ActivityNet size, training step fp32 + bf16
  bench_run bench clip_encoder dldkd_eval
}

known=(tests demo bench)
for f in "$REPO_ROOT"/scripts/gpu_stages/*.sh; do
  [ -f "$f" ] || continue
  # shellcheck source=/dev/null
  source "$f"
  known+=("$(basename "$f" .sh)")
done
[ ${#STAGES[@]} -gt 0 ] || STAGES=("${known[@]}")
for s in "${STAGES[@]}"; do
  declare -F "gpu_stage_$s" >/dev/null || { echo "gpu_check: unknown stage '$s' (known: ${known[*]})" >&2; exit 2; }
done

summary="$OUT_DIR/gpu_check.json"
echo "{" >"$summary"
failed=0
first=1
for s in "${STAGES[@]}"; do
  start=$(date +%s)
  log "stage $s (log: $OUT_DIR/$s.log)"
  ( "gpu_stage_$s" ) >"$OUT_DIR/$s.log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  [ $rc -eq 0 ] || failed=1
  log "stage $s: rc $rc in $secs s"
  [ $rc -eq 0 ] || tail -n 30 "$OUT_DIR/$s.log" >&2
  [ $first -eq 1 ] || echo "," >>"$summary"
  first=0
  printf '  "%s": {"rc": %d, "seconds": %d, "log": "%s.log"}' "$s" "$rc" "$secs" "$s" >>"$summary"
done
printf '\n}\n' >>"$summary"
log "summary: $summary"
exit $failed
