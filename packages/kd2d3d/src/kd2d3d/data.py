"""Datasets of the 3D-ResNets lineage: sample lists from an ActivityNet-style annotation json and
frame folders, and the clip pipeline of each phase.

Frame folders: ``<video_path>/<label>/<key>/image_%05d.jpg`` plus ``n_frames`` (UCF-101, HMDB-51,
Kinetics; Kinetics testing videos under ``<video_path>/test/<key>``), or
``<video_path>/v_<key>/image_%05d.jpg`` plus ``fps`` (ActivityNet v1.3). Frame numbers are 1-based.

A sample is a dict ``{"video", "segment", "n_frames" | "fps", "video_id", "label",
"frame_indices"}`` exactly as the lineage built it; a clip tensor is ``(3, T, S, S)`` float32.

Sample lists (the lineage's rules): videos in json order, only the requested subset; a missing
folder or ``n_frames <= 0`` is skipped; one training sample per video with every frame (the
temporal random crop picks the window); validation ``n_val_samples`` clips per video with start step
``max(1, ceil((n - 1 - T) / (n_samples - 1)))``; test clips every ``T`` frames (see
:func:`videokd.data.samplers.clip_index_lists`).
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from videokd.data import samplers as S
from videokd.data import transforms as TF
from videokd.errors import UserError

__all__ = [
    "AnnotationError",
    "load_annotation",
    "class_names",
    "make_samples",
    "make_activitynet_samples",
    "ClipTransform",
    "FrameClipDataset",
    "read_frames",
    "disk_n_frames",
    "disk_fps",
    "disk_n_images",
]

FRAME_NAME = "image_{:05d}.jpg"


class AnnotationError(UserError, ValueError):
    """An annotation json that is missing or not in the ActivityNet-style layout."""


def load_annotation(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(
            f"annotation json not found: {path} (make it with tools/ucf101_json.py, hmdb51_json.py or kinetics_json.py)"
        )
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise AnnotationError(f"{path}: not valid json ({err})") from None
    if not isinstance(data, dict) or "database" not in data:
        raise AnnotationError(f"{path}: expected an object with 'labels' and 'database' (ActivityNet-style json)")
    return data


def class_names(annotation: Mapping[str, Any], dataset: str = "ucf101") -> list[str]:
    """Class index -> name: ``labels`` in order, or (ActivityNet) the taxonomy leaves in list order."""
    if dataset == "activitynet":
        parents = {node["parentId"] for node in annotation["taxonomy"]}
        return [node["nodeName"] for node in annotation["taxonomy"] if node["nodeId"] not in parents]
    return list(annotation["labels"])


# --------------------------------------------------------------------------- what is on disk
def disk_n_frames(video_dir: str) -> Optional[int]:
    """``n_frames`` of a frame folder, or None when the folder does not exist."""
    if not os.path.isdir(video_dir):
        return None
    path = os.path.join(video_dir, "n_frames")
    try:
        with open(path) as fh:
            return int(float(fh.read().strip() or 0))
    except FileNotFoundError:
        raise AnnotationError(f"{path} is missing: run tools/n_frames_*.py over the frame folders first") from None
    except ValueError:
        raise AnnotationError(f"{path}: not a number") from None


def disk_fps(video_dir: str) -> float:
    path = os.path.join(video_dir, "fps")
    try:
        with open(path) as fh:
            return float(fh.read().strip())
    except FileNotFoundError:
        raise AnnotationError(f"{path} is missing: run tools/fps.py over the videos first") from None


def disk_n_images(video_dir: str) -> int:
    """Consecutive frames ``1..n`` present in a folder (0 when the folder does not exist)."""
    if not os.path.isdir(video_dir):
        return 0
    n = 0
    while os.path.exists(os.path.join(video_dir, FRAME_NAME.format(n + 1))):
        n += 1
    return n


# --------------------------------------------------------------------------- sample lists
def make_samples(
    annotation: Mapping[str, Any],
    video_path: str,
    subset: str,
    *,
    dataset: str,
    n_samples: int,
    sample_duration: int,
    n_frames_of: Callable[[str], Optional[int]] = disk_n_frames,
) -> tuple[list[dict], dict[int, str]]:
    """UCF-101 / HMDB-51 / Kinetics sample lists and ``idx_to_class``.

    ``n_frames_of(video_dir)`` gives a folder's ``n_frames`` (None: folder missing); ``subset`` is
    ``training`` / ``validation`` / ``testing``; ``n_samples`` 1 (training), > 1 (validation) or
    0 (test, non-overlapping clips).
    """
    if dataset == "activitynet":
        raise ValueError("use make_activitynet_samples for ActivityNet")
    names = class_names(annotation, dataset)
    class_to_idx = {name: i for i, name in enumerate(names)}
    samples = []
    for key, entry in annotation["database"].items():
        if entry["subset"] != subset:
            continue
        if dataset == "kinetics" and subset == "testing":
            rel, label, video_id = f"test/{key}", -1, key[:-14]
        else:
            name = entry["annotations"]["label"]
            if name not in class_to_idx:
                raise AnnotationError(f"video {key}: label {name!r} is not in the json's labels list")
            rel, label = f"{name}/{key}", class_to_idx[name]
            video_id = key[:-14] if dataset == "kinetics" else key
        video = f"{video_path}/{rel}"
        n = n_frames_of(video)
        if n is None or n <= 0:
            continue
        base = {"video": video, "segment": [1, n], "n_frames": n, "video_id": video_id, "label": label}
        for idx in S.clip_index_lists(n, sample_duration, n_samples):
            samples.append({**base, "segment": [1, n], "frame_indices": idx.tolist()})
    return samples, dict(enumerate(names))


# the lineage drops ActivityNet index lists shorter than this, whatever sample_duration is
ACTIVITYNET_MIN_FRAMES = 16


def make_activitynet_samples(
    annotation: Mapping[str, Any],
    video_path: str,
    subset: str,
    *,
    n_samples: int,
    sample_duration: int,
    untrimmed: bool = False,
    n_images_of: Callable[[str], int] = disk_n_images,
    fps_of: Callable[[str], float] = disk_fps,
    min_frames: int = ACTIVITYNET_MIN_FRAMES,
) -> tuple[list[dict], dict[int, str]]:
    """ActivityNet v1.3 sample lists: each timed segment ``[s, e]`` seconds -> frames
    ``[ceil(s*fps), ceil(e*fps))`` (a start of 0 moved to 1), clip lists from the segment start,
    each cut at the first missing image and dropped below ``min_frames`` (16 in the lineage, whatever
    T is). ``untrimmed`` (testing): the whole video, up to its last image, without a label."""
    names = class_names(annotation, "activitynet")
    class_to_idx = {name: i for i, name in enumerate(names)}
    samples = []
    for key, entry in annotation["database"].items():
        if entry["subset"] != subset:
            continue
        video = f"{video_path}/v_{key}"
        n_images = n_images_of(video)
        if n_images <= 0:
            continue
        fps = fps_of(video)
        if untrimmed:
            segments = [(None, 1, n_images)]
        else:
            segments = []
            for ann in entry["annotations"]:
                begin = max(1, math.ceil(ann["segment"][0] * fps))
                segments.append((class_to_idx[ann["label"]], begin, math.ceil(ann["segment"][1] * fps)))
        for label, begin, end in segments:
            base = {"video": video, "segment": [begin, end], "fps": fps, "video_id": key}
            if label is not None:
                base["label"] = label
            if n_samples == 1:
                lists = [np.arange(begin, min(end, n_images + 1))]
            else:
                lists = S.clip_index_lists(
                    end - begin, sample_duration, n_samples, begin=begin, end=end, last_frame=n_images
                )
            for idx in lists:
                if len(idx) >= min_frames:
                    samples.append({**base, "frame_indices": idx.tolist()})
    return samples, dict(enumerate(names))


# --------------------------------------------------------------------------- clip pipeline
@dataclass
class ClipTransform:
    """One phase's spatial pipeline on uint8 frames ``(T, H, W, 3)`` -> float ``(3, T, S, S)``.

    * ``train``: multi-scale crop (``train_crop`` corner / center / random; one draw per clip) ->
      bilinear (PIL) resize to S x S -> horizontal flip when the clip's draw ``p < 0.5``.
    * ``val``: short side -> S (PIL bilinear, skipped when already S), centre crop.
    * ``test``: short side -> ``int(S / scale_in_test)``, crop at ``crop_position_in_test``.

    Then ``/ norm_value`` and ``(x - mean) / std`` per RGB channel.
    """

    phase: str
    sample_size: int
    norm_value: float = 1
    mean: Sequence[float] = (0.0, 0.0, 0.0)
    std: Sequence[float] = (1.0, 1.0, 1.0)
    scales: Sequence[float] = field(default_factory=TF.multiscale_scales)
    train_crop: str = "corner"
    scale_in_test: float = 1.0
    crop_position_in_test: str = "c"

    @classmethod
    def from_opts(cls, phase: str, opts: Mapping[str, Any], mean, std) -> ClipTransform:
        return cls(
            phase=phase,
            sample_size=opts["sample_size"],
            norm_value=opts["norm_value"],
            mean=mean,
            std=std,
            scales=opts["scales"],
            train_crop=opts["train_crop"],
            scale_in_test=opts["scale_in_test"],
            crop_position_in_test=opts["crop_position_in_test"],
        )

    def draw(self, rng: Any = random) -> dict[str, Any]:
        """The per-clip random choices of the training pipeline."""
        scale_index = rng.randrange(len(self.scales))
        params: dict[str, Any] = {"scale_index": scale_index, "scale": self.scales[scale_index]}
        if self.train_crop == "random":
            params["tl_x"], params["tl_y"] = rng.random(), rng.random()
        else:
            positions = ["c"] if self.train_crop == "center" else ["c", "tl", "tr", "bl", "br"]
            params["crop_position"] = positions[rng.randrange(len(positions))]
        params["flip_p"] = rng.random()
        return params

    def __call__(self, frames: torch.Tensor, params: Optional[Mapping[str, Any]] = None) -> torch.Tensor:
        s = self.sample_size
        h, w = frames.shape[1:3]
        if self.phase == "train":
            p = params if params is not None else self.draw()
            if "crop_position" in p:
                box = TF.multiscale_corner_box(w, h, p["scale"], p["crop_position"])
            else:
                _, box = TF.multiscale_random_box(w, h, p["scale"], p["tl_x"], p["tl_y"])
            frames = _crop(frames, box)
            frames = TF.resize_frames_pil(frames, (s, s), resample="bilinear")
            if p["flip_p"] < 0.5:
                frames = frames.flip(2)
        else:
            short = s if self.phase == "val" else int(s / self.scale_in_test)
            if min(h, w) != short:
                frames = TF.resize_frames_pil(frames, TF.short_side_size(h, w, short, order="product"))
            h, w = frames.shape[1:3]
            position = "c" if self.phase == "val" else self.crop_position_in_test
            frames = _crop(frames, TF.corner_box(w, h, s, position))
        x = TF.to_float(frames.permute(3, 0, 1, 2), self.norm_value)  # (3, T, S, S)
        return TF.normalize(x, list(self.mean), list(self.std), channel_dim=0)


def _crop(frames: torch.Tensor, box: Sequence[int]) -> torch.Tensor:
    """uint8 ``(T, H, W, 3)`` cut to ``box = (x0, y0, x1, y1)``."""
    return TF.crop_box(frames.permute(0, 3, 1, 2), box).permute(0, 2, 3, 1)


def read_frames(video_dir: str, indices: Sequence[int]) -> torch.Tensor:
    """uint8 ``(T, H, W, 3)`` of frames ``indices`` (1-based); stops at the first missing file as
    the lineage's loader did (the caller loop-pads)."""
    out = []
    for i in indices:
        path = os.path.join(video_dir, FRAME_NAME.format(int(i)))
        if not os.path.exists(path):
            break
        with Image.open(path) as img:
            out.append(np.asarray(img.convert("RGB")))
    if not out:
        raise AnnotationError(f"{video_dir}: no frame {FRAME_NAME.format(int(indices[0]))} (empty or wrong folder)")
    return torch.from_numpy(np.stack(out))


class FrameClipDataset(Dataset):
    """``samples`` (from :func:`make_samples`) -> ``{"clip": (3, T, S, S), "label", "index"}``.

    Training draws the temporal window (:func:`~videokd.data.samplers.temporal_random_crop`, the
    lineage's range) and the crop/flip per item from Python's ``random`` module, which the engine's
    training loader seeds per sample (``SeededDataset``: reproducible in any worker and across a
    resume); the other phases loop-pad the clip list (and keep its first T frames: the lineage
    returned longer lists whole, which no batch can stack).
    """

    def __init__(
        self,
        samples: list[dict],
        transform: ClipTransform,
        sample_duration: int,
        *,
        reader: Callable[[str, Sequence[int]], torch.Tensor] = read_frames,
    ) -> None:
        self.samples, self.transform, self.t, self.reader = samples, transform, sample_duration, reader

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        if self.transform.phase == "train":
            lo, hi = S.temporal_random_crop_bounds(len(sample["frame_indices"]), self.t)
            idx = S.temporal_random_crop(sample["frame_indices"], self.t, begin=random.randint(lo, hi))
            params = self.transform.draw(random)
        else:
            # loop padding; a list longer than T (n_val_samples=1 keeps every frame) starts the clip
            idx, params = S.temporal_begin_crop(sample["frame_indices"], self.t), None
        frames = self.reader(sample["video"], idx.tolist())
        if frames.shape[0] < self.t:  # a missing frame cut the clip: loop-pad what was read
            frames = frames[torch.from_numpy(S.loop_pad(np.arange(frames.shape[0]), self.t))]
        return {"clip": self.transform(frames, params), "label": int(sample.get("label", -1)), "index": index}
