"""DL-DKD training entry point (the original ``method/train.py``; ``do_tvr.sh`` and friends).

``python -m dldkd.train --collection tvr --visual_feature i3d_resnet --root_path DATA --dset_name tvr
--q_feat_size 768 --margin 0.1 --use_clip true --double_branch true --decay_way 1 ...`` (the flags of
``do_tvr.sh``; ``--help`` lists them all). What a run does and writes: :mod:`dldkd.runner`.
Expected failures (missing or inconsistent data, bad options, a mismatched ``--resume``) print one
message and exit with code 2; ``VIDEOKD_DEBUG=1`` shows the traceback instead. ``--debug`` does
both: the traceback, and its original meaning for the run (a 4-batch, 1-epoch smoke run under
``debug_results``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from videokd.cli import run_main

from .config import parse_train_options
from .runner import run_training

__all__ = ["main"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    run_training(parse_train_options(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="dldkd.train", keep_debug_flag=True))
