"""CLIP's image preprocessing for PIL images and tensors (single images, batches, video frames)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

__all__ = ["CLIP_MEAN", "CLIP_STD", "Preprocess", "normalize"]

# per-channel statistics of CLIP's training images (RGB, on the [0, 1] scale)
CLIP_MEAN: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)


def normalize(x: torch.Tensor, mean: Sequence[float] = CLIP_MEAN, std: Sequence[float] = CLIP_STD) -> torch.Tensor:
    """``(x - mean) / std`` over the channel axis of ``(..., 3, H, W)`` float images in [0, 1]."""
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(3, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return (x - m) / s


class Preprocess:
    """Resize the short side to ``size`` (bicubic, antialiased), centre-crop ``size``, scale to [0, 1], normalise.

    Accepts a PIL image (converted to RGB), or a tensor ``(3, H, W)`` / ``(..., 3, H, W)`` that is
    uint8 (0..255) or float (0..1). Returns float32 ``(..., 3, size, size)``.
    """

    def __init__(self, size: int, mean: Sequence[float] = CLIP_MEAN, std: Sequence[float] = CLIP_STD):
        self.size = size
        self.mean = tuple(mean)
        self.std = tuple(std)

    def __call__(self, image: Any) -> torch.Tensor:
        if not isinstance(image, torch.Tensor):
            if not hasattr(image, "convert"):
                raise TypeError(f"expected a PIL image or a tensor (..., 3, H, W), got {type(image).__name__}")
            image = TF.pil_to_tensor(image.convert("RGB"))
        if image.dim() < 3 or image.shape[-3] != 3:
            raise ValueError(f"expected an RGB image tensor (..., 3, H, W), got shape {tuple(image.shape)}")
        lead = image.shape[:-3]
        x = image.reshape(-1, *image.shape[-3:])
        x = TF.resize(x, self.size, interpolation=InterpolationMode.BICUBIC, antialias=True)
        x = TF.center_crop(x, [self.size, self.size])
        # bicubic overshoots; uint8 inputs are clamped by the resize itself, floats here
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float().clamp(0.0, 1.0)
        x = normalize(x, self.mean, self.std)
        return x.reshape(*lead, *x.shape[-3:])

    def __repr__(self) -> str:
        return f"Preprocess(size={self.size}, interpolation=bicubic, center_crop, mean={self.mean}, std={self.std})"
