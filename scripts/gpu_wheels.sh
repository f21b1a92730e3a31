#!/usr/bin/env bash
# Downloads, on a machine with pip access, the wheels that a GPU machine without network needs for
# scripts/gpu_check.sh: the project's dependencies that are not in a plain PyTorch image (PyAV, ftfy,
# easydict, soundfile, ...), for CPython 3.12 on x86-64 Linux. Then: gpu_check.sh --wheels DIR.
# Usage: bash scripts/gpu_wheels.sh DIR [PYTHON_VERSION]     (default 3.12)
set -euo pipefail
case "${1:-}" in ""|-h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; [ -n "${1:-}" ]; exit $? ;; esac
DIR="$1"; PYV="${2:-3.12}"
mkdir -p "$DIR"
# name==version pins keep the folder to one version of each (two versions stop the install)
PKGS=(av ftfy wcwidth easydict soundfile cffi pycparser einops iopath yacs portalocker tabulate termcolor
      fvcore pytorchvideo parameterized scikit-video)
PLATFORMS=()
for n in 17 24 27 28 31 34; do PLATFORMS+=(--platform "manylinux_2_${n}_x86_64"); done
PLATFORMS+=(--platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any)
for pkg in "${PKGS[@]}"; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PYV" --implementation cp \
    "${PLATFORMS[@]}" -d "$DIR" "$pkg" 2>/dev/null \
  || python3 -m pip download -q --no-deps -d "$DIR" "$pkg" \
  || echo "[gpu_wheels] could not download $pkg" >&2
done
# sdists (pure-Python packages without wheels) become wheels so pip can install them offline
for sdist in "$DIR"/*.tar.gz; do
  [ -e "$sdist" ] || continue
  python3 -m pip wheel -q --no-deps -w "$DIR" "$sdist" && rm -f "$sdist"
done
du -sh "$DIR"; ls "$DIR"
