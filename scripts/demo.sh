#!/usr/bin/env bash
# The main job on built-in tiny data, on the CPU (or a GPU if present): creates .venv if missing, then
# runs each package's demo stage. Outputs go to ${VIDEOKD_DEMO_DIR:-runs/demo}.
# Usage: bash scripts/demo.sh [STAGE ...]      (default: every stage in scripts/demo_stages/, core first)
#        DEMO_DEVICE=cuda bash scripts/demo.sh dldkd     one stage, on the GPU
# Each stage lives in scripts/demo_stages/<name>.sh and defines a bash function stage_<name>.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
ensure_venv
PY="$VENV/bin/python"
OUT="${VIDEOKD_DEMO_DIR:-$REPO_ROOT/runs/demo}"
mkdir -p "$OUT"
export PATH="$VENV/bin:$PATH"

ORDER=(core dldkd kiclip tdsclip kd2d3d xkd)
known=()
for name in "${ORDER[@]}"; do
  [ -f "$REPO_ROOT/scripts/demo_stages/$name.sh" ] && known+=("$name")
done
for f in "$REPO_ROOT"/scripts/demo_stages/*.sh; do
  name="$(basename "$f" .sh)"
  # shellcheck source=/dev/null
  source "$f"
  case " ${known[*]} " in *" $name "*) ;; *) known+=("$name") ;; esac
done

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=("${known[@]}")
for s in "${stages[@]}"; do
  declare -F "stage_$s" >/dev/null || die "unknown stage '$s' (known: ${known[*]})"
done
for s in "${stages[@]}"; do
  start=$(date +%s)
  "stage_$s"
  log "stage $s done in $(( $(date +%s) - start )) s"
done
log "demo finished; outputs in $OUT"
