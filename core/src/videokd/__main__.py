"""The ``videokd`` command (console script, or ``python -m videokd``): ``videokd plot RUN_DIR``.

Subcommands:
  plot RUN_DIR [--out DIR]   PNG training curves from a run folder's metrics.jsonl (videokd.plots)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Optional

from .cli import run_main

USAGE = "usage: videokd {plot} ...\n\n" + __doc__.split("\n\n", 1)[1]


def _dispatch(argv: Sequence[str]) -> int:
    args = list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "plot":
        from . import plots

        return plots.main(rest, prog="videokd plot")
    print(f"videokd: error: unknown command {command!r} (known: plot)\n{USAGE}", file=sys.stderr, end="")
    return 2


def console(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``videokd`` console script."""
    return run_main(_dispatch, argv, prog="videokd")


if __name__ == "__main__":
    raise SystemExit(console())
