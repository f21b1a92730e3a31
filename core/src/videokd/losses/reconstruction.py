"""Masked reconstruction loss (MAE), as XKD's video and audio wrappers compute it."""

from __future__ import annotations

import torch

__all__ = ["normalize_patch_targets", "masked_reconstruction_loss"]


def normalize_patch_targets(target: torch.Tensor, *, eps: float = 1e-6) -> torch.Tensor:
    """Per-patch ``(y - mean) / sqrt(var + eps)`` over the last dim, with the **unbiased** variance
    (``torch.var`` default, as the original). ``target``: ``(B, N, P)``."""
    mean = target.mean(dim=-1, keepdim=True)
    var = target.var(dim=-1, keepdim=True)
    return (target - mean) / (var + eps) ** 0.5


def masked_reconstruction_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    *,
    norm_pix: bool = True,
    eps: float = 1e-6,
) -> torch.Tensor:
    """MAE loss: squared error averaged over patch values, then over masked patches only.

    Args:
        pred: ``(B, N, P)`` reconstructed patches. target: ``(B, N, P)`` raw patch vectors.
        mask: ``(B, N)`` 1 = masked (reconstructed) patch, 0 = visible.
        norm_pix: normalise each target patch first (XKD ``norm_pix_loss: true``).
    """
    if pred.shape != target.shape or pred.dim() != 3:
        raise ValueError(f"pred and target must both be (B, N, P), got {tuple(pred.shape)} and {tuple(target.shape)}")
    if mask.shape != pred.shape[:2]:
        raise ValueError(f"mask must be (B, N) = {tuple(pred.shape[:2])}, got {tuple(mask.shape)}")
    if norm_pix:
        target = normalize_patch_targets(target, eps=eps)
    per_patch = (pred - target).pow(2).mean(dim=-1)
    mask = mask.to(per_patch.dtype)
    return (per_patch * mask).sum() / mask.sum()
