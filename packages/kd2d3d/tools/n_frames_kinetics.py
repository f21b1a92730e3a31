"""python tools/n_frames_kinetics.py ... (see --help): the lineage's data-preparation tool on kd2d3d.prepare."""

import os
import sys

try:
    import kd2d3d  # noqa: F401
except ImportError:  # a plain checkout: use the sources of this repository
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [os.path.join(here, "..", "src"), os.path.join(here, "..", "..", "..", "core", "src")]

from kd2d3d.prepare import n_frames_kinetics as main  # noqa: E402
from videokd.cli import run_main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="n_frames_kinetics.py"))
