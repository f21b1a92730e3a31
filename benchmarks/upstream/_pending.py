"""Shared body of the side-by-side scripts whose comparison is not written yet (TDS-CLIP, KICLIP, XKD).

Without ``--upstream`` they print what to clone and exit 0, like the others. With ``--upstream`` they
say plainly that the comparison is not implemented and write no result (``benchmarks/run.py`` lists
the benchmark as skipped with that message); they never report a number.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def pending_main(name: str, doc: str, clone: list[str], missing: str, argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog=f"{name}.py", description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--upstream", type=Path, default=None, help="checkout of the original repository")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    if a.upstream is None:
        print(f"{name}: no --upstream checkout given, nothing measured.")
        for line in clone:
            print(f"  {line}")
        print(f"  python benchmarks/upstream/{name}.py --upstream PATH")
        return 0
    print(f"{name}: not implemented yet: {missing} No result written.")
    return 0
