"""KICLIP's video data: the original list files, PySlowFast's PyAV clip sampling and the CLIP transforms.

List files: one video per line, ``relative/path<SEP>label`` (or ``path<SEP>x<SEP>label``), no header;
the path is joined with the video root (``DATA.PATH_PREFIX``). The separator is ``","`` in every
KICLIP script, but K400's ``train_s*.csv`` / ``test_1.csv`` are space-separated: upstream then reads
every row as "path only, label 0". Here a separator of ``"auto"`` (the default) detects the separator
per file, and a row without a label is an error naming the file and line.

Sampling (:func:`clip_frame_indices`): 8 frames spanning ``SR*T/TARGET_FPS*fps`` source frames;
training draws the window start at random, testing takes view ``v`` of ``V`` at ``v*(N-S)/V``.
Transforms: uint8 -> /255 -> CLIP mean/std -> ``(3, T, H, W)``; train: short side jittered in
``TRAIN_JITTER_SCALES``, random crop (upper-exclusive offsets), flip p=0.5; test: short side to
``TRAIN_JITTER_SCALES[0]`` and a centre crop (upstream's single-crop test path).

Repeated augmentation (``AUG.NUM_SAMPLE`` = N > 1, PySlowFast's ``num_aug``): a training item decodes
one clip (one temporal window) and returns N independently augmented copies of it (scale, crop and
flip drawn anew for each), all with the video's label and index; batch them with
:func:`videokd.data.collate.repeated_augmentation_collate`, which flattens them video-major, so a
loader batch of B videos gives the model ``B*N`` clips (upstream's ``multiple_samples_collate``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch.utils.data import Dataset

from videokd.data import transforms as TF
from videokd.data.samplers import slowfast_clip_indices
from videokd.data.video import VideoReader
from videokd.errors import UserError

__all__ = [
    "ListFileError",
    "VideoItem",
    "read_list_file",
    "clip_frame_indices",
    "eval_transform",
    "train_transform",
    "VideoClips",
]


class ListFileError(UserError, ValueError):
    """A split list that cannot be parsed (names file and line)."""


@dataclass(frozen=True)
class VideoItem:
    path: str
    label: int


def _split(line: str, sep: str) -> list[str]:
    if sep == "auto":
        sep = "," if "," in line else None  # type: ignore[assignment]
    return [p.strip() for p in (line.split(sep) if sep else line.split())]


def read_list_file(
    path: str | os.PathLike,
    *,
    separator: str = "auto",
    prefix: str | os.PathLike = "",
    num_classes: Optional[int] = None,
) -> list[VideoItem]:
    """Parse a split list; labels must lie in ``[0, num_classes)`` when it is given."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "split list not found", str(path))
    items: list[VideoItem] = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = _split(line, separator)
        if len(parts) not in (2, 3):
            raise ListFileError(
                f"{path}:{n}: expected 'path{separator if separator != 'auto' else ','}label' (or 3 fields), got {line!r}"
                + (" - is the file space-separated? use the separator 'auto'" if len(parts) == 1 else "")
            )
        try:
            label = int(parts[-1])
        except ValueError as err:
            raise ListFileError(f"{path}:{n}: the label {parts[-1]!r} is not an integer") from err
        if label < 0 or (num_classes is not None and label >= num_classes):
            raise ListFileError(f"{path}:{n}: label {label} outside the {num_classes} classes of the label file")
        items.append(VideoItem(os.path.join(os.fspath(prefix), parts[0]), label))
    if not items:
        raise ListFileError(f"{path}: no videos listed")
    return items


def clip_frame_indices(
    num_frames: int,
    fps: float,
    *,
    sampling_rate: int,
    clip_frames: int,
    target_fps: float,
    clip_idx: int,
    num_clips: int,
    duration_known: bool = True,
    pts_per_frame: float = 1.0,
    rng=None,
) -> tuple[np.ndarray, float, float]:
    """Source frames of one clip (``clip_idx=-1``: a training clip with a random start); see the core's
    :func:`~videokd.data.samplers.slowfast_clip_indices`. Returns ``(indices (T,), start, end)``."""
    return slowfast_clip_indices(
        num_frames,
        fps,
        sampling_rate=sampling_rate,
        clip_frames=clip_frames,
        target_fps=target_fps,
        clip_idx=clip_idx,
        num_clips=num_clips,
        duration_known=duration_known,
        pts_per_frame=pts_per_frame,
        rng=rng,
    )


def eval_transform(
    frames: torch.Tensor, *, mean: Sequence[float], std: Sequence[float], short_side: int, crop: int
) -> torch.Tensor:
    """uint8 ``(T, H, W, 3)`` -> normalised ``(3, T, crop, crop)``: short side to ``short_side``, centre crop."""
    x = TF.uint8_thwc_to_cthw(frames, mean, std)
    return TF.center_crop(TF.resize_short_side(x, short_side), crop, rounding="ceil")


def train_transform(
    frames: torch.Tensor,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    jitter: Sequence[int],
    crop: int,
    flip: bool = True,
    rng=None,
) -> tuple[torch.Tensor, dict]:
    """uint8 ``(T, H, W, 3)`` -> ``(3, T, crop, crop)`` with scale jitter, random crop and flip.

    ``rng``: a ``numpy.random.RandomState`` (default: NumPy's global one, as upstream). Also returns
    the drawn parameters.
    """
    x = TF.uint8_thwc_to_cthw(frames, mean, std)
    x, size = TF.random_short_side_scale_jitter(x, jitter[0], jitter[1], rng=rng)
    resized = list(x.shape[-2:])
    x, y_off, x_off = TF.random_crop(x, crop, rng=rng)
    x, flipped, _ = TF.random_hflip(x, 0.5 if flip else 0.0, rng=rng)
    return x, {"scale_size": size, "resized_hw": resized, "y_offset": y_off, "x_offset": x_off, "flipped": flipped}


class VideoClips(Dataset):
    """Clips of the videos in a list file.

    ``train=True``: one item per video, a random window and augmentation (seeded by the loader);
    with ``num_sample`` N > 1 the item is a list of N dicts, N augmentations of the same decoded window.
    ``train=False``: ``views`` items per video (view-major inside each video, row
    ``video * views + view``), each a fixed window with the test transform; every clip is returned
    once (no dropped clips).

    Items: ``{"video": (3, T, S, S) float, "label": int, "index": video row, "clip_index": item}``.
    """

    def __init__(
        self,
        items: Sequence[VideoItem],
        *,
        train: bool,
        num_frames: int = 8,
        sampling_rate: int = 16,
        target_fps: float = 30,
        views: int = 3,
        jitter: Sequence[int] = (224, 256),
        crop: int = 224,
        mean: Sequence[float] = (0.48145466, 0.4578275, 0.40821073),
        std: Sequence[float] = (0.26862954, 0.26130258, 0.27577711),
        flip: bool = True,
        num_sample: int = 1,
    ):
        if int(num_sample) < 1:
            raise ValueError(f"num_sample must be >= 1, got {num_sample}")
        self.items = list(items)
        self.num_sample = int(num_sample) if train else 1
        self.train = train
        self.num_frames, self.sampling_rate, self.target_fps = num_frames, sampling_rate, target_fps
        self.views = 1 if train else views
        self.jitter, self.crop, self.mean, self.std, self.flip = tuple(jitter), crop, tuple(mean), tuple(std), flip

    def __len__(self) -> int:
        return len(self.items) * self.views

    def __getitem__(self, i: int) -> dict | list[dict]:
        video, view = divmod(i, self.views)
        item = self.items[video]
        with VideoReader(item.path) as reader:
            info = reader.info
            idx, _, _ = clip_frame_indices(
                info.num_frames,
                info.fps or float(self.target_fps),
                sampling_rate=self.sampling_rate,
                clip_frames=self.num_frames,
                target_fps=self.target_fps,
                clip_idx=-1 if self.train else view,
                num_clips=self.views,
                rng=None,  # training windows: Python's random, seeded per sample by the loader
            )
            frames = reader.get_frames(idx)
        if not self.train:
            clip = eval_transform(frames, mean=self.mean, std=self.std, short_side=self.jitter[0], crop=self.crop)
            return {"video": clip, "label": item.label, "index": video, "clip_index": i}
        samples = []
        for _ in range(self.num_sample):  # each copy draws its own scale, crop and flip
            clip, _ = train_transform(
                frames, mean=self.mean, std=self.std, jitter=self.jitter, crop=self.crop, flip=self.flip
            )
            samples.append({"video": clip, "label": item.label, "index": video, "clip_index": i})
        return samples[0] if self.num_sample == 1 else samples
