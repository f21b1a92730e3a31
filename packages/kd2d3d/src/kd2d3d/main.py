"""``python main.py --config CONFIG.yaml [KEY=VALUE ...] [--<lineage flag> VALUE ...]``.

Trains, validates and tests as the config says (the lineage's phase switches ``no_train``,
``no_val``, ``test``). Overrides use the config's names (``kd.alpha=0.7``, ``n_epochs=2``); the
lineage's own ``main.py`` flags are accepted too (``--sample_size 96 --nesterov``). One process per
GPU under ``torchrun`` / ``srun`` (DDP), or the CPU (``no_cuda=true`` / ``run.device=cpu``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Optional

from videokd.cli import run_main

from .opts import LINEAGE_DEFAULTS, lineage_argv_to_overrides, load_options

__all__ = ["main", "parse"]

EPILOG = """examples:
  python main.py --config configs/ucf101_finetune_kd.yaml
  python main.py --config configs/ucf101_finetune_kd.yaml n_epochs=2 kd.alpha=0.7 --batch_size 32
  torchrun --nproc_per_node 4 main.py --config configs/kinetics_train.yaml

Without --config the lineage defaults apply (every option of its opts.py, plus kd/teacher/run/compat).
Add --debug (or VIDEOKD_DEBUG=1) for the traceback of an error."""


def parse(argv: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="2D-to-3D knowledge distillation into 3D ResNets: train / validate / test as configured.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help="YAML config (keys: the lineage options + kd, teacher, run, compat)")
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE overrides, e.g. n_epochs=2 kd.type=logits")
    args, rest = parser.parse_known_args(argv)
    overrides = list(args.overrides)
    lineage = []
    i = 0
    while i < len(rest):  # lineage flags (--sample_size 96, --nesterov) and more KEY=VALUE anywhere
        item = rest[i]
        if not item.startswith("--"):
            overrides.append(item)
            i += 1
            continue
        key = item[2:]
        if key not in LINEAGE_DEFAULTS:
            parser.error(
                f"unrecognized argument {item!r} (overrides are KEY=VALUE; lineage flags are --<opts.py name>)"
            )
        takes_value = not isinstance(LINEAGE_DEFAULTS[key], bool)
        lineage.extend(rest[i : i + 1 + takes_value])
        i += 1 + takes_value
    stray = [o for o in overrides if "=" not in o]
    if stray:
        parser.error(f"overrides must be KEY=VALUE, got {stray}")
    return load_options(args.config, overrides + lineage_argv_to_overrides(lineage))


def main(argv: Optional[Sequence[str]] = None) -> int:
    cfg = parse(argv)
    logging.basicConfig(level=logging.INFO, format="[kd2d3d] %(message)s", stream=sys.stdout)
    from .runner import run  # torch-heavy imports after the arguments are known good

    summary = run(cfg)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    for key, value in summary.items():
        if isinstance(value, float):
            print(f"[kd2d3d] {key}: {value:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="main.py"))
