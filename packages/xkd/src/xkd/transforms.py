"""XKD video transforms.

Evaluation (pinned): ``strong3crop`` (SVM / linear probe: PIL-bilinear short side to
``int(crop / 0.875)``, centre crop, normalise, three (identical) uniform crops) and ``randaug3crop``
(finetune test: normalise, bilinear short side to ``crop``, start / centre / end crops).
Pre-training views: a global clip (random resized crop, flip, colour jitter) and local clips (a
random ``T / temporal_ratio`` window, smaller crop, grey, blur), all clip-consistent.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, Optional

import torch

from videokd.data import transforms as TF

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "strong3crop_eval",
    "randaug3crop_eval",
    "augment_clip",
    "PretrainVideoViews",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def strong3crop_eval(
    frames: torch.Tensor, crop: int, *, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
) -> torch.Tensor:
    """``(T, H, W, 3)`` uint8 -> ``(3, 3, T, crop, crop)``. The three crops are identical (the
    original's geometry); callers may keep one."""
    t, h, w, _ = frames.shape
    rh, rw = TF.short_side_size(h, w, int(crop / 0.875), order="product")
    x = TF.resize_frames_pil(frames, (rh, rw), resample="bilinear")
    x = TF.uint8_thwc_to_cthw(x, mean, std)
    x = TF.center_crop(x, crop, rounding="round")
    x = TF.resize_short_side(x, crop)
    return TF.three_crop(x, crop)


def randaug3crop_eval(
    frames: torch.Tensor, crop: int, *, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
) -> torch.Tensor:
    """``(T, H, W, 3)`` uint8 -> ``(3, 3, T, crop, crop)``: three crops along the long side."""
    return TF.three_crop(TF.resize_short_side(TF.uint8_thwc_to_cthw(frames, mean, std), crop), crop)


def _gaussian_blur(video: torch.Tensor, kernel: int, sigma: float) -> torch.Tensor:
    """``(C, T, H, W)`` separable Gaussian blur, reflect padding (torchvision's kernel)."""
    half = (kernel - 1) * 0.5
    x = torch.linspace(-half, half, kernel)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    c, t, h, w = video.shape
    y = video.permute(1, 0, 2, 3).reshape(t * c, 1, h, w)
    pad = kernel // 2
    y = torch.nn.functional.pad(y, (pad, pad, pad, pad), mode="reflect")
    y = torch.nn.functional.conv2d(y, k.view(1, 1, 1, -1))
    y = torch.nn.functional.conv2d(y, k.view(1, 1, -1, 1))
    return y.reshape(t, c, h, w).permute(1, 0, 2, 3)


def augment_clip(video: torch.Tensor, size: int, cfg: Mapping[str, Any], *, rng: random.Random) -> torch.Tensor:
    """Clip-consistent augmentation of ``video (C, T, H, W)`` float in [0, 1] -> normalised
    ``(C, T, size, size)``: random resized crop (``crop_scale`` or ``min_area``), flip ``p_flip``,
    colour jitter ``color`` (always applied, random op order), grey ``p_gray``, blur ``p_blur``."""
    scale = cfg.get("crop_scale", cfg.get("min_area", (0.08, 1.0)))
    scale = (float(scale), 1.0) if isinstance(scale, (int, float)) else tuple(float(v) for v in scale)
    x, _ = TF.random_resized_crop(video, size, scale=scale, rng=rng)
    if rng.random() < float(cfg.get("p_flip", 0.5)):
        x = TF.hflip(x)
    color = cfg.get("color")
    if color:
        with torch.random.fork_rng(devices=[]):  # the jitter draws from torch's global generator
            torch.manual_seed(rng.randrange(2**31))
            x = TF.ColorJitter(*[float(c) for c in color], p=1.0)(x.permute(1, 0, 2, 3)).permute(1, 0, 2, 3)
    if rng.random() < float(cfg.get("p_gray", 0.0)):
        x = TF.grayscale(x, channel_dim=0)
    if rng.random() < float(cfg.get("p_blur", 0.0)):
        x = _gaussian_blur(x, size // 20 * 2 + 1, rng.uniform(0.1, 2.0))
    x = x.clamp(0, 1)
    if cfg.get("normalize", True):
        x = TF.normalize(x, IMAGENET_MEAN, IMAGENET_STD, channel_dim=0)
    return x


class PretrainVideoViews:
    """``global_local`` video views from ``(T, H, W, 3)`` uint8 frames (already at the clip's fps).

    Returns ``[global (3, T, S, S), local_1 (3, T/r, s, s), ...]`` normalised, with ``S = crop_size``
    and ``s = round(S // spatial_ratio)``. Frames are first resized (short side ``S``, bilinear).
    """

    def __init__(self, *, crop_size: int, aug: Mapping[str, Any], rng: Optional[random.Random] = None) -> None:
        self.crop = int(crop_size)
        self.temporal_ratio = int(aug.get("temporal_ratio", 4))
        self.local_crop = int(round(self.crop // float(aug.get("spatial_ratio", 1.16))))
        self.num_local = int(aug.get("num_local_views", 1))
        self.g = dict(aug.get("global", {}))
        self.l = dict(aug.get("local", {}))
        self.rng = rng or random.Random()

    def __call__(self, frames: torch.Tensor) -> list[torch.Tensor]:
        t, h, w, _ = frames.shape
        rh, rw = TF.short_side_size(h, w, self.crop, order="product")
        video = TF.to_float(TF.resize_frames_pil(frames, (rh, rw), resample="bilinear").permute(3, 0, 1, 2))
        views = [augment_clip(video, self.crop, self.g, rng=self.rng)]
        lt = max(t // self.temporal_ratio, 1)
        for _ in range(self.num_local):
            start = self.rng.randrange(0, t - lt + 1)
            views.append(augment_clip(video[:, start : start + lt], self.local_crop, self.l, rng=self.rng))
        return views
