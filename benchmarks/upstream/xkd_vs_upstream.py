#!/usr/bin/env python
"""XKD side by side with the original code (NOT IMPLEMENTED YET): the original's XKD pre-training step (students, EMA teachers, decoders, DINO heads) against `xkd`'s, same video/audio inputs, interleaved.

    python benchmarks/upstream/xkd_vs_upstream.py                     # says what to clone, exits 0
    python benchmarks/upstream/xkd_vs_upstream.py --upstream PATH     # says it is not implemented; no result

``--upstream PATH``: a checkout of https://github.com/pritamqu/XKD at ``806c75d`` (the snapshot
``specs/*.md`` describes). Missing: the adapter that builds the original's model from its own code and runs its step on the same inputs is not written yet.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pending import pending_main  # noqa: E402

CLONE = [
    "git clone https://github.com/pritamqu/XKD /tmp/upstream/XKD && git -C /tmp/upstream/XKD checkout 806c75d",
]
MISSING = "the adapter that builds the original's model from its own code and runs its step on the same inputs is not written yet."

if __name__ == "__main__":
    raise SystemExit(pending_main("xkd_vs_upstream", __doc__, CLONE, MISSING))
