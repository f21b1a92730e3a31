"""``weight_average_tool.py``: average the per-epoch checkpoints of a run (upstream's rule, see kiclip.weights).

    python weight_average_tool.py RUN/checkpoints --start 2 --end 22 --output RUN/wa_checkpoints/swa_2_22.pth [--clip ViT-B-16.pt]

``--start 0`` includes the raw CLIP weights (``--clip`` then required), as upstream's id 0.
"""

from __future__ import annotations

import argparse

import videokd.cli

from .weights import weight_average


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="weight_average_tool.py", description=__doc__.split("\n")[0])
    p.add_argument("source_dir", help="the run's checkpoints/ folder (checkpoint_epoch_XXXXX.pyth files)")
    p.add_argument("--start", type=int, default=2, help="first epoch averaged (0 = include raw CLIP; default 2)")
    p.add_argument("--end", type=int, default=22, help="last epoch averaged (default 22)")
    p.add_argument("--output", default=None, help="output file (default SOURCE/../wa_checkpoints/swa_START_END.pth)")
    p.add_argument("--clip", default=None, help="the raw CLIP file (its keys define the averaged backbone keys)")
    args = p.parse_args(argv)
    from pathlib import Path

    output = args.output or str(
        Path(args.source_dir).resolve().parent / "wa_checkpoints" / f"swa_{args.start}_{args.end}.pth"
    )
    result = weight_average(args.source_dir, start=args.start, end=args.end, output=output, raw_clip=args.clip)
    used = result["checkpoint_ids_used"]
    print(f"[kiclip] averaged epochs {used} ({len(result['averaged_keys'])} keys) -> {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(videokd.cli.run_main(main, prog="weight_average_tool.py"))
