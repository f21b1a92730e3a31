"""Datasets of XKD: audio-visual pre-training clips and the evaluation readers.

Pre-training (:class:`KineticsAV`): ``<root>/<split>/<class>/<file>.{avi,mp4}``, class = position of
the folder in the sorted class names. A sample is a random ``clip_duration`` window: video at
``video_fps`` (frames picked by timestamp; a too-short video repeats its last frame) and the audio of
the SAME window (16 kHz mono, PyAV / soundfile, int16-quantised like the original's resampler),
turned into ``global_local`` views. A file without audio, unreadable or corrupt raises a
:class:`videokd.data.VideoDecodeError`; the training loader wraps the dataset in
:class:`videokd.data.robust.RobustDataset` (skip and redraw, bounded, counted), never recursing.

Evaluation readers list ``(path, label)`` pairs per fold: UCF101 (``ucfTrainTestlist``), HMDB51
(``testTrainMulti_7030_splits``), Kinetics (folders) and ESC-50 (``meta/esc50.csv``).
"""

from __future__ import annotations

import csv
import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch.utils.data import Dataset

from videokd.data.audio import read_audio
from videokd.data.video import VideoDecodeError, VideoReader
from videokd.errors import UserError

from .audio import AudioFrontEnd, local_resize_crop, volume_jitter
from .transforms import PretrainVideoViews

__all__ = [
    "DataError",
    "VIDEO_SUFFIXES",
    "list_class_folders",
    "clip_frame_indices",
    "read_clip",
    "KineticsAV",
    "ucf101_split",
    "hmdb51_split",
    "esc50_split",
    "kinetics_sound_split",
    "kinetics_split",
]

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".webm")


class DataError(UserError, FileNotFoundError):
    """A dataset folder or list that is missing or empty."""


def list_class_folders(folder: Path, *, suffixes: Sequence[str] = VIDEO_SUFFIXES) -> list[tuple[Path, int]]:
    """``folder/<class>/<file>`` pairs, class index = position in the sorted class names."""
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder (expected <root>/<split>/<class>/<video>)")
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir())
    samples = [
        (f, i)
        for i, c in enumerate(classes)
        for f in sorted((folder / c).iterdir())
        if f.suffix.lower() in suffixes and f.is_file()
    ]
    if not samples:
        raise DataError(f"{folder}: no videos ({'/'.join(suffixes)}) in its class folders")
    return samples


def clip_frame_indices(stamps: np.ndarray, start: float, num_frames: int, fps: float) -> np.ndarray:
    """Frame indices for ``num_frames`` instants ``start + k / fps``: the last frame at or before each
    instant (the first frame before the stream starts; the last one past its end)."""
    times = start + np.arange(num_frames) / float(fps)
    idx = np.searchsorted(stamps, times + 1e-6, side="right") - 1
    return np.clip(idx, 0, len(stamps) - 1)


def read_clip(
    path: Path, *, start: Optional[float], duration: float, fps: float, rng: random.Random, audio_rate: int = 16000,
    with_audio: bool = True,
) -> tuple[torch.Tensor, Optional[torch.Tensor], float]:  # fmt: skip
    """A ``duration``-second window: frames ``(T, H, W, 3)`` uint8, audio ``(1, N)`` (or None) and the
    start. ``start=None`` draws it uniformly in ``[0, video duration - duration]``."""
    with VideoReader(path) as reader:
        info = reader.info
        if with_audio and not info.has_audio:
            raise VideoDecodeError(path, "the file has no audio stream (XKD needs both streams)")
        stamps = reader.frame_timestamps() - info.start_time
        if start is None:
            start = rng.uniform(0.0, max(info.duration - duration, 0.0))
        idx = clip_frame_indices(stamps, start, int(round(duration * fps)), fps)
        frames = reader.get_frames(idx)
    wave = None
    if with_audio:
        wave, _ = read_audio(
            path, sample_rate=audio_rate, mono=True, start=start, duration=duration, sample_format="s16"
        )
    return frames, wave, float(start)


class KineticsAV(Dataset):
    """Audio-visual pre-training clips. ``dataset_cfg`` = the yaml's ``dataset`` section.

    ``ds[i]`` -> ``{"frames": [global (3,T,S,S), local...], "specs": [global (1,F,Ta), local...],
    "label": int}``.
    """

    def __init__(self, root: str | os.PathLike, dataset_cfg: Mapping[str, Any], *, split: str = "train") -> None:
        self.root = Path(root)
        self.cfg = dataset_cfg
        section = dataset_cfg[split if split in dataset_cfg else "train"]
        self.split_dir = self.root / str(section.get("split", split))
        self.samples = list_class_folders(self.split_dir)
        self.duration = float(dataset_cfg["clip_duration"])
        self.audio_duration = float(dataset_cfg.get("audio_clip_duration", self.duration))
        if abs(self.audio_duration - self.duration) > 1e-9:
            raise UserError("dataset.audio_clip_duration must equal clip_duration (audio and video share the window)")
        self.fps = float(dataset_cfg["video_fps"])
        self.crop = int(dataset_cfg["crop_size"])
        self.vid_aug = dict(section.get("vid_aug_kwargs", {}))
        self.aud_aug = dict(section.get("aud_aug_kwargs", {}))
        self.front = AudioFrontEnd.from_dataset_cfg(dataset_cfg)
        self.audio_patch_time: Optional[int] = None  # set by the runner: spectrograms trimmed to a multiple

    def __len__(self) -> int:
        return len(self.samples)

    def sample_path(self, index: int) -> str:
        return str(self.samples[index][0])

    def _trim(self, lms: torch.Tensor) -> torch.Tensor:
        if self.audio_patch_time:
            keep = lms.shape[-1] // self.audio_patch_time * self.audio_patch_time
            lms = lms[..., :keep]
        return lms

    def __getitem__(self, index: int) -> dict[str, Any]:
        path, label = self.samples[index]
        rng = random.Random(random.getrandbits(64))  # seeded per sample by the loader
        frames, wave, _ = read_clip(path, start=None, duration=self.duration, fps=self.fps, rng=rng)
        views = PretrainVideoViews(crop_size=self.crop, aug=self.vid_aug, rng=rng)(frames)
        wave = self.front.prepare(wave, self.audio_duration)
        g_cfg, l_cfg = self.aud_aug.get("global", {}), self.aud_aug.get("local", {})
        specs = [self._trim(self.front(volume_jitter(wave, float(g_cfg.get("vol", 0.0)), rng=rng)))]
        ratio = int(self.aud_aug.get("temporal_ratio", 4))
        n = wave.shape[-1]
        local_n = n // ratio
        for _ in range(int(self.aud_aug.get("num_local_views", 1))):
            start = rng.randrange(0, n - local_n + 1, 100)
            lms = self.front(volume_jitter(wave[:, start : start + local_n], float(l_cfg.get("vol", 0.0)), rng=rng))
            if l_cfg.get("randcrop", False):
                lms = local_resize_crop(
                    lms,
                    virtual_crop_scale=l_cfg.get("virtual_crop_scale", (1.0, 1.5)),
                    freq_scale=l_cfg.get("freq_scale", (0.6, 1.5)),
                    time_scale=l_cfg.get("time_scale", (0.6, 1.5)),
                    rng=rng,
                )
            specs.append(self._trim(lms))
        return {"frames": views, "specs": specs, "label": label}


# ------------------------------------------------------------------------- evaluation lists
def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise DataError(f"{path}: missing ({what})")
    return path


def ucf101_split(root: str | os.PathLike, fold: int) -> dict[str, list[tuple[Path, int]]]:
    """``<root>/UCF-101/<Class>/*.avi`` with ``ucfTrainTestlist/{classInd,trainlist0K,testlist0K}.txt``."""
    root = Path(root)
    lists = _need(root / "ucfTrainTestlist", "the UCF101 split files folder")
    classes = {}
    for line in _need(lists / "classInd.txt", "UCF101 classInd.txt").read_text().splitlines():
        if line.strip():
            i, name = line.split()
            classes[name] = int(i) - 1
    out: dict[str, list[tuple[Path, int]]] = {}
    for split, name in (("train", f"trainlist0{fold}.txt"), ("test", f"testlist0{fold}.txt")):
        rows = []
        for line in _need(lists / name, f"UCF101 fold {fold} list").read_text().splitlines():
            if line.strip():
                rel = line.split()[0]
                rows.append((root / "UCF-101" / rel, classes[rel.split("/")[0]]))
        out[split] = rows
    return out


def hmdb51_split(root: str | os.PathLike, fold: int) -> dict[str, list[tuple[Path, int]]]:
    """``<root>/HMDB-51/<class>/*.avi`` with ``testTrainMulti_7030_splits/<class>_test_split<K>.txt``
    (id 1 train, 2 test, 0 unused); classes = sorted folder names."""
    root = Path(root)
    videos = _need(root / "HMDB-51", "the HMDB51 video folder")
    lists = _need(root / "testTrainMulti_7030_splits", "the HMDB51 split files folder")
    classes = sorted(d.name for d in videos.iterdir() if d.is_dir())
    out: dict[str, list[tuple[Path, int]]] = {"train": [], "test": []}
    for i, c in enumerate(classes):
        for line in _need(lists / f"{c}_test_split{fold}.txt", f"HMDB51 fold {fold} list").read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1] in ("1", "2"):
                out["train" if parts[1] == "1" else "test"].append((videos / c / parts[0], i))
    return out


def kinetics_split(root: str | os.PathLike, *, train: str = "train", test: str = "val") -> dict[str, list]:
    """``<root>/{train,val}/<class>/<video>`` (the synthetic generator's extra ``videos/`` level accepted)."""
    root = Path(root)
    if not (root / train).is_dir() and (root / "videos" / train).is_dir():
        root = root / "videos"
    return {"train": list_class_folders(root / train), "test": list_class_folders(root / test)}


def kinetics_sound_split(root: str | os.PathLike) -> dict[str, list]:
    """Kinetics-Sound on a Kinetics root: the clip lists ``<root>/cache/kinetics_sound/{train,val}.txt``
    (JSON lists of ``"class/file"``, as the original's cache) when present, else every class folder of
    ``train/`` and ``val/``; classes = the sorted class names of the lists."""
    import json

    root = Path(root)
    cache = root / "cache" / "kinetics_sound"
    if not (cache / "train.txt").is_file():
        return kinetics_split(root)
    videos = root / "videos" if (root / "videos").is_dir() and not (root / "train").is_dir() else root
    out: dict[str, list] = {}
    lists = {
        s: json.loads(_need(cache / f"{f}.txt", f"Kinetics-Sound {f} list").read_text())
        for s, f in (("train", "train"), ("test", "val"))
    }
    classes = sorted({entry.split("/")[0] for entries in lists.values() for entry in entries})
    index = {c: i for i, c in enumerate(classes)}
    for split, folder in (("train", "train"), ("test", "val")):
        out[split] = [(videos / folder / e, index[e.split("/")[0]]) for e in lists[split]]
    return out


def esc50_split(root: str | os.PathLike, fold: int) -> dict[str, list[tuple[Path, int]]]:
    """``<root>/audio/*.wav`` + ``<root>/meta/esc50.csv``: fold ``K`` is the test set."""
    root = Path(root)
    meta = _need(root / "meta" / "esc50.csv", "the ESC-50 meta file")
    out: dict[str, list[tuple[Path, int]]] = {"train": [], "test": []}
    with meta.open(newline="") as fh:
        for row in csv.DictReader(fh):
            item = (root / "audio" / row["filename"], int(row["target"]))
            out["test" if int(row["fold"]) == int(fold) else "train"].append(item)
    return out
