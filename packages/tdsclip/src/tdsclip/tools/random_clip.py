"""Write a randomly initialised OpenAI-layout CLIP file (plain state dict, fp16 like OpenAI's).

For tests, the demo and benchmarks (nothing downloads weights):
``python -m tdsclip.tools.random_clip OUT.pt [--width 64 --layers 2 --patch 8 --resolution 32]``;
``--arch ViT-B/16`` writes the real geometry.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Optional

import torch

from videokd import clip
from videokd.cli import run_main

__all__ = ["write_random_clip"]


def write_random_clip(
    path: str | os.PathLike,
    *,
    width: int = 64,
    layers: int = 2,
    patch: int = 8,
    resolution: int = 32,
    arch: Optional[str] = None,
    seed: int = 0,
) -> Path:
    """An OpenAI-layout state dict (visual + a 1-layer narrow text tower), fp16, at ``path``."""
    if arch is not None:
        cfg = clip.MODEL_CONFIGS[arch]
    else:
        cfg = clip.CLIPConfig(
            embed_dim=32,
            image_resolution=resolution,
            vision_layers=layers,
            vision_width=width,
            vision_patch_size=patch,
            context_length=8,
            vocab_size=64,
            transformer_width=64,
            transformer_heads=1,
            transformer_layers=1,
            vision_heads=max(1, width // 64),
        )
    torch.manual_seed(seed)
    with torch.no_grad():
        model = clip.CLIP(cfg)
        state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="tdsclip.tools.random_clip", description=__doc__)
    p.add_argument("out")
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--patch", type=int, default=8)
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--arch", default=None, help="a real geometry instead, e.g. ViT-B/16")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    out = write_random_clip(
        a.out, width=a.width, layers=a.layers, patch=a.patch, resolution=a.resolution, arch=a.arch, seed=a.seed
    )
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="tdsclip.tools.random_clip"))
