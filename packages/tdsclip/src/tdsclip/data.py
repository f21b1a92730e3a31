"""Datasets: list files, frame folders / videos, and the training and test views.

List files (one video per line, label last, 0-based):

* frames (Something-Something v1/v2): ``<relative_dir> <num_frames> <label>``; for training and
  validation, lines whose listed frame count is below 8 are dropped (as the original does);
* video (Kinetics): ``<relative_path> <label>``.

Every item is a clip of ``T`` segments x a 5-frame window, as ``(T*5*3, S, S)`` float, frames
normalised with the CLIP mean/std (channel index ``(t*5 + m)*3 + rgb``).

* ``mode="train"``: ``num_sample`` independently augmented copies of the same frames (repeated
  augmentation; batch them with :func:`videokd.data.collate.repeated_augmentation_collate`):
  RandAugment (SS), resize, random resized crop, flip with the left/right label swaps (SS),
  random grayscale p=0.2 (Kinetics), normalisation, optional random erasing;
* ``mode="val"``: one view, resize + centre crop;
* ``mode="test"``: ``crops x clips`` views, crop-major, as ``(V, T*5*3, S, S)``.

Fixes against the original: the frame count is the number of files that match the frame
template (not every entry of the folder), a missing or unreadable frame is an error naming the
file (the original silently read frame 1 instead), and video windows never wrap to the end of
the video at its start unless ``window_wrap`` asks for the original behaviour.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from videokd.data import transforms as TF
from videokd.data.frames import FrameFolder, count_frames
from videokd.data.video import VideoReader
from videokd.errors import UserError

from . import sampling as SA
from .model import WINDOW

__all__ = ["VideoRecord", "DataListError", "read_list", "TDSDataset", "MIN_LISTED_FRAMES"]

#: the original drops training/validation lines whose listed frame count is below this
MIN_LISTED_FRAMES = 8


class DataListError(UserError, ValueError):
    """A list file, frame folder or video that cannot be used (names the file and line)."""


@dataclass(frozen=True)
class VideoRecord:
    path: str  # relative to the data root of its split
    num_frames: Optional[int]  # the list's count (frames modality), None for videos
    label: int


def read_list(path: Union[str, os.PathLike], *, modality: str, filter_short: bool = True) -> list[VideoRecord]:
    """Parse a list file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DataListError(f"list file not found: {path}")
    records = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            if modality == "video":
                if len(parts) < 2:
                    raise ValueError("expected '<path> <label>'")
                records.append(VideoRecord(" ".join(parts[:-1]), None, int(parts[-1])))
            else:
                if len(parts) < 3:
                    raise ValueError("expected '<dir> <num_frames> <label>'")
                n = int(parts[-2])
                if filter_short and n < MIN_LISTED_FRAMES:
                    continue
                records.append(VideoRecord(" ".join(parts[:-2]), n, int(parts[-1])))
        except ValueError as err:
            raise DataListError(f"{path}:{lineno}: {err}: {line!r}") from None
    if not records:
        raise DataListError(f"{path}: no usable lines (modality {modality!r})")
    return records


class TDSDataset(Dataset):
    """TDS-CLIP clips from a list file (see the module docstring for the modes and layouts)."""

    def __init__(
        self,
        records: Sequence[VideoRecord],
        root: Union[str, os.PathLike],
        *,
        dataset: str,
        modality: str,
        mode: str,
        num_segments: int,
        input_size: int,
        image_tmpl: str = "img_{:05d}.jpg",
        scale_size: Union[int, Sequence[int], None] = None,
        num_sample: int = 1,
        rand_aug: bool = False,
        rand_erase: bool = False,
        flip_pairs: Optional[Sequence[Sequence[int]]] = None,
        random_shift: bool = True,
        test_crops: int = 1,
        test_clips: int = 1,
        dense: bool = False,
        window_wrap: bool = False,
        video_backend: str = "pyav",
    ) -> None:
        if mode not in ("train", "val", "test"):
            raise ValueError(f"mode must be train/val/test, got {mode!r}")
        if modality not in ("RGB", "video"):
            raise DataListError(f"data.modality must be 'RGB' (frame folders) or 'video', got {modality!r}")
        self.records = list(records)
        self.root = Path(root)
        self.dataset, self.family = dataset, SA.family(dataset)
        self.modality, self.mode = modality, mode
        self.num_segments, self.input_size = num_segments, input_size
        self.image_tmpl = image_tmpl
        self.scale_size = SA.scale_size(dataset, input_size) if scale_size is None else scale_size
        self.num_sample = max(1, int(num_sample))
        self.rand_aug = rand_aug and self.family == "something"
        self.rand_erase = rand_erase
        if flip_pairs is None:
            flip_pairs = SA.SS_FLIP_PAIRS if self.family == "something" else ()
        self.flip_pairs = [tuple(p) for p in flip_pairs]
        self.grayscale_p = 0.2 if self.family == "kinetics" else 0.0
        self.random_shift = random_shift
        self.test_crops, self.test_clips, self.dense = test_crops, test_clips, dense
        self.window_wrap = window_wrap and modality == "video"
        self.video_backend = video_backend
        self._randaug = TF.VideoRandAugment(magnitude=7, num_ops=4, magnitude_std=0.5) if self.rand_aug else None

    def __len__(self) -> int:
        return len(self.records)

    @property
    def views(self) -> int:
        return self.test_crops * self.test_clips if self.mode == "test" else 1

    # ------------------------------------------------------------------ reading
    def _source(self, rec: VideoRecord) -> Path:
        p = self.root / rec.path
        if not p.exists():
            kind = "frame folder" if self.modality == "RGB" else "video file"
            raise DataListError(f"{kind} not found: {p} (listed in the {self.mode} list; data root {self.root})")
        return p

    def _read(self, rec: VideoRecord, centres_fn) -> torch.Tensor:
        """uint8 ``(..., 3, H, W)`` frames for the centres ``centres_fn(N)`` returns (any shape)."""
        src = self._source(rec)
        if self.modality == "RGB":
            n = count_frames(src, self.image_tmpl)
            if n == 0:
                raise DataListError(f"{src}: no frame files named like {self.image_tmpl!r}")
            centres = centres_fn(n)
            idx = SA.windows(centres, n, WINDOW)
            frames = FrameFolder(src, template=self.image_tmpl, num_frames=n).get_frames(idx.reshape(-1))
        else:
            if self.video_backend != "pyav":
                from videokd.data.video import probe_video, read_frames

                n = probe_video(src).num_frames
                centres = centres_fn(n)
                idx = SA.windows(centres, n, WINDOW, wrap=self.window_wrap)
                frames = read_frames(src, idx.reshape(-1), backend=self.video_backend)
            else:
                with VideoReader(src) as reader:
                    n = len(reader)
                    if n == 0:
                        raise DataListError(f"{src}: no decodable video frames")
                    centres = centres_fn(n)
                    idx = SA.windows(centres, n, WINDOW, wrap=self.window_wrap)
                    frames = reader.get_frames(idx.reshape(-1))
        # (K, H, W, 3) -> idx.shape + (3, H, W)
        return frames.permute(0, 3, 1, 2).reshape(*idx.shape, 3, *frames.shape[1:3])

    # ------------------------------------------------------------------ views
    def _resize(self, frames: torch.Tensor) -> torch.Tensor:
        """A list ``[H, W]`` resizes exactly (SS: 256 x 320), an int sets the short side (Kinetics)."""
        size = self.scale_size
        if isinstance(size, (list, tuple)):
            hw = (int(size[0]), int(size[1]))
        else:
            h, w = frames.shape[-2:]
            hw = (h, w) if min(h, w) == int(size) else TF.short_side_size(h, w, int(size), order="product")
        return TF.resize(frames, hw, interpolation="bicubic", antialias=True)

    def _finish(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 ``(T, 5, 3, S, S)`` -> normalised float ``(T*5*3, S, S)``."""
        x = TF.normalize(frames.to(torch.float32) / 255.0, TF.CLIP_MEAN, TF.CLIP_STD, channel_dim=-3)
        return x.reshape(-1, *x.shape[-2:])

    def _train_view(self, frames: torch.Tensor, label: int) -> dict[str, Any]:
        t = frames.shape[0]
        x = frames.reshape(-1, *frames.shape[-3:])  # (T*5, 3, H, W), one set of parameters per clip
        if self._randaug is not None:
            x = self._randaug(x)
        x = self._resize(x)
        x, _ = TF.random_resized_crop(x, self.input_size, interpolation="bilinear")
        x, _, label = TF.random_hflip(x, 0.5, label=label, swap_pairs=self.flip_pairs)
        if self.grayscale_p:
            x = TF.random_grayscale(x, self.grayscale_p)
        video = self._finish(x.reshape(t, WINDOW, *x.shape[-3:]))
        if self.rand_erase:
            v = video.reshape(-1, 3, *video.shape[-2:])
            v, _ = TF.random_erasing(v, 0.25, mode="pixel")
            video = v.reshape(video.shape)
        return {"video": video, "label": int(label)}

    def train_centres(self, num_frames: int) -> np.ndarray:
        """The training frame of each segment ``(T,)`` (0-based)."""
        if not (self.random_shift or self.dense):
            return SA.val_centres(self.dataset, num_frames, self.num_segments)
        # SS draws from NumPy's global stream (as the original), Kinetics from Python's (rng=None)
        rng = np.random if self.family == "something" else None
        return SA.train_centres(self.dataset, num_frames, self.num_segments, rng=rng, dense=self.dense)

    def __getitem__(self, index: int) -> Any:
        rec = self.records[index]
        t = self.num_segments
        if self.mode == "train":
            frames = self._read(rec, self.train_centres)  # (T, 5, 3, H, W)
            return [self._train_view(frames, rec.label) for _ in range(self.num_sample)]
        if self.mode == "val":
            frames = self._read(rec, lambda n: SA.val_centres(self.dataset, n, t))
            x = self._resize(frames.reshape(-1, *frames.shape[-3:]))
            boxes, _ = SA.crop_boxes(x.shape[-1], x.shape[-2], self.input_size, 1)
            x = TF.crop_box(x, boxes[0])
            return {"video": self._finish(x.reshape(t, WINDOW, *x.shape[-3:])), "label": rec.label, "index": index}
        # test: crops x clips views, crop-major
        frames = self._read(rec, lambda n: SA.test_centres(self.dataset, n, t, self.test_clips, dense=self.dense))
        c = frames.shape[0]  # (C, T, 5, 3, H, W)
        x = self._resize(frames.reshape(-1, *frames.shape[-3:]))
        boxes, flips = SA.crop_boxes(x.shape[-1], x.shape[-2], self.input_size, self.test_crops)
        views = []
        for box, flip in zip(boxes, flips):
            v = TF.crop_box(x, box)
            if flip:
                v = TF.hflip(v)
            v = v.reshape(c, t, WINDOW, *v.shape[-3:])
            views.extend(self._finish(v[k]) for k in range(c))
        return {"video": torch.stack(views), "label": rec.label, "index": index}
