# Sourced by the scripts in this folder. Locates the repository, picks a Python, and tells uv about
# a machine-local wheel mirror when pip is configured with one (as on the project's build machines).
# Elsewhere nothing is set and uv installs from PyPI as usual.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
PYTHON_BASE="${PYTHON:-python3}"
TOOLS_VENV="$REPO_ROOT/.venv-tools"   # small venv holding uv, tox and tox-uv
VENV="${VENV:-$REPO_ROOT/.venv}"      # the project venv (core + all packages, editable)

log() { printf '[videokd] %s\n' "$*" >&2; }
die() { printf '[videokd] error: %s\n' "$*" >&2; exit 1; }

# pip's configuration (global.extra-index-url / find-links / constraint) -> uv's environment.
# uv does not read pip's config; without this it would download CUDA torch wheels (~3 GB) that
# already lie on disk. The constraint file caps torch at the build on disk.
configure_local_index() {
  [ -n "${UV_EXTRA_INDEX_URL:-}${UV_FIND_LINKS:-}" ] && return 0
  command -v "$PYTHON_BASE" >/dev/null 2>&1 || return 0
  local extra links cons listing
  # `pip config list` prints every file's and the environment's settings as key='value' lines
  # (`pip config get` misses some of them)
  listing=$("$PYTHON_BASE" -m pip config list 2>/dev/null || true)
  pip_setting() { printf '%s\n' "$listing" | sed -n "s/^[^=]*\.$1='\(.*\)'\$/\1/p" | head -n 1; }
  extra=$(pip_setting extra-index-url)
  links=$(pip_setting find-links)
  cons=$(pip_setting constraint)
  if [ -n "$extra" ]; then
    # uv takes each version from the FIRST index that has it (pip merges them all). Here the
    # later-listed mirror holds the platform wheels (e.g. soundfile with its bundled libsndfile)
    # while the first holds pure-Python fallbacks of the same versions, so hand them to uv in
    # reverse order.
    export UV_EXTRA_INDEX_URL="$(echo "$extra" | tr ' ' '\n' | sed '/^$/d' | tac | tr '\n' ' ')"
    export UV_INDEX_STRATEGY=unsafe-best-match
  fi
  if [ -n "$links" ] && [ -d "$links" ]; then export UV_FIND_LINKS="$links"; fi
  if [ -n "$cons" ] && [ -f "$cons" ]; then export UV_CONSTRAINT="$cons"; fi
  if [ -n "$extra$links" ]; then log "using the machine's local wheel folder(s) for uv: $extra $links"; fi
}

# .venv-tools with uv + tox + tox-uv (a few MB); reused when present.
ensure_tools() {
  if [ ! -x "$TOOLS_VENV/bin/tox" ] || [ ! -x "$TOOLS_VENV/bin/uv" ]; then
    command -v "$PYTHON_BASE" >/dev/null 2>&1 || die "no $PYTHON_BASE on PATH (set PYTHON=/path/to/python3.9+)"
    log "creating $TOOLS_VENV (uv, tox, tox-uv)"
    "$PYTHON_BASE" -m venv "$TOOLS_VENV" || die "python -m venv failed (Debian: apt-get install python3-venv)"
    "$TOOLS_VENV/bin/python" -m pip install -q --disable-pip-version-check "tox>=4.10" "tox-uv>=1.0" "uv>=0.4" \
      || die "could not install tox/tox-uv/uv into $TOOLS_VENV"
  fi
  export PATH="$TOOLS_VENV/bin:$PATH"
}

# The project venv with core + every package (editable) and their test extras.
ensure_venv() {
  ensure_tools
  configure_local_index
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    uv venv -q --seed --python "$(command -v "$PYTHON_BASE")" "$VENV" || die "uv venv failed"
  fi
  if ! "$VENV/bin/python" -c "import videokd, kiclip, kd2d3d, dldkd, tdsclip, xkd, matplotlib" >/dev/null 2>&1 || [ "${VIDEOKD_REINSTALL:-0}" = 1 ]; then
    log "installing core + the five packages into $VENV (torch comes from the local wheel folder when there is one)"
    (cd "$REPO_ROOT" && uv pip install -q --python "$VENV/bin/python" \
      -e "core[test,svm,plots]" -e "packages/kiclip[test]" -e "packages/kd2d3d[test]" -e "packages/dldkd[test]" \
      -e "packages/tdsclip[test]" -e "packages/xkd[test]") || die "installing the packages failed"
  fi
}
