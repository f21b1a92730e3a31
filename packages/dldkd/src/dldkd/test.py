"""DL-DKD evaluation entry point (the original ``method/eval.py``; ``do_test.sh``).

``python -m dldkd.test --collection C --visual_feature F --root_path R --dset_name C --model_dir M``
evaluates ``M`` on the test split and prints the R@1/5/10/100/SumR table. ``M`` is a run dir (a path,
or a run name under ``<root_path>/<collection>/results``) holding ``opt.json`` and ``model.ckpt``, a
folder holding only a ``model.ckpt``, or a checkpoint file; the checkpoint may be this package's or
an original one (ICCV ``A_``/``B_`` or DL-DKD++ names, EasyDict config). It writes
``eval_test_metrics.json`` and ``eval_test_ranks.tsv`` next to the checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from videokd.cli import run_main

from .config import parse_test_options
from .runner import run_test

__all__ = ["main"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    run_test(parse_test_options(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="dldkd.test", keep_debug_flag=True))
