"""KICLIP's visual building blocks on the core CLIP: neighbour-frame attention and knowledge injection.

Token tensors are batch-first ``(N, L, D)`` with ``N = B*T`` frames in clip-major order (row
``n = b*T + t``), as in :mod:`videokd.clip` (the original is sequence-first ``(L, N, D)``).

* :func:`neighbor_frame_attention` is Open-VCLIP's ``expand_temporal_view``: the queries of frame
  ``t`` attend to the keys/values of frames ``[t+1 | t-1 | t]`` (3L keys). A missing neighbour (past
  the first or last frame) is a block of zeros that is **not masked**: its scores are 0 and still
  take softmax mass while adding nothing. This is what the original computes and the fixtures pin.
* :class:`TemporalBlock` is a CLIP block whose :meth:`attention` is the neighbour-frame attention.
* :class:`KITransformer` runs the student blocks and a frozen copy of CLIP's per-frame blocks side by
  side: the input of student block ``i`` is the mean of both streams; the last student output is
  returned unmixed.
* :class:`KIVisionTransformer` is CLIP's ViT with that stack (``transformer.resblocks`` and
  ``transformer.resblocks_f``, the original names); the frozen stream starts from the trainable stem.
"""

from __future__ import annotations

import math
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from videokd.clip import MultiheadAttention, ResidualAttentionBlock, VisionTransformer

__all__ = [
    "neighbor_frame_kv",
    "neighbor_frame_attention",
    "temporal_attention",
    "TemporalBlock",
    "KITransformer",
    "KIVisionTransformer",
]


def neighbor_frame_kv(x: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Keys or values of the next, previous and own frame, concatenated along tokens.

    ``x (N, H, L, d)`` with ``N = B*T`` clip-major -> ``(N, H, 3L, d)`` ordered ``[t+1 | t-1 | t]``,
    with all-zero blocks where the neighbour does not exist (built in ``x``'s dtype, so fp64 and
    pure fp16/bf16 work too; the original fails outside fp32/autocast).
    """
    n, h, length, d = x.shape
    if n % num_frames:
        raise ValueError(f"{n} frames are not a whole number of clips of T={num_frames}")
    v = x.view(n // num_frames, num_frames, h, length, d)
    zero = v.new_zeros(v.shape[0], 1, h, length, d)
    nxt = torch.cat([v[:, 1:], zero], dim=1)
    prv = torch.cat([zero, v[:, :-1]], dim=1)
    return torch.cat([nxt, prv, v], dim=3).view(n, h, 3 * length, d)


def neighbor_frame_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_frames: int, *, return_probs: bool = False
) -> Union[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """``softmax(q [k_{t+1}; k_{t-1}; k_t]^T / sqrt(d)) [v_{t+1}; v_{t-1}; v_t]`` per frame.

    ``q, k, v (N, H, L, d)`` -> ``(N, H, L, d)``. SDPA computes it unless ``return_probs`` is set,
    which computes the softmax explicitly and also returns it, ``(N, H, L, 3L)``.
    """
    kk = neighbor_frame_kv(k, num_frames)
    vv = neighbor_frame_kv(v, num_frames)
    if not return_probs:
        return F.scaled_dot_product_attention(q, kk, vv)
    probs = torch.softmax((q / math.sqrt(q.shape[-1])) @ kk.transpose(-2, -1), dim=-1)
    return probs @ vv, probs


def temporal_attention(
    attn: MultiheadAttention, x: torch.Tensor, num_frames: int, *, return_probs: bool = False
) -> Union[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """The original ``MultiheadAttention(temporal_shift='expand_temporal_view', T)`` on ``x (N, L, D)``.

    Uses the core attention's own projections (same parameters as CLIP's attention, so CLIP weights
    load as they are). With ``return_probs`` also the softmax weights ``(N, H, L, 3L)``.
    """
    q, k, v = attn.in_projection(x)
    out = neighbor_frame_attention(q, k, v, num_frames, return_probs=return_probs)
    if return_probs:
        o, probs = out
        return attn.out_projection(o), probs
    return attn.out_projection(out)


class TemporalBlock(ResidualAttentionBlock):
    """A CLIP block with neighbour-frame attention over ``num_frames`` frames per clip."""

    def __init__(self, d_model: int, n_head: int, num_frames: int):
        super().__init__(d_model, n_head)
        self.num_frames = num_frames

    def attention(self, x: torch.Tensor, attn_mask=None, is_causal: bool = False) -> torch.Tensor:
        if attn_mask is not None or is_causal:
            raise ValueError("neighbour-frame attention takes no mask")
        return temporal_attention(self.attn, x, self.num_frames)


class KITransformer(nn.Module):
    """Student temporal blocks (``resblocks``) with knowledge injection from frozen CLIP blocks (``resblocks_f``).

    ``forward(x (N, L, W))``: both streams start from ``x``; for each layer the student block gets
    ``(h_s + h_t) / 2`` and the frozen stream advances with its per-frame block; returns the last
    student output. ``injection=False`` (or no frozen blocks) runs the student blocks plainly, the
    "without KI" ablation. ``grad_checkpointing`` checkpoints the student blocks only (unlike the
    original's ``USE_CHECKPOINT``, which silently switched injection off).
    """

    def __init__(self, width: int, layers: int, heads: int, num_frames: int, *, injection: bool = True):
        super().__init__()
        self.width, self.layers, self.heads = width, layers, heads
        self.resblocks = nn.ModuleList([TemporalBlock(width, heads, num_frames) for _ in range(layers)])
        self.resblocks_f: Optional[nn.ModuleList] = None
        if injection:
            self.resblocks_f = nn.ModuleList([ResidualAttentionBlock(width, heads) for _ in range(layers)])
            self.resblocks_f.requires_grad_(False)
        self.injection_mix = 0.5
        self.grad_checkpointing = False

    @property
    def num_frames(self) -> int:
        return self.resblocks[0].num_frames

    def set_num_frames(self, num_frames: int) -> None:
        for blk in self.resblocks:
            blk.num_frames = num_frames

    def _student(self, blk: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self.grad_checkpointing and torch.is_grad_enabled():
            return checkpoint(blk, x, use_reentrant=False)
        return blk(x)

    def forward(
        self, x: torch.Tensor, *, injection: bool = True, return_intermediates: bool = False
    ) -> Union[torch.Tensor, tuple[torch.Tensor, dict[str, list[torch.Tensor]]]]:
        """``(N, L, W) -> (N, L, W)``; with ``return_intermediates`` also the per-layer student inputs/outputs and frozen outputs."""
        inject = injection and self.resblocks_f is not None
        trace: dict[str, list[torch.Tensor]] = {"student_inputs": [], "student_outputs": [], "frozen_outputs": []}
        h_s, h_t = x, x
        for i, blk in enumerate(self.resblocks):
            if inject:
                mixed = self.injection_mix * (h_s + h_t)
                h_t = self.resblocks_f[i](h_t)
            else:
                mixed = h_s
            h_s = self._student(blk, mixed)
            if return_intermediates:
                trace["student_inputs"].append(mixed)
                trace["student_outputs"].append(h_s)
                if inject:
                    trace["frozen_outputs"].append(h_t)
        return (h_s, trace) if return_intermediates else h_s


class KIVisionTransformer(VisionTransformer):
    """CLIP's ViT with the knowledge-injection stack. Frames ``(N, 3, R, R)`` -> ``(N, E)``.

    Keeps CLIP's names (``conv1``, ``class_embedding``, ``positional_embedding``, ``ln_pre``,
    ``transformer.resblocks``, ``ln_post``, ``proj``) plus ``transformer.resblocks_f``.
    """

    def __init__(
        self,
        *,
        input_resolution: int,
        patch_size: int,
        width: int,
        layers: int,
        heads: int,
        output_dim: int,
        num_frames: int,
        injection: bool = True,
    ):
        super().__init__(
            input_resolution=input_resolution,
            patch_size=patch_size,
            width=width,
            layers=layers,
            heads=heads,
            output_dim=output_dim,
        )
        self.transformer = KITransformer(width, layers, heads, num_frames, injection=injection)
        self.injection = injection

    def forward_features(self, x: torch.Tensor, *, return_intermediates: bool = False):
        return self.transformer(self.embed(x), injection=self.injection, return_intermediates=return_intermediates)

    def forward_with_cls(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, 3, R, R)`` -> ``(proj (N, E), ln_post(CLS) (N, W))``, what the original tower returns."""
        tokens = self.forward_features(x)
        cls = self.ln_post(tokens[:, 0, :])
        return cls @ self.proj, cls

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_cls(x.reshape(-1, *x.shape[-3:]))[0]
