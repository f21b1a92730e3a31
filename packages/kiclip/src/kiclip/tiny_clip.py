"""A tiny CLIP file for tests, the demo and benchmarks (nothing is downloaded).

:func:`write_tiny_clip` builds a small OpenAI-layout CLIP (32 px, patch 8, width 64, 2+2 layers) and,
with ``pretrain_steps > 0``, fits it for a few seconds on the CPU to match frames rendered by the
synthetic video generator with their class descriptions (image-text cross-entropy over the classes),
so that it behaves like a (very small) pretrained CLIP: zero-shot accuracy above chance on the
synthetic classes, which KICLIP fine-tuning then starts from. A randomly initialised CLIP would
need far more steps than an end-to-end test can afford before its text classifier separates classes.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from videokd.clip import CLIP_MEAN, CLIP_STD, CLIPConfig, create_model
from videokd.data.synthetic import render_clip
from videokd.data.synthetic.kiclip_b2n import kiclip_description

from .prompts import tokenize_prompt_sets

__all__ = ["TINY_CONFIG", "write_tiny_clip"]

TINY_CONFIG = CLIPConfig(
    embed_dim=32,
    image_resolution=32,
    vision_layers=2,
    vision_width=64,
    vision_patch_size=8,
    transformer_width=64,
    transformer_layers=2,
)


def _frames(labels: list[int], size: int, rng: np.random.Generator) -> torch.Tensor:
    out = []
    for c in labels:
        clip = render_clip(c, frames=4, height=size + 8, width=(size + 8) * 4 // 3, rng=rng)
        t = int(rng.integers(0, clip.shape[0]))
        img = torch.from_numpy(clip[t]).permute(2, 0, 1).float() / 255.0
        img = F.interpolate(img[None], size=(size, size * 4 // 3), mode="bilinear", align_corners=False)[0]
        left = (img.shape[-1] - size) // 2
        out.append(img[..., left : left + size])
    x = torch.stack(out)
    mean, std = torch.tensor(CLIP_MEAN)[:, None, None], torch.tensor(CLIP_STD)[:, None, None]
    return (x - mean) / std


def write_tiny_clip(
    path: str | os.PathLike,
    *,
    classes: int = 6,
    pretrain_steps: int = 100,
    batch: int = 24,
    lr: float = 2e-3,
    seed: int = 0,
    config: CLIPConfig = TINY_CONFIG,
) -> Path:
    """Write a tiny CLIP state dict (OpenAI names, fp32) to ``path``; see the module docstring."""
    torch.manual_seed(seed)
    model = create_model(config)
    with torch.no_grad():
        model.logit_scale.fill_(math.log(100.0))  # OpenAI's trained value
        # unit-scale token embeddings: with CLIP's std 0.02 a tiny text tower maps every prompt to nearly
        # the same end-of-text feature and needs hundreds of steps to tell classes apart
        model.token_embedding.weight.normal_(0.0, 1.0)
    if pretrain_steps:
        rng = np.random.default_rng(seed)
        # every KICLIP prompt set (28 templates + the bare description), one drawn per step
        sets = tokenize_prompt_sets(
            [kiclip_description(c) for c in range(classes)], context_length=config.context_length
        )
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
        model.train()
        for _ in range(pretrain_steps):
            labels = [int(c) for c in rng.integers(0, classes, size=batch)]
            img = F.normalize(model.encode_image(_frames(labels, config.image_resolution, rng)), dim=-1)
            txt = F.normalize(model.encode_text(sets[int(rng.integers(0, sets.shape[0]))]), dim=-1)
            loss = F.cross_entropy(10.0 * img @ txt.t(), torch.tensor(labels))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            model.logit_scale.fill_(math.log(100.0))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, path)
    return path
