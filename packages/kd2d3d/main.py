"""The original entry point: ``python main.py --config CONFIG.yaml [KEY=VALUE ...]`` (see kd2d3d.main)."""

import os
import sys

try:
    import kd2d3d  # noqa: F401
except ImportError:  # a plain checkout: use the sources next to this file
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [os.path.join(here, "src"), os.path.join(here, "..", "..", "core", "src")]

from kd2d3d.main import main  # noqa: E402
from videokd.cli import run_main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="main.py"))
