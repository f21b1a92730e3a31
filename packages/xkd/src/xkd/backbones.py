"""Evaluation backbones built from an eval yaml's ``model.backbone`` section and loaded from weight files."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Union

import torch

from .checkpoint import WeightsError, load_backbone_file
from .vit import EvalAudioViT, EvalVideoViT

__all__ = ["VIT_CONFIGS", "build_eval_backbone", "load_eval_backbone", "pooled_features"]

# vit_config name -> (embed_dim, depth, num_heads)
VIT_CONFIGS: dict[str, tuple[int, int, int]] = {
    "micro": (32, 1, 2),  # this package's CPU test / demo size (micro_encoder)
    "tiny": (192, 12, 3),
    "small": (384, 12, 6),
    "base": (768, 12, 12),
    "large": (1024, 24, 16),
}


def build_eval_backbone(
    backbone_cfg: Mapping[str, Any], *, modality: str, vit_configs: Mapping[str, Any] | None = None
) -> Union[EvalVideoViT, EvalAudioViT]:
    """``model.backbone`` keys: video ``frame_size, num_frames, patch_spatial, patch_temporal``,
    audio ``spec_size, patch_spatial``; both ``vit_config`` (a name or ``[dim, depth, heads]``)."""
    table = {**VIT_CONFIGS, **(vit_configs or {})}
    vit = backbone_cfg.get("vit_config", "base")
    if isinstance(vit, str):
        if vit not in table:
            raise ValueError(f"model.backbone.vit_config {vit!r} unknown; known: {sorted(table)}")
        vit = table[vit]
    dim, depth, heads = (int(v) for v in vit)
    if modality == "video":
        return EvalVideoViT(
            frame_size=backbone_cfg.get("frame_size", (3, 112, 112)),
            num_frames=int(backbone_cfg.get("num_frames", 32)),
            patch_spatial=backbone_cfg.get("patch_spatial", (16, 16)),
            patch_temporal=int(backbone_cfg.get("patch_temporal", 4)),
            embed_dim=dim,
            depth=depth,
            num_heads=heads,
        )
    if modality == "audio":
        return EvalAudioViT(
            spec_size=backbone_cfg.get("spec_size", (80, 448)),
            patch_spatial=backbone_cfg.get("patch_spatial", (4, 16)),
            embed_dim=dim,
            depth=depth,
            num_heads=heads,
        )
    raise ValueError(f"modality must be 'video' or 'audio', got {modality!r}")


def load_state_strict(model: torch.nn.Module, state: Mapping[str, torch.Tensor], *, source: str) -> None:
    """Strict load with a message naming the file and the mismatching keys / shapes."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:4]}{'...' if len(missing) > 4 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:4]}{'...' if len(unexpected) > 4 else ''}")
        if wrong:
            parts.append(f"shape {wrong[:3]}")
        raise WeightsError(
            f"{source}: the weights do not fit the backbone of the config ({'; '.join(parts)}); check vit_config / "
            "patch sizes against the pre-training run"
        )
    model.load_state_dict(dict(state), strict=True)


def load_eval_backbone(
    path: Union[str, os.PathLike], backbone_cfg: Mapping[str, Any], *, modality: str, which: str = "student"
):
    model = build_eval_backbone(backbone_cfg, modality=modality)
    load_state_strict(model, load_backbone_file(path, modality=modality, which=which), source=str(path))
    return model


@torch.no_grad()
def pooled_features(model: torch.nn.Module, x: torch.Tensor, *, l2: bool = False) -> torch.Tensor:
    """``feat_op: pool`` features ``(B, D)`` (eval mode, no grad); ``l2`` normalises them."""
    feats = model.pooled(x)
    return torch.nn.functional.normalize(feats, dim=-1) if l2 else feats
