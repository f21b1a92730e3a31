"""The SlowFast-style command line of the original scripts: ``--cfg FILE ... --opts KEY VALUE ...``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from videokd.config import Config

from .config import build_config

__all__ = ["parser", "parse"]


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument(
        "--cfg",
        dest="cfg_files",
        action="extend",
        nargs="+",
        default=[],
        metavar="FILE",
        help="yaml config file(s), applied in order over the defaults",
    )
    p.add_argument(
        "--opts",
        action="extend",
        nargs="*",
        default=[],
        metavar="KEY VALUE",
        help="overrides as KEY VALUE pairs (or KEY=VALUE), applied after the yaml files; later wins",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: CUDA when available, else the CPU)")
    p.add_argument("--shard_id", type=int, default=0, help="accepted for the original command lines")
    p.add_argument("--num_shards", type=int, default=1, help="accepted for the original command lines")
    p.add_argument("--init_method", default=None, help="accepted; use torchrun (NPROC=N) for several processes")
    return p


def parse(p: argparse.ArgumentParser, argv: Sequence[str]) -> tuple[argparse.Namespace, Config]:
    args = p.parse_args(list(argv))
    cfg = build_config(args.cfg_files, args.opts)
    return args, cfg
