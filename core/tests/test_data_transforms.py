"""Video transforms: one set of random parameters per clip, geometry and errors."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from videokd.data import transforms as TF


def _static_clip(t=4, h=24, w=32, seed=0):
    """A clip whose frames are all the same image: a clip-consistent transform keeps them equal."""
    g = torch.Generator().manual_seed(seed)
    frame = torch.randint(0, 256, (1, 3, h, w), dtype=torch.uint8, generator=g)
    return frame.repeat(t, 1, 1, 1)  # (T, C, H, W)


def _frames_equal(x: torch.Tensor) -> bool:
    # float kernels may round differently per channel plane (SIMD tails): equal up to float error
    if x.is_floating_point():
        return all(torch.allclose(x[0], x[i], atol=1e-4, rtol=0) for i in range(1, x.shape[0]))
    return all(torch.equal(x[0], x[i]) for i in range(1, x.shape[0]))


def test_random_ops_share_parameters_across_frames():
    clip = _static_clip()
    torch.manual_seed(0)
    rng = random.Random(0)
    for _ in range(5):
        out, _ = TF.random_resized_crop(clip, 16, scale=(0.2, 1.0), rng=rng)
        assert out.shape == (4, 3, 16, 16) and _frames_equal(out)
        out, _, _ = TF.random_hflip(clip, 0.5, rng=rng)
        assert _frames_equal(out)
        out, size = TF.random_short_side_scale_jitter(clip.float(), 20, 28, rng=rng)
        assert min(out.shape[-2:]) == size and _frames_equal(out)
        out, y, x = TF.random_crop(out, 18, rng=rng)
        assert out.shape[-2:] == (18, 18) and _frames_equal(out)
        assert _frames_equal(TF.random_grayscale(clip, 1.0, rng=rng))
        erased, box = TF.random_erasing(clip.float(), 1.0, mode="const", rng=rng)
        assert box is not None and _frames_equal(erased)
        assert _frames_equal(TF.VideoRandAugment(magnitude=7, num_ops=4, magnitude_std=0.5)(clip))
        assert _frames_equal(TF.ColorJitter(p=1.0)(clip))


def test_random_resized_crop_params_valid():
    rng = np.random.RandomState(0)
    for _ in range(200):
        top, left, h, w = TF.random_resized_crop_params(30, 50, (0.08, 1.0), (3 / 4, 4 / 3), rng=rng)
        assert 0 <= top and 0 <= left and top + h <= 30 and left + w <= 50 and h > 0 and w > 0
    # impossible ratio: falls back to a centred box clamped to the ratio range
    assert TF.random_resized_crop_params(10, 100, (0.99, 1.0), (1.0, 1.0), rng=rng) == (0, 45, 10, 10)


def test_resize_geometry_and_dtype():
    clip = _static_clip(h=30, w=40)
    out = TF.resize_short_side(clip, 15)
    assert out.shape == (4, 3, 15, 20) and out.dtype == torch.uint8
    assert TF.resize_short_side(clip, 30) is clip
    assert TF.short_side_size(30, 40, 16) == (16, 21)
    assert TF.short_side_size(40, 30, 16) == (21, 16)
    # the two flooring orders differ only where float rounding loses an exact product
    assert TF.short_side_size(7, 10, 7 * 3, order="product") == (21, 30)
    pil = TF.resize_frames_pil(clip.permute(0, 2, 3, 1), (15, 20))
    assert pil.shape == (4, 15, 20, 3) and pil.dtype == torch.uint8


def test_crops():
    x = torch.arange(6 * 9).reshape(1, 6, 9)
    assert torch.equal(TF.center_crop(x, 4), x[:, 1:5, 3:7])  # ceil offsets: (1, 2.5 -> 3)
    assert torch.equal(TF.center_crop(x, 4, rounding="round"), x[:, 1:5, 2:6])  # round(2.5) = 2
    views = TF.three_crop(x, 6)
    assert views.shape == (3, 1, 6, 6)
    assert torch.equal(views[0], x[:, :, :6]) and torch.equal(views[2], x[:, :, 3:])
    portrait = x.transpose(1, 2)
    assert torch.equal(TF.three_crop(portrait, 6)[2], portrait[:, 3:, :])
    with pytest.raises(ValueError, match="outside a 6x9 frame"):
        TF.crop(x, 2, 0, 6, 6)
    with pytest.raises(ValueError, match="num_crops must be 1, 3, 5 or 10"):
        TF.oversample_boxes(40, 30, 20, 4)
    boxes, flips = TF.oversample_boxes(40, 30, 20, 10)
    assert len(boxes) == 10 and flips == [False, True] * 5
    with pytest.raises(ValueError, match="crop position"):
        TF.corner_box(40, 30, 20, "middle")


def test_normalisation_and_grayscale():
    clip = torch.rand(2, 3, 4, 5)
    norm = TF.normalize(clip, TF.CLIP_MEAN, TF.CLIP_STD)
    assert torch.allclose(norm[:, 1], (clip[:, 1] - TF.CLIP_MEAN[1]) / TF.CLIP_STD[1], atol=1e-6)
    cthw = TF.normalize(clip.transpose(0, 1), TF.IMAGENET_MEAN, TF.IMAGENET_STD, channel_dim=0)
    assert torch.allclose(cthw.transpose(0, 1), TF.normalize(clip, TF.IMAGENET_MEAN, TF.IMAGENET_STD), atol=1e-6)
    with pytest.raises(ValueError, match="not 3 channels"):
        TF.normalize(torch.rand(2, 4, 4, 5), TF.CLIP_MEAN, TF.CLIP_STD)
    gray = TF.grayscale(clip)
    assert torch.equal(gray[:, 0], gray[:, 2])
    assert torch.allclose(gray[:, 0], 0.299 * clip[:, 0] + 0.587 * clip[:, 1] + 0.114 * clip[:, 2], atol=1e-6)
    assert TF.resnet3d_norm(no_mean_norm=True) == ([0.0] * 3, [1.0] * 3)
    with pytest.raises(ValueError, match="mean dataset"):
        TF.resnet3d_mean("imagenet")
    frames = torch.randint(0, 256, (2, 5, 6, 3), dtype=torch.uint8)
    assert TF.uint8_thwc_to_cthw(frames).shape == (3, 2, 5, 6)


def test_flip_with_label_swap():
    assert TF.flip_label(86) == 87 and TF.flip_label(167) == 166 and TF.flip_label(5) == 5
    assert TF.flip_label(0, [(0, 1)]) == 1
    x = torch.arange(6.0).reshape(1, 1, 2, 3)
    out, flipped, label = TF.random_hflip(x, 1.0, label=93, swap_pairs=TF.SSV2_FLIP_PAIRS)
    assert flipped and label == 94 and torch.equal(out, x.flip(-1))
    out, flipped, label = TF.random_hflip(x, 0.0, label=93, swap_pairs=TF.SSV2_FLIP_PAIRS)
    assert not flipped and label == 93 and out is x


def test_random_erasing_pixel_mode_and_errors():
    clip = torch.zeros(3, 3, 20, 20)
    out, box = TF.random_erasing(
        clip, 1.0, mode="pixel", rng=random.Random(2), generator=torch.Generator().manual_seed(0)
    )
    top, left, h, w = box
    region = out[..., top : top + h, left : left + w]
    assert region.abs().sum() > 0 and out.sum() == region.sum()  # only the box changed
    assert TF.random_erasing(clip, 0.0)[1] is None
    with pytest.raises(TypeError, match="float"):
        TF.random_erasing(clip.to(torch.uint8), 1.0)
    with pytest.raises(ValueError, match="uint8"):
        TF.VideoRandAugment()(clip)
