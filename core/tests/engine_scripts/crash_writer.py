"""Write ``last.pt`` checkpoints over and over with videokd.engine.save_checkpoint until killed.

Version ``v`` holds ``{"version": v, "blob": full((n,), v)}``; after each write it prints
``wrote v``. The test SIGKILLs it at an arbitrary moment (often in the middle of a write) and
checks that ``last.pt`` still loads and is one complete version.
"""

from __future__ import annotations

import sys

import torch

from videokd.engine import CheckpointManager


def main() -> int:
    folder, n = sys.argv[1], int(sys.argv[2])
    manager = CheckpointManager(folder)
    version = 0
    while True:
        version += 1
        manager.save({"version": version, "blob": torch.full((n,), float(version))})
        print(f"wrote {version}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
