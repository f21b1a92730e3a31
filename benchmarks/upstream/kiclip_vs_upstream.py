#!/usr/bin/env python
"""KICLIP side by side with the original code (NOT IMPLEMENTED YET): the original's FROSTER/Open-VCLIP-based KICLIP train step (slowfast-style config, reduced resolution on the CPU) against `kiclip`'s, same inputs, interleaved.

    python benchmarks/upstream/kiclip_vs_upstream.py                     # says what to clone, exits 0
    python benchmarks/upstream/kiclip_vs_upstream.py --upstream PATH     # says it is not implemented; no result

``--upstream PATH``: a checkout of https://github.com/gufranSabri/KICLIP at ``4bf503f`` (the snapshot
``specs/*.md`` describes). Missing: the adapter that builds the original's model from its own code and runs its step on the same inputs is not written yet.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pending import pending_main  # noqa: E402

CLONE = [
    "git clone https://github.com/gufranSabri/KICLIP /tmp/upstream/KICLIP && git -C /tmp/upstream/KICLIP checkout 4bf503f",
]
MISSING = "the adapter that builds the original's model from its own code and runs its step on the same inputs is not written yet."

if __name__ == "__main__":
    raise SystemExit(pending_main("kiclip_vs_upstream", __doc__, CLONE, MISSING))
