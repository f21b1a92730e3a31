"""One training step: loader batch -> logits -> label-smoothed CE.

Batches are ``{"video": (B, T*5*3, H, W) or (B*T*5, 3, H, W), "label": (B,)}``; with repeated
augmentation (``data.num_sample`` > 1) ``B`` already counts every augmented copy
(:func:`videokd.data.repeated_augmentation_collate`).
"""

from __future__ import annotations

from typing import Optional

import torch

from .evaluate import classification_loss
from .model import VideoCLIP

__all__ = ["train_step", "make_step_fn"]


def train_step(
    model: torch.nn.Module, batch: dict, *, smoothing: float = 0.1, taps: Optional[dict] = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits (B, K), loss)`` for one batch (the model in train mode)."""
    video, label = batch["video"], batch["label"]
    logits = model(video, taps) if taps is not None else model(video)
    return logits, classification_loss(logits.float(), label, smoothing=smoothing)


def make_step_fn(smoothing: float):
    """The engine ``step_fn``: ``{"loss": ..., "acc1": ...}`` (train top-1 on the augmented clips)."""

    def step_fn(model: VideoCLIP, batch: dict) -> dict[str, torch.Tensor]:
        logits, loss = train_step(model, batch, smoothing=smoothing)
        acc1 = (logits.detach().argmax(-1) == batch["label"]).float().mean() * 100
        return {"loss": loss, "acc1": acc1}

    return step_fn
