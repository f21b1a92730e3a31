"""Optimisation pieces of XKD pre-training, used by the runner's Trainer hooks and by :func:`train_step`.

The order of one step (the original ``train_one_epoch``, AMP branch without the scaler):
forward -> backward -> per-tensor clipping of the *students* only (not the decoders) ->
cancel the last layer's gradients during ``freeze_last_layer`` epochs -> AdamW step ->
EMA of both teachers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from videokd.engine.optim import build_optimizer, clip_grad_norm_per_tensor, param_groups

from .model import XKDNet

__all__ = [
    "xkd_param_groups",
    "build_xkd_optimizer",
    "set_step_values",
    "clip_student_gradients",
    "cancel_last_layer_gradients",
    "train_step",
]


def xkd_param_groups(model: XKDNet, *, weight_decay: float) -> list[dict[str, Any]]:
    """Group 0: trainable biases and 1-D tensors (no decay); group 1: everything else. Teachers and
    ``weight_g`` are frozen and left out; a shared tensor appears once, under its first path."""
    return param_groups(model, weight_decay=weight_decay, no_decay="1d_and_bias", no_decay_first=True)


def build_xkd_optimizer(model: XKDNet, optimizer_cfg: Mapping[str, Any], *, lr: float = 0.0, weight_decay: float = 0.0):
    """AdamW (betas from the yaml, eps 1e-8) over :func:`xkd_param_groups`."""
    name = optimizer_cfg.get("name", "adamw")
    if name != "adamw":
        raise ValueError(f"hyperparams.optimizer.name: XKD pre-training uses 'adamw', got {name!r}")
    return build_optimizer(
        "adamw",
        xkd_param_groups(model, weight_decay=weight_decay),
        lr=lr,
        betas=tuple(optimizer_cfg.get("betas", (0.9, 0.95))),
        eps=float(optimizer_cfg.get("eps", 1e-8)),
    )


def set_step_values(optimizer: torch.optim.Optimizer, *, lr: float, weight_decay: float) -> None:
    """The step's lr on every group, its weight decay on the decaying groups only."""
    for group in optimizer.param_groups:
        group["lr"] = float(lr)
        if group.get("weight_decay", 0.0) != 0.0 or group.get("name", "").startswith("decay"):
            group["weight_decay"] = float(weight_decay)


def clip_student_gradients(model: XKDNet, clip: float) -> tuple[list[str], torch.Tensor]:
    """DINO per-tensor clipping of the students' gradients (video student, then audio student, each
    distinct tensor once; decoders untouched). Returns the names and pre-clip norms ``(K,)``."""
    named = [(n, p) for n, p in model.student_named_parameters() if p.grad is not None]
    norms = clip_grad_norm_per_tensor([p for _, p in named], float(clip))
    return [n for n, _ in named], norms


def cancel_last_layer_gradients(model: XKDNet, epoch: int, freeze_last_layer: int) -> None:
    """DINO: no update of the heads' last layer during the first ``freeze_last_layer`` epochs."""
    if epoch < int(freeze_last_layer):
        for p in model.last_layer_parameters():
            p.grad = None


def train_step(
    model: XKDNet,
    optimizer: torch.optim.Optimizer,
    batch: Mapping[str, Any],
    *,
    fwd_kwargs: Mapping[str, Any],
    lr: float,
    weight_decay: float,
    vid_ema: float,
    aud_ema: float,
    clip_grad: float,
    freeze_last_layer: int = 0,
    epoch: int = 0,
    shared_teacher_ema_twice: bool = False,
) -> dict[str, Any]:
    """One full pre-training step in fp32 (what the runner's Trainer does with its hooks).

    ``batch``: ``frames``, ``specs`` (lists of views) and optionally ``vid_mask_noise`` / ``aud_mask_noise``.
    Returns the loss terms (detached), ``clip_param_names`` and ``clip_norms``.
    """
    set_step_values(optimizer, lr=lr, weight_decay=weight_decay)
    optimizer.zero_grad(set_to_none=True)
    out = model(
        batch["frames"],
        batch["specs"],
        vid_mask_noise=batch.get("vid_mask_noise"),
        aud_mask_noise=batch.get("aud_mask_noise"),
        **fwd_kwargs,
    )
    out["loss"].backward()
    names, norms = clip_student_gradients(model, clip_grad) if clip_grad else ([], torch.zeros(0))
    cancel_last_layer_gradients(model, epoch, freeze_last_layer)
    optimizer.step()
    model.update_teachers(vid_ema, aud_ema, shared_twice=shared_teacher_ema_twice)
    result: dict[str, Any] = {k: v.detach() for k, v in out.items()}
    result["clip_param_names"] = names
    result["clip_norms"] = norms
    return result


def loss_terms(out: Mapping[str, torch.Tensor], names: Sequence[str]) -> dict[str, torch.Tensor]:
    return {k: out[k] for k in names}
