"""Video transforms with one set of random parameters per clip.

Conventions:

* Spatial functions act on the last two dims ``(..., H, W)``, so they work for ``(T, C, H, W)``
  and ``(C, T, H, W)`` alike; channel-wise functions take ``channel_dim`` (``-3`` for
  ``(T, C, H, W)``, ``0`` for ``(C, T, H, W)``).
* Boxes follow PIL: ``(left, upper, right, lower)`` with right/lower exclusive; offsets are
  ``(top, left)``.
* Random functions take an ``rng`` (``np.random.RandomState`` reproduces PySlowFast's legacy
  ``np.random`` draws exactly; ``random.Random`` the Python ones; ``None`` uses Python's global
  generator, reseeded per DataLoader worker by PyTorch) and return the drawn parameters, so the
  same clip can be rebuilt and parity fixtures that record the draws can be checked.
* The per-frame PIL path (:func:`resize_frames_pil`) exists for bit-exact parity with originals
  that resize PIL images; the tensor path is the fast default.

Normalisation constants: :data:`CLIP_MEAN`/:data:`CLIP_STD`, :data:`IMAGENET_MEAN`/:data:`IMAGENET_STD`
and the 3D-ResNets pixel statistics (:func:`resnet3d_mean`, :func:`resnet3d_std`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from .samplers import RNG, _randint, _uniform

__all__ = [
    "CLIP_MEAN",
    "CLIP_STD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ACTIVITYNET_MEAN",
    "KINETICS_MEAN",
    "KINETICS_STD",
    "SSV2_FLIP_PAIRS",
    "resnet3d_mean",
    "resnet3d_std",
    "resnet3d_norm",
    "to_float",
    "normalize",
    "uint8_thwc_to_cthw",
    "short_side_size",
    "resize",
    "resize_short_side",
    "resize_frames_pil",
    "crop",
    "crop_box",
    "center_offset",
    "center_crop",
    "uniform_crop",
    "three_crop",
    "oversample_boxes",
    "multiscale_scales",
    "multiscale_corner_box",
    "multiscale_random_box",
    "corner_box",
    "hflip",
    "flip_label",
    "random_hflip",
    "random_short_side_scale_jitter",
    "random_crop",
    "random_resized_crop_params",
    "random_resized_crop",
    "grayscale",
    "random_grayscale",
    "random_erasing",
    "VideoRandAugment",
    "ColorJitter",
]

# CLIP (OpenAI) and ImageNet statistics, for inputs in [0, 1]
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# 3D-ResNets (kd2d3d lineage) pixel statistics, for inputs in [0, 255]
ACTIVITYNET_MEAN = (114.7748, 107.7354, 99.4750)
KINETICS_MEAN = (110.63666788, 103.16065604, 96.29023126)
KINETICS_STD = (38.7568578, 37.88248729, 40.02898126)
# Something-Something left/right class pairs whose labels swap under a horizontal flip
# (pulling / pushing something from left to right, and the camera direction)
SSV2_FLIP_PAIRS = ((86, 87), (93, 94), (166, 167))

Interp = Literal["nearest", "bilinear", "bicubic"]


# ----------------------------------------------------------------------------- normalisation
def resnet3d_mean(dataset: str = "activitynet", norm_value: float = 255) -> list[float]:
    """3D-ResNets RGB mean of ``"activitynet"`` or ``"kinetics"`` divided by ``norm_value``
    (1: pixels in [0, 255]; 255: pixels in [0, 1])."""
    table = {"activitynet": ACTIVITYNET_MEAN, "kinetics": KINETICS_MEAN}
    if dataset not in table:
        raise ValueError(f"mean dataset must be one of {sorted(table)}, got {dataset!r}")
    return [m / norm_value for m in table[dataset]]


def resnet3d_std(norm_value: float = 255) -> list[float]:
    """3D-ResNets (Kinetics) RGB std divided by ``norm_value``."""
    return [s / norm_value for s in KINETICS_STD]


def resnet3d_norm(
    *, mean_dataset: str = "activitynet", norm_value: float = 1, no_mean_norm: bool = False, std_norm: bool = False
) -> tuple[list[float], list[float]]:
    """The (mean, std) the 3D-ResNets main script picks: ``std_norm`` -> dataset mean and std (even
    with ``no_mean_norm``); ``no_mean_norm`` alone -> mean 0, std 1; neither -> dataset mean, std 1."""
    if std_norm:
        return resnet3d_mean(mean_dataset, norm_value), resnet3d_std(norm_value)
    if no_mean_norm:
        return [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
    return resnet3d_mean(mean_dataset, norm_value), [1.0, 1.0, 1.0]


def to_float(video: torch.Tensor, scale: float = 255.0) -> torch.Tensor:
    """uint8 -> float32 divided by ``scale`` (a float input is only divided)."""
    return video.to(torch.float32) / scale


def _channel_shape(video: torch.Tensor, channel_dim: int) -> list[int]:
    shape = [1] * video.dim()
    shape[channel_dim] = -1
    return shape


def normalize(
    video: torch.Tensor, mean: Sequence[float], std: Sequence[float], *, channel_dim: int = -3
) -> torch.Tensor:
    """``(video - mean) / std`` per channel (out of place). ``(T, C, H, W)`` by default."""
    if video.shape[channel_dim] != len(mean):
        raise ValueError(f"normalize: dim {channel_dim} of shape {tuple(video.shape)} is not {len(mean)} channels")
    x = video if video.is_floating_point() else video.to(torch.float32)
    shape = _channel_shape(x, channel_dim)
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(shape)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(shape)
    return (x - m) / s


def uint8_thwc_to_cthw(
    frames: torch.Tensor, mean: Sequence[float] | None = None, std: Sequence[float] | None = None
) -> torch.Tensor:
    """uint8 ``(T, H, W, 3)`` -> float ``(3, T, H, W)`` in [0, 1], optionally normalised."""
    x = frames.permute(3, 0, 1, 2).to(torch.float32) / 255.0
    return normalize(x, mean, std, channel_dim=0) if mean is not None else x


# ----------------------------------------------------------------------------- resizing
def short_side_size(
    height: int, width: int, size: int, *, order: Literal["ratio", "product"] = "ratio"
) -> tuple[int, int]:
    """Output ``(h, w)`` with the short side ``size`` and the long side floored.

    ``order="ratio"`` computes ``floor(long / short * size)`` in floats (PySlowFast,
    pytorchvideo); ``"product"`` computes ``int(size * long / short)`` (3D-ResNets / TSN ``Scale``,
    exact). They differ only when the product is a whole number that float rounding misses.
    """

    def long_side(long: int, short: int) -> int:
        if order == "product":
            return int(size * long / short)
        return int(math.floor(long / short * size))

    if width <= height:
        return long_side(height, width), size
    return size, long_side(width, height)


def resize(
    video: torch.Tensor, size: tuple[int, int], *, interpolation: Interp = "bilinear", antialias: bool = False
) -> torch.Tensor:
    """Resize ``(..., H, W)`` to ``size = (h, w)`` with ``F.interpolate`` (``align_corners=False``).

    uint8 input is resized in float32 and rounded back to uint8.
    """
    *lead, h, w = video.shape
    if (h, w) == tuple(size):
        return video
    x = video.reshape(1, -1, h, w)
    was_uint8 = x.dtype == torch.uint8
    if not x.is_floating_point():
        x = x.to(torch.float32)
    kwargs = {} if interpolation == "nearest" else {"align_corners": False, "antialias": antialias}
    y = F.interpolate(x, size=tuple(size), mode=interpolation, **kwargs)
    if was_uint8:
        y = y.round_().clamp_(0, 255).to(torch.uint8)
    return y.reshape(*lead, *size)


def resize_short_side(
    video: torch.Tensor,
    size: int,
    *,
    interpolation: Interp = "bilinear",
    antialias: bool = False,
    order: Literal["ratio", "product"] = "ratio",
) -> torch.Tensor:
    """Resize so the short side is ``size`` (long side floored, see :func:`short_side_size`);
    a no-op if it already is."""
    h, w = video.shape[-2:]
    if min(h, w) == size:
        return video
    return resize(video, short_side_size(h, w, size, order=order), interpolation=interpolation, antialias=antialias)


def resize_frames_pil(
    frames: torch.Tensor | np.ndarray, size: tuple[int, int], *, resample: str = "bilinear"
) -> torch.Tensor:
    """Resize uint8 ``(T, H, W, 3)`` frames one by one with PIL to ``size = (h, w)``.

    Slower than :func:`resize`, but bit-identical to originals that resize PIL images (PIL
    filters antialias when downscaling).
    """
    from PIL import Image

    filters = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}
    arr = frames.numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    h, w = size
    out = np.stack([np.asarray(Image.fromarray(f).resize((w, h), filters[resample])) for f in arr])
    return torch.from_numpy(out)


# ----------------------------------------------------------------------------- cropping
def crop(video: torch.Tensor, top: int, left: int, height: int, width: int) -> torch.Tensor:
    """``video[..., top:top+height, left:left+width]`` (a view), with bounds checked."""
    h, w = video.shape[-2:]
    if top < 0 or left < 0 or top + height > h or left + width > w:
        raise ValueError(f"crop box top={top} left={left} {height}x{width} outside a {h}x{w} frame")
    return video[..., top : top + height, left : left + width]


def crop_box(video: torch.Tensor, box: Sequence[int]) -> torch.Tensor:
    """Crop a PIL-style ``(left, upper, right, lower)`` box."""
    left, upper, right, lower = (int(b) for b in box)
    return crop(video, upper, left, lower - upper, right - left)


def center_offset(dim: int, size: int, rounding: Literal["ceil", "round", "floor"] = "ceil") -> int:
    """Offset of a centred ``size`` window in ``dim``: ``ceil`` (PySlowFast, XKD finetune),
    ``round`` (Python's half-to-even: 3D-ResNets, TSN, torchvision) or ``floor``."""
    half = (dim - size) / 2
    if rounding == "ceil":
        return int(math.ceil(half))
    if rounding == "round":
        return int(round(half))
    return int(math.floor(half))


def center_crop(
    video: torch.Tensor, size: int | tuple[int, int], *, rounding: Literal["ceil", "round", "floor"] = "ceil"
) -> torch.Tensor:
    """Centre crop ``(..., H, W)`` to ``size`` (int: square)."""
    ch, cw = (size, size) if isinstance(size, int) else size
    h, w = video.shape[-2:]
    return crop(video, center_offset(h, ch, rounding), center_offset(w, cw, rounding), ch, cw)


def uniform_crop(video: torch.Tensor, size: int, index: int) -> torch.Tensor:
    """PySlowFast ``uniform_crop``: a ``size`` square at the start (0), centre (1, ``ceil``) or end
    (2) of the long axis, centred on the short axis."""
    h, w = video.shape[-2:]
    y, x = center_offset(h, size), center_offset(w, size)
    if h > w:
        y = {0: 0, 1: y, 2: h - size}[index]
    else:
        x = {0: 0, 1: x, 2: w - size}[index]
    return crop(video, y, x, size, size)


def three_crop(video: torch.Tensor, size: int) -> torch.Tensor:
    """Stack of the three :func:`uniform_crop` views: ``(3, ..., size, size)``."""
    return torch.stack([uniform_crop(video, size, i) for i in range(3)])


def oversample_boxes(width: int, height: int, crop_size: int, num_crops: int) -> tuple[list[list[int]], list[bool]]:
    """Test-time multi-crop boxes (TSN ``GroupOverSample`` geometry) and whether each view is flipped.

    With quarter steps ``ws = (W - S)//4``, ``hs = (H - S)//4``: ``1`` = centre crop (offsets
    rounded half-to-even); ``3`` = left ``(0, 2hs)``, right ``(4ws, 2hs)``, centre ``(2ws, 2hs)``;
    ``5`` = the four corners then ``(2ws, 2hs)``; ``10`` = each of the 5 followed by its mirror.
    Boxes are ``(x0, y0, x1, y1)``.
    """
    s = crop_size
    if s > width or s > height:
        raise ValueError(f"crop {s} larger than the {width}x{height} frame")
    ws, hs = (width - s) // 4, (height - s) // 4
    if num_crops == 1:
        x, y = int(round((width - s) / 2)), int(round((height - s) / 2))
        offsets, flips = [(x, y)], [False]
    elif num_crops == 3:
        offsets, flips = [(0, 2 * hs), (4 * ws, 2 * hs), (2 * ws, 2 * hs)], [False] * 3
    elif num_crops in (5, 10):
        five = [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs)]
        if num_crops == 5:
            offsets, flips = five, [False] * 5
        else:
            offsets = [o for o in five for _ in (0, 1)]
            flips = [False, True] * 5
    else:
        raise ValueError(f"num_crops must be 1, 3, 5 or 10, got {num_crops}")
    return [[x, y, x + s, y + s] for x, y in offsets], flips


def multiscale_scales(initial_scale: float = 1.0, n_scales: int = 5, scale_step: float = 0.84089641525) -> list[float]:
    """``initial * step**k`` for ``k < n`` by repeated multiplication (as the 3D-ResNets options do)."""
    scales = [initial_scale]
    for _ in range(1, n_scales):
        scales.append(scales[-1] * scale_step)
    return scales


def multiscale_corner_box(width: int, height: int, scale: float, position: str) -> list[int]:
    """3D-ResNets ``MultiScaleCornerCrop`` box: side ``c = int(min(W, H) * scale)`` in a corner
    (``tl/tr/bl/br``) or centred (``c``: centre ``(W//2, H//2)``, half-width ``c//2`` each way,
    so an odd ``c`` gives side ``c - 1``). Returns ``(x0, y0, x1, y1)``."""
    c = int(min(width, height) * scale)
    if position == "c":
        cx, cy, r = width // 2, height // 2, c // 2
        return [cx - r, cy - r, cx + r, cy + r]
    boxes = {
        "tl": [0, 0, c, c],
        "tr": [width - c, 0, width, c],
        "bl": [0, height - c, c, height],
        "br": [width - c, height - c, width, height],
    }
    if position not in boxes:
        raise ValueError(f"crop position must be one of c/tl/tr/bl/br, got {position!r}")
    return boxes[position]


def multiscale_random_box(
    width: int, height: int, scale: float, tl_x: float, tl_y: float
) -> tuple[list[float], list[int]]:
    """3D-ResNets ``MultiScaleRandomCrop``: side ``c = int(min(W, H) * scale)`` at
    ``(tl_x*(W-c), tl_y*(H-c))``. Returns the float box and the box PIL cuts (each coordinate
    rounded half-to-even)."""
    c = int(min(width, height) * scale)
    x0, y0 = tl_x * (width - c), tl_y * (height - c)
    box = [x0, y0, x0 + c, y0 + c]
    return box, [int(round(v)) for v in box]


def corner_box(width: int, height: int, size: int, position: str) -> list[int]:
    """3D-ResNets ``CornerCrop`` / ``CenterCrop`` box of side ``size`` (centre offsets rounded
    half-to-even)."""
    if position == "c":
        x, y = int(round((width - size) / 2)), int(round((height - size) / 2))
        return [x, y, x + size, y + size]
    boxes = {
        "tl": [0, 0, size, size],
        "tr": [width - size, 0, width, size],
        "bl": [0, height - size, size, height],
        "br": [width - size, height - size, width, height],
    }
    if position not in boxes:
        raise ValueError(f"crop position must be one of c/tl/tr/bl/br, got {position!r}")
    return boxes[position]


# ----------------------------------------------------------------------------- flips
def hflip(video: torch.Tensor) -> torch.Tensor:
    """Mirror the last (width) dim."""
    return video.flip(-1)


def flip_label(label: int, swap_pairs: Sequence[Sequence[int]] = SSV2_FLIP_PAIRS) -> int:
    """The label of a mirrored clip: classes in a left/right pair swap, every other one stays."""
    for a, b in swap_pairs:
        if label == a:
            return b
        if label == b:
            return a
    return label


def random_hflip(
    video: torch.Tensor,
    p: float = 0.5,
    *,
    rng: RNG = None,
    label: int | None = None,
    swap_pairs: Sequence[Sequence[int]] = (),
) -> tuple[torch.Tensor, bool, int | None]:
    """Mirror the whole clip when ``uniform(0, 1) < p``; swap ``label`` in ``swap_pairs`` if flipped.

    Returns ``(video, flipped, label)``.
    """
    flipped = _uniform(rng, 0.0, 1.0) < p
    if flipped:
        video = hflip(video)
        if label is not None:
            label = flip_label(label, swap_pairs)
    return video, flipped, label


# ----------------------------------------------------------------------------- random geometry
def random_short_side_scale_jitter(
    video: torch.Tensor, min_size: int, max_size: int, *, rng: RNG = None, interpolation: Interp = "bilinear"
) -> tuple[torch.Tensor, int]:
    """PySlowFast scale jitter: ``size = int(round(uniform(min, max)))``, then :func:`resize_short_side`.

    Returns ``(video, size)``.
    """
    size = int(round(_uniform(rng, min_size, max_size)))
    return resize_short_side(video, size, interpolation=interpolation), size


def random_crop(video: torch.Tensor, size: int, *, rng: RNG = None) -> tuple[torch.Tensor, int, int]:
    """PySlowFast random crop: offsets ``randint(0, dim - size)`` (upper end exclusive, so the last
    offset is never drawn), 0 when the side equals ``size``. Returns ``(video, y, x)``."""
    h, w = video.shape[-2:]
    if h == size and w == size:
        return video, 0, 0
    y = int(_randint(rng, 0, h - size)) if h > size else 0
    x = int(_randint(rng, 0, w - size)) if w > size else 0
    return crop(video, y, x, size, size), y, x


def random_resized_crop_params(
    height: int,
    width: int,
    scale: Sequence[float] = (0.08, 1.0),
    ratio: Sequence[float] = (3 / 4, 4 / 3),
    *,
    rng: RNG = None,
) -> tuple[int, int, int, int]:
    """Inception-style box ``(top, left, h, w)``: area fraction ``U(scale)``, log-uniform aspect
    ``ratio``, 10 attempts, then a centred box clamped to the ratio range (torchvision's rule)."""
    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * _uniform(rng, scale[0], scale[1])
        aspect = math.exp(_uniform(rng, log_lo, log_hi))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(_randint(rng, 0, height - h + 1))
            left = int(_randint(rng, 0, width - w + 1))
            return top, left, h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def random_resized_crop(
    video: torch.Tensor,
    size: int | tuple[int, int],
    *,
    scale: Sequence[float] = (0.08, 1.0),
    ratio: Sequence[float] = (3 / 4, 4 / 3),
    interpolation: Interp = "bilinear",
    rng: RNG = None,
) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """One random resized crop for the whole clip ``(..., H, W)``. Returns ``(video, (top, left, h, w))``."""
    out = (size, size) if isinstance(size, int) else tuple(size)
    box = random_resized_crop_params(*video.shape[-2:], scale, ratio, rng=rng)
    return resize(crop(video, *box), out, interpolation=interpolation), box


# ----------------------------------------------------------------------------- colour / erasing
def grayscale(video: torch.Tensor, *, channel_dim: int = -3) -> torch.Tensor:
    """ITU-R 601 luma (0.299, 0.587, 0.114) repeated over the 3 channels (dtype kept)."""
    x = video.to(torch.float32)
    r, g, b = x.unbind(channel_dim)
    y = (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(channel_dim)
    y = y.expand_as(x)
    if video.dtype == torch.uint8:
        return y.round().clamp(0, 255).to(torch.uint8)
    return y.to(video.dtype).contiguous()


def random_grayscale(video: torch.Tensor, p: float = 0.2, *, channel_dim: int = -3, rng: RNG = None) -> torch.Tensor:
    """:func:`grayscale` on the whole clip with probability ``p``."""
    return grayscale(video, channel_dim=channel_dim) if _uniform(rng, 0.0, 1.0) < p else video


def random_erasing(
    video: torch.Tensor,
    p: float = 0.25,
    *,
    scale: Sequence[float] = (0.02, 1 / 3),
    ratio: Sequence[float] = (0.3, 1 / 0.3),
    mode: Literal["pixel", "const"] = "pixel",
    channel_dim: int = -3,
    rng: RNG = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, tuple[int, int, int, int] | None]:
    """Erase one random box (same box in every frame) of a float clip with probability ``p``.

    ``mode="pixel"`` fills it with N(0, 1) noise (per pixel, channel and frame; meant for
    normalised input), ``"const"`` with zeros. Returns ``(video, box or None)``.
    """
    if not video.is_floating_point():
        raise TypeError("random_erasing expects a float (normalised) clip")
    if _uniform(rng, 0.0, 1.0) >= p:
        return video, None
    h, w = video.shape[-2:]
    area = h * w
    for _ in range(10):
        target = area * _uniform(rng, scale[0], scale[1])
        aspect = math.exp(_uniform(rng, math.log(ratio[0]), math.log(ratio[1])))
        eh, ew = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
        if 0 < eh < h and 0 < ew < w:
            top, left = int(_randint(rng, 0, h - eh + 1)), int(_randint(rng, 0, w - ew + 1))
            out = video.clone()
            region = out[..., top : top + eh, left : left + ew]
            if mode == "pixel":
                region.copy_(torch.randn(region.shape, generator=generator, dtype=region.dtype))
            else:
                region.zero_()
            return out, (top, left, eh, ew)
    return video, None


class ColorJitter:
    """Clip-consistent colour jitter (brightness, contrast, saturation, hue in a random order)
    on uint8 or float ``(T, 3, H, W)``; one set of factors for every frame (torchvision v2)."""

    def __init__(
        self, brightness: float = 0.4, contrast: float = 0.4, saturation: float = 0.4, hue: float = 0.2, p: float = 0.8
    ):
        from torchvision.transforms import v2

        self.p = p
        self.op = v2.ColorJitter(brightness, contrast, saturation, hue)

    def __call__(self, video: torch.Tensor) -> torch.Tensor:
        if torch.rand(()) >= self.p:
            return video
        return self.op(video)


class VideoRandAugment:
    """RandAugment with the same ops and magnitudes for every frame of a clip.

    Works on uint8 ``(T, 3, H, W)``. ``magnitude_std > 0`` draws the magnitude per clip from
    N(magnitude, std) clipped to [0, num_magnitude_bins - 1] (timm's ``mstd``), so
    ``VideoRandAugment(magnitude=7, num_ops=4, magnitude_std=0.5)`` is XKD's
    ``rand-m7-n4-mstd0.5``. Built on torchvision's v2 RandAugment, whose parameters are drawn once
    per call for the whole batch of frames.
    """

    def __init__(
        self, *, magnitude: int = 9, num_ops: int = 2, magnitude_std: float = 0.0, num_magnitude_bins: int = 31
    ):
        from torchvision.transforms import v2

        self.magnitude, self.magnitude_std, self.bins = magnitude, magnitude_std, num_magnitude_bins
        self.op = v2.RandAugment(num_ops=num_ops, magnitude=magnitude, num_magnitude_bins=num_magnitude_bins)

    def __call__(self, video: torch.Tensor) -> torch.Tensor:
        if video.dtype != torch.uint8 or video.dim() != 4 or video.shape[1] != 3:
            raise ValueError(f"VideoRandAugment expects uint8 (T, 3, H, W), got {video.dtype} {tuple(video.shape)}")
        if self.magnitude_std > 0:
            m = random.gauss(self.magnitude, self.magnitude_std)
            self.op.magnitude = int(round(min(max(m, 0.0), self.bins - 1)))
        return self.op(video)
