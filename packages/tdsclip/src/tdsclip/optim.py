"""The original optimizer: AdamW over three parameter groups, warm-up + cosine learning rate.

Groups (in this order, as the original builds them, so original optimizer state dicts line up):

0. ``visual``: every parameter whose name contains ``visual`` except the side BatchNorms, the
   frozen CLIP ones included (they never get a gradient and hold no state); lr x ``clip_ratio``;
1. ``other``: ``fc.*``; lr;
2. ``side_bn``: names containing both ``bn`` and ``side``; lr, or lr / ``grad_accumulation_steps``
   when ``sync_bn`` is false (the original's rule).

Weight decay applies to every group (BN/LN affine, biases and the position embedding included), as
in the original.

Schedule: factor ``e / warmup`` during warm-up, then ``0.5 (1 + cos(pi (e - warmup) / (epochs - warmup)))``,
on the fractional epoch ``e``. ``held=True`` reproduces the original's stepping (re-evaluated only
at the first iteration of each epoch and every 10th iteration, so the first 9 iterations use lr 0);
the default evaluates it at every iteration, at ``e = epoch + (i + 1) / iters_per_epoch``.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from videokd.engine.schedules import held_every, warmup_cosine

__all__ = [
    "original_param_groups",
    "build_adamw",
    "lr_at_epoch",
    "lr_factor",
    "held_schedule_points",
    "optimizer_step_iterations",
    "GROUP_NAMES",
]

GROUP_NAMES = ("visual", "other", "side_bn")


def _group_of(name: str) -> int:
    if "bn" in name and "side" in name:
        return 2
    if "visual" in name and "control_point" not in name and "time_embedding" not in name:
        return 0
    return 1


def original_param_groups(
    model: nn.Module,
    *,
    lr: float,
    weight_decay: float,
    clip_ratio: float = 1.0,
    sync_bn: bool = False,
    grad_accumulation_steps: int = 1,
) -> list[dict[str, Any]]:
    """The three AdamW groups of the original ``train_vision.py`` (see the module docstring)."""
    groups: list[dict[str, Any]] = [
        {"params": [], "param_names": [], "lr": lr * clip_ratio, "name": "visual"},
        {"params": [], "param_names": [], "lr": lr, "name": "other"},
        {"params": [], "param_names": [], "lr": lr if sync_bn else lr / grad_accumulation_steps, "name": "side_bn"},
    ]
    for name, p in model.named_parameters():
        g = groups[_group_of(name)]
        g["params"].append(p)
        g["param_names"].append(name)
    for g in groups:
        g["weight_decay"] = float(weight_decay)
    return groups


def build_adamw(
    model: nn.Module,
    *,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    **group_options: Any,
) -> torch.optim.AdamW:
    """AdamW on :func:`original_param_groups` (the ``param_names`` entries make its state self-describing)."""
    groups = original_param_groups(model, lr=lr, weight_decay=weight_decay, **group_options)
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)


def lr_at_epoch(e: float, *, epochs: float, warmup: float, final: float = 0.0, warmup_start: float = 0.0) -> float:
    """The schedule's factor at fractional epoch ``e`` (closed form; ``final`` past the last epoch)."""
    return warmup_cosine(e, base=1.0, final=final, total=epochs, warmup=warmup, warmup_start=warmup_start)


def held_schedule_points(epochs: int, iters_per_epoch: int, every: int = 10) -> list[int]:
    """Global iterations at which the original re-evaluates the schedule (``i == 0`` or ``(i+1) % every == 0``)."""
    return [
        e * iters_per_epoch + i for e in range(epochs) for i in range(iters_per_epoch) if i == 0 or (i + 1) % every == 0
    ]


def optimizer_step_iterations(epochs: int, iters_per_epoch: int, grad_accumulation_steps: int) -> list[int]:
    """Global iterations that end with ``optimizer.step()`` in the original loop (``(i+1) % accum == 0``)."""
    a = int(grad_accumulation_steps)
    return [e * iters_per_epoch + i for e in range(epochs) for i in range(iters_per_epoch) if (i + 1) % a == 0]


def lr_factor(
    *,
    epochs: float,
    warmup: float,
    iters_per_epoch: int,
    held: bool = False,
    final: float = 0.0,
    warmup_start: float = 0.0,
) -> Callable[[int], float]:
    """``global iteration -> factor`` on each group's base lr (see the module docstring)."""

    def at(e: float) -> float:
        return lr_at_epoch(e, epochs=epochs, warmup=warmup, final=final, warmup_start=warmup_start)

    if held:
        return held_every(at, iters_per_epoch=iters_per_epoch, every=10)
    return lambda g: at((int(g) + 1) / iters_per_epoch)
