"""Query-to-video similarities over frames (the PRVR score functions).

A query ``(Nq, D)`` is compared with every frame of every video ``(B, L, D)``; padded frames (mask 0)
get ``fill`` (-1e10 in DL-DKD) and the video score is the max over frames. Frame-level scores use
DL-DKD's unusual ``(Nq, L, B)`` layout (caption, frame, video) so they plug into
:func:`videokd.losses.frame_kl_distillation`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

__all__ = ["FrameScores", "frame_scores", "frame_max_scores"]

MASK_FILL = -1e10


class FrameScores(NamedTuple):
    """score: (Nq, B) max over valid frames ; frame: (Nq, L, B) per-frame scores, ``fill`` at padding."""

    score: torch.Tensor
    frame: torch.Tensor


def frame_scores(
    query: torch.Tensor,
    context: torch.Tensor,
    context_mask: torch.Tensor,
    *,
    normalize: bool = True,
    fill: float = MASK_FILL,
) -> FrameScores:
    """Frame-level query/video scores and their max over valid frames.

    Args:
        query: ``(Nq, D)``.
        context: ``(B, L, D)`` frame features; padded rows may hold anything finite-or-not,
            they never reach the result.
        context_mask: ``(B, L)`` 1 = valid frame, 0 = padding.
        normalize: cosine (both sides ``F.normalize``, eps 1e-12) when True, raw dot product
            otherwise (DL-DKD's InfoNCE scores).
        fill: value written at padded frames (the max ignores it as long as a video has a valid frame).
    """
    if query.dim() != 2 or context.dim() != 3 or query.shape[-1] != context.shape[-1]:
        raise ValueError(
            f"query must be (Nq, D) and context (B, L, D) with the same D, got {tuple(query.shape)} and {tuple(context.shape)}"
        )
    if context_mask.shape != context.shape[:2]:
        raise ValueError(f"context_mask must be (B, L) = {tuple(context.shape[:2])}, got {tuple(context_mask.shape)}")
    # zero padded rows first: garbage there (even inf/nan) must not reach values or gradients
    context = torch.where(context_mask.bool()[..., None], context, context.new_zeros(()))
    if normalize:
        query = F.normalize(query, dim=-1)
        context = F.normalize(context, dim=-1)
    # (Nq, D) x (B, L, D) -> (Nq, L, B); one flat matmul is the fast path on CPU and GPU
    b, length, d = context.shape
    frame = (query @ context.reshape(b * length, d).t()).view(-1, b, length).transpose(1, 2)
    valid = context_mask.bool().t()[None]  # (1, L, B)
    frame = torch.where(valid, frame, frame.new_full((), fill))
    return FrameScores(frame.max(dim=1).values, frame)


def frame_max_scores(
    query: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor, *, normalize: bool = True
) -> torch.Tensor:
    """``(Nq, B)`` max over valid frames of the (cosine or dot) query/frame scores; see :func:`frame_scores`."""
    return frame_scores(query, context, context_mask, normalize=normalize).score
