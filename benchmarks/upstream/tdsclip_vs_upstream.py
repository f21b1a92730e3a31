#!/usr/bin/env python
"""TDS-CLIP side by side with the original code (NOT IMPLEMENTED YET): the train step of the original's side network on a frozen CLIP ViT-B/16 (its `Side4Video`-derived model and training loop, reduced resolution on the CPU) against `tdsclip`'s, same inputs, interleaved.

    python benchmarks/upstream/tdsclip_vs_upstream.py                     # says what to clone, exits 0
    python benchmarks/upstream/tdsclip_vs_upstream.py --upstream PATH     # says it is not implemented; no result

``--upstream PATH``: a checkout of https://github.com/BBYL9413/TDS-CLIP at ``cf4e58c`` (the snapshot
``specs/*.md`` describes). Missing: the adapter that builds the original's model from its own code and runs its step on the same inputs is not written yet.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pending import pending_main  # noqa: E402

CLONE = [
    "git clone https://github.com/BBYL9413/TDS-CLIP /tmp/upstream/TDS-CLIP && git -C /tmp/upstream/TDS-CLIP checkout cf4e58c",
]
MISSING = "the adapter that builds the original's model from its own code and runs its step on the same inputs is not written yet."

if __name__ == "__main__":
    raise SystemExit(pending_main("tdsclip_vs_upstream", __doc__, CLONE, MISSING))
