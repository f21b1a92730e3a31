"""DINO projection head with XKD's quirks, and the backbone + head wrapper."""

from __future__ import annotations

import re
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["WeightNormLinear", "DINOHead", "Wrapper", "parse_projector_cfg", "PROJECTOR_SIZES"]

PROJECTOR_SIZES: dict[str, dict[str, Any]] = {}


def parse_projector_cfg(cfg: Any) -> dict[str, Any]:
    """``'2048-gelu-3-256-8192-norm3'`` (hidden-act-nlayers-bottleneck-out-norm) or a dict with
    ``hidden_dim, act, nlayers, bottleneck_dim, out_dim`` -> that dict."""
    if isinstance(cfg, dict):
        return dict(cfg)
    if cfg in PROJECTOR_SIZES:
        return dict(PROJECTOR_SIZES[cfg])
    m = re.fullmatch(r"(\d+)-(\w+)-(\d+)-(\d+)-(\d+)(?:-\w+)?", str(cfg))
    if not m:
        raise ValueError(f"projector_cfg {cfg!r}: expected 'hidden-act-nlayers-bottleneck-out[-norm]'")
    return {
        "hidden_dim": int(m[1]),
        "act": m[2],
        "nlayers": int(m[3]),
        "bottleneck_dim": int(m[4]),
        "out_dim": int(m[5]),
    }


class WeightNormLinear(nn.Module):
    """Bias-free weight-normalised linear layer with the ``weight_g (K, 1)`` / ``weight_v (K, d)`` keys;
    ``weight = weight_g * weight_v / ||weight_v||`` (norm per output row). ``weight_g`` is frozen at 1."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight_g = nn.Parameter(torch.ones(out_dim, 1), requires_grad=False)
        self.weight_v = nn.Parameter(torch.empty(out_dim, in_dim))
        nn.init.trunc_normal_(self.weight_v, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight_g * self.weight_v / self.weight_v.norm(dim=1, keepdim=True)
        return F.linear(x, weight)


class DINOHead(nn.Module):
    """``mlp.0`` Linear -> ``mlp.1`` LN -> GELU -> ``mlp.3`` Linear -> ``mlp.4`` (the SAME LN) -> GELU
    -> ``mlp.6`` Linear -> L2 normalise -> ``last_layer`` (weight-normed) -> non-affine LayerNorm.

    Input ``(B, D)`` (the patch-token mean); output ``(B, out_dim)``.
    """

    def __init__(self, in_dim: int, *, out_dim: int, hidden_dim: int, bottleneck_dim: int, nlayers: int = 3, **_):
        super().__init__()
        if nlayers < 2:
            raise ValueError(f"DINOHead needs nlayers >= 2, got {nlayers}")
        norm = nn.LayerNorm(hidden_dim)  # one module, inserted after every hidden linear (as the original)
        layers: list[nn.Module] = [nn.Linear(in_dim, hidden_dim), norm, nn.GELU()]
        for _ in range(nlayers - 2):
            layers += [nn.Linear(hidden_dim, hidden_dim), norm, nn.GELU()]
        layers.append(nn.Linear(hidden_dim, bottleneck_dim))
        self.mlp = nn.Sequential(*layers)
        self.last_layer = WeightNormLinear(bottleneck_dim, out_dim)
        self.last_norm = nn.LayerNorm(out_dim, elementwise_affine=False)
        for m in self.mlp:
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.normalize(self.mlp(x), dim=-1, p=2, eps=1e-12)
        return self.last_norm(self.last_layer(x))


class Wrapper(nn.Module):
    """``backbone`` + ``head``: the head always gets the mean of the patch tokens (CLS excluded)."""

    def __init__(self, backbone: nn.Module, head: DINOHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(head input (B, D), head output (B, K))``."""
        feats = self.backbone(x)[:, 1:].mean(dim=1)
        return feats, self.head(feats)
