"""Pre-flight check run by the shell scripts before any process starts: config, data and CLIP weights.

``python -m tdsclip.check --config CONFIG [--test] [--data_root DIR] [KEY.SUB=value ...]`` exits 0
when everything the run reads exists; otherwise it prints what is missing, where to get it and how
to make a synthetic stand-in, and exits 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from videokd.cli import run_main

from . import config as C

SYNTHETIC = {"something": ("sthv1", "sthv2"), "kinetics": ("kinetics",)}


def missing_inputs(cfg, root: Path, *, test: bool) -> list[str]:
    d = cfg.data
    out = []
    for split in ("val",) if test else ("train", "val"):
        for key in (f"{split}_list", f"{split}_root"):
            p = C.resolve(d[key], root)
            if p is None:
                out.append(f"data.{key} is not set")
            elif not p.exists():
                out.append(f"data.{key}: {p}")
    if cfg.network.init:
        p = C.clip_path(cfg, root)
        if not p.is_file():
            out.append(f"CLIP weights: {p}")
    return out


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="tdsclip.check")
    p.add_argument("--config", required=True)
    p.add_argument("--test", action="store_true")
    p.add_argument("--data_root", default=None)
    args, rest = p.parse_known_args(argv)
    overrides = [a for a in rest if "=" in a and not a.startswith("-")]
    cfg = C.load_run_config(args.config, overrides)
    root = C.data_root(args.data_root)
    missing = missing_inputs(cfg, root, test=args.test)
    if not missing:
        return 0
    fam = "something" if "something" in str(cfg.data.dataset).lower() else "kinetics"
    fmt = {"somethingv1": "sthv1", "somethingv2": "sthv2"}.get(str(cfg.data.dataset), SYNTHETIC[fam][0])
    lines = [f"tdsclip: the inputs of {args.config} are not there (data root {root}). Missing:"]
    lines += [f"    {m}" for m in missing]
    lines += [
        "  Real data: see packages/tdsclip/README.md (Something-Something v1/v2 frame folders, Kinetics-400 videos,",
        "  list files '<dir> <num_frames> <label>' / '<video> <label>', OpenAI CLIP ViT-B-16.pt / ViT-L-14.pt).",
        "  A synthetic stand-in (then point the config's paths at it, e.g. as configs/tiny/ does):",
        f"    python datasets/make_synthetic.py {fmt} {root}/{fmt}",
        "    python -m tdsclip.tools.random_clip <data root>/clip_pretrain/tiny.pt   (a random tiny CLIP)",
    ]
    print("\n".join(lines), file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="tdsclip.check"))
