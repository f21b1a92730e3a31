"""What the side-by-side scripts share: the clone hint, the parser, the checkout check.

Nothing here imports torch, so a script without ``--upstream`` prints its hint at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]


def clone_hint(script: str, folder: str, clone: str, extra: tuple[str, ...] = ()) -> str:
    """What to clone and how to run ``script`` (e.g. ``xkd_vs_upstream``) on ``/tmp/upstream/<folder>``.
    ``clone`` is the shell line that makes the checkout; ``extra`` are lines to run after it (pip installs)."""
    lines = [f"{script}: no --upstream checkout given, nothing measured.", f"  {clone}"]
    lines += [f"  {x}" for x in extra]
    lines += [
        f"  python benchmarks/upstream/{script}.py --upstream /tmp/upstream/{folder}",
        f"(or python benchmarks/run.py --upstream-root /tmp/upstream --only {script})",
    ]
    return "\n".join(lines)


def hint_only(argv: list[str] | None) -> bool:
    """True when the command line names no checkout (and asks for no help): print the hint, exit 0."""
    args = argv if argv is not None else sys.argv[1:]
    return not any(x.startswith("--upstream") or x in ("-h", "--help") for x in args)


def parser(doc: str | None):
    """(parser with ``--upstream`` and ``--note``, the ``_bench`` module). The script adds its own
    options, then ``_bench.add_common_args``."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    import _bench

    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--upstream", type=Path, default=None, help="checkout of the original repository")
    p.add_argument("--note", action="append", default=[], help="a sentence recorded in the result (e.g. the checkout)")
    return p, _bench


def missing_files(script: str, up: Path, needed: list[str], what: str, repo_url: str) -> bool:
    """Print ``script: error: UP lacks A, B: not a checkout of WHAT (clone URL)`` to stderr when any of
    ``needed`` (paths relative to ``up``) is not a file; return whether one was missing."""
    missing = [f for f in needed if not (up / f).is_file()]
    if missing:
        print(f"{script}: error: {up} lacks {', '.join(missing)}: not a checkout of {what} (clone {repo_url})",
              file=sys.stderr)  # fmt: skip
    return bool(missing)
