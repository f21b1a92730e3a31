#!/usr/bin/env bash
# The main job on built-in tiny data: sets up .venv if missing, then runs each package's demo stage (its
# original entry scripts with a tiny config on synthetic data, on the GPU when there is one, else the CPU)
# and ends with one table: package, entry scripts, what ran, the paper's metric, chance, wall time.
# Usage: bash scripts/demo.sh [STAGE ...]      (default: every stage in scripts/demo_stages/, core first)
#        bash scripts/demo.sh dldkd kiclip      a subset
#        DEMO_DEVICE=cpu bash scripts/demo.sh   force the CPU (cuda: the GPU)
# Each stage lives in scripts/demo_stages/<name>.sh and defines a bash function stage_<name>. Its output
# goes to the terminal and to OUT/logs/<name>.log; a failing stage is reported with its name and log and
# the other stages still run. Exit code: 0 when every stage passed, 1 when one failed, 2 for a bad stage.
# Outputs (OUT = ${VIDEOKD_DEMO_DIR:-runs/demo}): OUT/<stage>/ (run folders, summary.json, plots/*.png),
# OUT/summary.md and OUT/summary.json (the table). Redraw a run's curves: videokd plot RUN_DIR.
# DEMO_PYTHON=/path/python skips the .venv setup and uses that Python (which must have the packages).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
if [ -n "${DEMO_PYTHON:-}" ]; then
  PY="$DEMO_PYTHON"
else
  ensure_venv
  PY="$VENV/bin/python"
  export PATH="$VENV/bin:$PATH"
fi
OUT="${VIDEOKD_DEMO_DIR:-$REPO_ROOT/runs/demo}"
STAGE_DIR="${DEMO_STAGES_DIR:-$REPO_ROOT/scripts/demo_stages}"
mkdir -p "$OUT/logs"
OUT="$(cd "$OUT" && pwd)"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg

ORDER=(core dldkd kiclip tdsclip kd2d3d xkd)
known=()
for name in "${ORDER[@]}"; do
  [ -f "$STAGE_DIR/$name.sh" ] && known+=("$name")
done
for f in "$STAGE_DIR"/*.sh; do
  [ -f "$f" ] || continue
  name="$(basename "$f" .sh)"
  # shellcheck source=/dev/null
  source "$f"
  case " ${known[*]} " in *" $name "*) ;; *) known+=("$name") ;; esac
done

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=("${known[@]}")
for s in "${stages[@]}"; do
  if ! declare -F "stage_$s" >/dev/null; then
    printf '[videokd] error: unknown stage %s (known: %s)\n' "'$s'" "${known[*]}" >&2
    exit 2
  fi
done

if [ -z "${DEMO_DEVICE:-}" ]; then
  DEMO_DEVICE=$("$PY" -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')" 2>/dev/null || echo cpu)
fi
export DEMO_DEVICE
log "demo: stages ${stages[*]} on $DEMO_DEVICE; outputs in $OUT"

results=()
failed=()
demo_start=$(date +%s)
for s in "${stages[@]}"; do
  logf="$OUT/logs/$s.log"
  rm -f "$OUT/$s/summary.json"
  start=$(date +%s)
  # a subshell per stage: `set -e` stops the stage at its first failing command, not the demo; then
  # the stage's summary (metrics read from the files its scripts wrote) and plots, unless it wrote its own
  set +e
  (
    set -e
    "stage_$s"
    [ -f "$OUT/$s/summary.json" ] || "$PY" "$REPO_ROOT/scripts/demo_report.py" stage "$s" --out "$OUT/$s"
  ) 2>&1 | tee "$logf"
  rc=${PIPESTATUS[0]}
  set -e
  secs=$(( $(date +%s) - start ))
  if [ "$rc" -eq 0 ]; then
    log "stage $s passed in $secs s (log: $logf)"
  else
    log "stage $s FAILED (exit $rc) after $secs s; its log: $logf"
    failed+=("$s")
  fi
  results+=(--result "$s:$rc:$secs:$logf")
done

echo
table_rc=0
"$PY" "$REPO_ROOT/scripts/demo_report.py" table "$OUT" "${results[@]}" || table_rc=$?
log "demo finished in $(( $(date +%s) - demo_start )) s; outputs in $OUT (table: $OUT/summary.md)"
if [ ${#failed[@]} -gt 0 ]; then
  for s in "${failed[@]}"; do log "FAILED stage $s: see $OUT/logs/$s.log"; done
  exit 1
fi
[ "$table_rc" -eq 0 ] || { log "the summary table could not be built (see above)"; exit 1; }
log "all ${#stages[@]} stages passed"
