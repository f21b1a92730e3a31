"""KICLIP's optimizer and LR schedule on the core engine.

* AdamW (betas 0.9/0.999, eps 1e-8) with two groups: "decay" (weight decay ``SOLVER.WEIGHT_DECAY``)
  for every trainable parameter that is not 1-D and whose name does not end in ``.bias`` - which
  includes the 0-d ``logit_scale`` and the embeddings, as upstream - and "no_decay" for the rest.
  Frozen parameters (teacher, ``resblocks_f``) are not optimised.
* The LR is set at every iteration from the fractional epoch ``e = epoch + it / iters``: linear
  warm-up from ``WARMUP_START_LR`` over ``WARMUP_EPOCHS``, then a half cosine to ``COSINE_END_LR``
  at ``MAX_EPOCH`` (starting after the warm-up when ``COSINE_AFTER_WARMUP``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable

import torch
from torch import nn

from videokd.engine import build_optimizer, param_groups
from videokd.engine.schedules import ParamScheduler, warmup_cosine

__all__ = ["lr_at", "kiclip_param_groups", "build_kiclip_optimizer", "lr_scheduler"]


def lr_at(
    epoch: float,
    *,
    base_lr: float,
    max_epoch: float,
    warmup_epochs: float,
    warmup_start_lr: float,
    cosine_end_lr: float,
    cosine_after_warmup: bool = True,
) -> float:
    """The LR at fractional epoch ``epoch`` (PySlowFast ``get_lr_at_epoch`` with the cosine policy)."""
    return warmup_cosine(
        epoch,
        base=base_lr,
        total=max_epoch,
        warmup=warmup_epochs,
        final=cosine_end_lr,
        warmup_start=warmup_start_lr,
        cosine_after_warmup=cosine_after_warmup,
    )


def _no_decay(name: str, p: torch.Tensor) -> bool:
    # upstream: 1-D tensors and biases; 0-d logit_scale decays (an inherited FROSTER quirk)
    return p.ndim == 1 or name.endswith(".bias")


def kiclip_param_groups(model: nn.Module, *, weight_decay: float, zero_wd_1d: bool = True) -> list[dict]:
    """The "decay" / "no_decay" groups (trainable parameters only)."""
    return param_groups(model, weight_decay=weight_decay, no_decay=_no_decay if zero_wd_1d else None)


def build_kiclip_optimizer(
    model: nn.Module, *, lr: float, weight_decay: float, betas: Sequence[float] = (0.9, 0.999), eps: float = 1e-8
) -> torch.optim.Optimizer:
    return build_optimizer(
        "adamw",
        kiclip_param_groups(model, weight_decay=weight_decay),
        lr=lr,
        weight_decay=weight_decay,
        betas=betas,
        eps=eps,
    )


def lr_scheduler(optimizer: torch.optim.Optimizer, lr_of_epoch: Callable[[float], float], iters_per_epoch: int):
    """A per-step scheduler for the Trainer: step ``g`` gets ``lr(g / iters_per_epoch)``."""
    return ParamScheduler(optimizer, lambda g: lr_of_epoch(g / iters_per_epoch), key="lr")
