#!/usr/bin/env python
"""Write a small synthetic dataset in one of the on-disk formats the videokd packages read.

    python datasets/make_synthetic.py FORMAT OUT_DIR [--classes N] [--videos-per-class M]
                                      [--frames F] [--size S] [--seed K]
    python datasets/make_synthetic.py --list

See datasets/README.md for every format, its layout and which package/script reads it.
"""

from __future__ import annotations

import argparse
import sys

from videokd.data.synthetic import FORMATS, make_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("format", nargs="?", help=f"one of: {', '.join(sorted(FORMATS))}")
    parser.add_argument("out_dir", nargs="?", help="output folder (created)")
    parser.add_argument("--classes", type=int, default=4, help="number of classes / concepts")
    parser.add_argument("--videos-per-class", type=int, default=4)
    parser.add_argument("--frames", type=int, default=32, help="frames per video (max frames for PRVR)")
    parser.add_argument("--size", type=int, default=64, help="short side of the videos/frames in pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--list", action="store_true", help="list the formats and exit")
    args = parser.parse_args(argv)
    if args.list or not args.format:
        for name in sorted(FORMATS):
            doc = (FORMATS[name].__doc__ or "").strip().splitlines()
            print(f"{name:20s} {doc[0] if doc else ''}")
        return 0
    if not args.out_dir:
        parser.error("OUT_DIR is required")
    if args.format not in FORMATS:
        parser.error(f"unknown format {args.format!r}; choose one of {', '.join(sorted(FORMATS))}")
    ds = make_dataset(
        args.format,
        args.out_dir,
        classes=args.classes,
        videos_per_class=args.videos_per_class,
        frames=args.frames,
        size=args.size,
        seed=args.seed,
    )
    splits = ", ".join(f"{k}: {len(v)}" for k, v in ds.splits.items())
    print(f"wrote {args.format} to {ds.root} ({splits})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
