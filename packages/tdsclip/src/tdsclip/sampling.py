"""Which frames and pixels make a TDS-CLIP view: frame sampling, 5-frame windows, test geometry.

All indices are **0-based** (add 1 for the ``img_{:05d}.jpg`` / ``{:05d}.jpg`` file numbers).
Two dataset families, as in the original's ``datasets/sth.py`` and ``datasets/kinetics.py``:

* ``"something"`` (Something-Something v1/v2, frame folders): TSN sampling, resize to exactly
  320x256 (W x H), left/right label swaps when flipped;
* ``"kinetics"`` (video files): ATM-style inclusive segments, short side 256, no label swap.

Every sampled frame ``t`` brings its window ``t-2 .. t+2``; positions past the end stick at the
last frame; positions before the start read the first frame, or, with ``wrap=True``, wrap to the
end of the video (the original's decord behaviour on videos, kept only behind
``data.window_wrap``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Optional

import numpy as np

from videokd.data import samplers as S
from videokd.data import transforms as TF

__all__ = [
    "family",
    "train_centres",
    "val_centres",
    "test_centres",
    "windows",
    "resized_size",
    "crop_boxes",
    "flip_label",
    "SS_FLIP_PAIRS",
    "DENSE_WINDOW",
    "DENSE_STRIDE",
]

#: the left/right class pairs of Something-Something v1/v2 (pulling, pushing, camera direction)
SS_FLIP_PAIRS = TF.SSV2_FLIP_PAIRS
#: dense (I3D-style) sampling: 128-frame window, stride 16
DENSE_WINDOW, DENSE_STRIDE = 128, 16


def family(dataset: str) -> str:
    """``"something"`` for any dataset name containing it (as the original dispatches), else ``"kinetics"``."""
    return "something" if "something" in dataset.lower() else "kinetics"


def train_centres(
    dataset: str, num_frames: int, num_segments: int, *, rng: S.RNG = None, dense: bool = False
) -> np.ndarray:
    """Training frame per segment ``(T,)``. SS: TSN (``np.random`` calls); Kinetics: ``random.randint``."""
    if dense:
        start = S.dense_train_start(num_frames, DENSE_WINDOW, rng=rng)
        return S.dense_indices(num_frames, num_segments, DENSE_STRIDE, start)
    if family(dataset) == "something":
        return S.tsn_train_indices(num_frames, num_segments, rng=rng)
    return S.segment_inclusive_train_indices(num_frames, num_segments, rng=rng)


def val_centres(dataset: str, num_frames: int, num_segments: int) -> np.ndarray:
    """Single-view validation frames ``(T,)``."""
    if family(dataset) == "something":
        return S.tsn_val_indices(num_frames, num_segments)
    return S.uniform_indices(num_frames, num_segments)


def test_centres(
    dataset: str, num_frames: int, num_segments: int, num_clips: int, *, dense: bool = False
) -> np.ndarray:
    """Multi-clip test frames ``(C, T)``, clip-major.

    Kinetics needs ``N >= T`` (the original's result depends on the NumPy version otherwise); shorter
    videos fall back to the single-view frames repeated for every clip.
    """
    if dense:
        starts = S.dense_test_starts(num_frames, DENSE_WINDOW, num_clips)
        return np.stack([S.dense_indices(num_frames, num_segments, DENSE_STRIDE, int(s)) for s in starts])
    if family(dataset) == "something":
        return S.tsn_test_indices(num_frames, num_segments, num_clips)
    if num_frames < num_segments:
        return np.repeat(S.uniform_indices(num_frames, num_segments)[None], num_clips, axis=0)
    return S.uniform_multiclip_indices(num_frames, num_segments, num_clips)


def windows(centres: Sequence[int] | np.ndarray, num_frames: int, length: int = 5, *, wrap: bool = False) -> np.ndarray:
    """The ``length``-frame window of every centre: ``centres.shape + (length,)``."""
    return S.frame_windows(centres, num_frames, length, wrap=wrap)


def resized_size(dataset: str, input_size: int, frame_wh: Sequence[int]) -> tuple[int, int]:
    """``(width, height)`` of the frames after the test resize.

    Something-Something: exactly 320 x 256 whatever the aspect. Kinetics: short side 256 when the
    input is 224, otherwise ``input_size``; long side ``int(short * long / short_in)``.
    """
    w, h = int(frame_wh[0]), int(frame_wh[1])
    if family(dataset) == "something":
        return 320, 256
    target = 256 if input_size == 224 else input_size
    if min(w, h) == target:
        return w, h
    rh, rw = TF.short_side_size(h, w, target, order="product")
    return rw, rh


def scale_size(dataset: str, input_size: int) -> int | list[int]:
    """The resize target the original passes: ``[256, 320]`` (H, W) for SS, the short side for Kinetics."""
    if family(dataset) == "something":
        return [256, 320]
    return 256 if input_size == 224 else input_size


def crop_boxes(width: int, height: int, input_size: int, num_crops: int) -> tuple[list[list[int]], list[bool]]:
    """The 1/3/5/10-crop boxes ``(x0, y0, x1, y1)`` on the resized frame and whether each is mirrored."""
    return TF.oversample_boxes(width, height, input_size, num_crops)


def flip_label(label: int, swap_pairs: Sequence[Sequence[int]] = ()) -> int:
    """The label of a mirrored clip (pairs swap; other classes and Kinetics stay)."""
    return TF.flip_label(label, swap_pairs)


def flip_draw(p: float = 0.5, *, rng: Optional[random.Random] = None) -> bool:
    """Whether a training clip is mirrored (``uniform(0, 1) < p``)."""
    return (rng or random).random() < p
