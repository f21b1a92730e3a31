"""Synthetic datasets in the exact on-disk layout KICLIP's entry scripts read (one data root).

``write_<format>(root, ...)`` writes real H.264 videos (the :mod:`videokd.data.synthetic` renderer:
a square of the class colour moving in the class direction) and the original list/label files, so
``packages/kiclip/train_b2n_*.sh`` / ``test_b2n_*.sh`` run unmodified with ``root`` as the data root::

    kiclip_k400     zs_label_db/B2N_k400/{train_s3.csv (space-separated), val_new.csv, test_1.csv (space-separated),
                    train_rephrased.json, test_rephrased.json}; videos k400/{train,val}/<ytid>_<start6>_<end6>.mp4
    kiclip_ucf101   zs_label_db/B2N_ucf101/{train_s1.csv, val_1.csv, test_raw.csv, *_rephrased.json}; videos ucf101/v_*.avi (flat)
    kiclip_hmdb51   zs_label_db/B2N_hmdb/{train.csv, val.csv, val_test.csv, test.csv, *_rephrased.json};
                    videos hmdb51/videos/<class>/<name>.avi
    kiclip_cd_k400  label_db/weng_compress_full_splits/{train.csv, val.csv, test.csv} (all classes),
                    label_rephrase/k400_rephrased_classes.json; videos k400/{train,val}/<class_dir>/<ytid>.mp4

Base classes are the first half of the classes, novel the rest; labels are re-indexed inside each half
(as the B2N folders). Base training videos are the first ~60 % of each base class; the base test list
holds the others; the novel test list holds every novel video. Descriptions are short synthetic sentences (:func:`kiclip_description`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import numpy as np

from ._registry import SyntheticDataset, register_format
from .content import class_attributes, class_name, render_clip
from .media import write_video

__all__ = [
    "kiclip_description",
    "write_kiclip_k400",
    "write_kiclip_ucf101",
    "write_kiclip_hmdb51",
    "write_kiclip_cd_k400",
    "FORMATS",
]


def kiclip_description(label: int) -> str:
    """A short ``"<Name>: <description>"`` text: the words that tell classes apart come last, where a tiny
    causal text tower (the tests' CLIP) still sees them at the end-of-text token."""
    colour, direction = class_attributes(label)
    return f"{class_name(label).capitalize()}: a {colour} square moving {direction}"


def _videos(classes: int, per_class: int, frames: int, size: int, seed: int):
    rng = np.random.default_rng(seed)
    h, w = size, (size * 4 // 3) // 2 * 2
    for c in range(classes):
        for v in range(per_class):
            n = frames - int(rng.integers(0, max(1, frames // 8) + 1))
            yield c, v, render_clip(c, frames=n, height=h, width=w, rng=rng)


def _is_train(v: int, per_class: int) -> bool:
    return v < max(1, (per_class * 3) // 5)


def _labels_json(path: Path, labels: list[int]) -> None:
    """``<x>_rephrased.json`` (descriptions) and, as upstream, ``raw_<x>_idx2cls.json`` (bare names)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({str(i): kiclip_description(c) for i, c in enumerate(labels)}), encoding="utf-8")
    raw = path.with_name(f"raw_{path.name.split('_rephrased')[0]}_idx2cls.json")
    raw.write_text(json.dumps({str(i): class_name(c) for i, c in enumerate(labels)}), encoding="utf-8")


def _b2n(
    root: Path,
    list_dir: str,
    video_dir: str,
    rel_of: Callable[[int, int, bool], str],
    files: dict[str, tuple[str, str]],
    *,
    classes: int,
    videos_per_class: int,
    frames: int,
    size: int,
    fps: float,
    seed: int,
) -> Path:
    """``files``: role (train/base/novel and extra copies) -> (file name, separator)."""
    n_base = max(1, classes // 2)
    rows: dict[str, list[str]] = {"train": [], "base": [], "novel": []}
    for c, v, clip in _videos(classes, videos_per_class, frames, size, seed):
        train = _is_train(v, videos_per_class)
        rel = rel_of(c, v, train)
        write_video(root / video_dir / rel, clip, fps=fps)
        if c < n_base:
            rows["train" if train else "base"].append((rel, c))
        else:
            rows["novel"].append((rel, c - n_base))
    lists = root / list_dir
    lists.mkdir(parents=True, exist_ok=True)
    for role, (name, sep) in files.items():
        kind = role.split(":")[0]
        (lists / name).write_text("".join(f"{r}{sep}{lab}\n" for r, lab in rows[kind]), encoding="utf-8")
    _labels_json(lists / "train_rephrased.json", list(range(n_base)))
    _labels_json(lists / "test_rephrased.json", list(range(n_base, classes)))
    return root


def write_kiclip_k400(
    root: str | os.PathLike,
    *,
    classes: int = 6,
    videos_per_class: int = 8,
    frames: int = 24,
    size: int = 40,
    fps: float = 25,
    seed: int = 0,
) -> Path:
    """kiclip train/test_b2n_k400.sh layout: K400 base-to-novel, CVDF flat names, space-separated ``train_s3.csv`` / ``test_1.csv`` as upstream."""
    rng = np.random.default_rng(seed + 7)
    alnum = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"))

    def rel(c: int, v: int, train: bool) -> str:
        start = int(rng.integers(0, 300))
        return f"{'train' if train else 'val'}/{''.join(rng.choice(alnum, 11))}_{start:06d}_{start + 10:06d}.mp4"

    files = {"train": ("train_s3.csv", " "), "base": ("val_new.csv", ","), "novel": ("test_1.csv", " ")}
    return _b2n(
        Path(root),
        "zs_label_db/B2N_k400",
        "k400",
        rel,
        files,
        classes=classes,
        videos_per_class=videos_per_class,
        frames=frames,
        size=size,
        fps=fps,
        seed=seed,
    )


def write_kiclip_ucf101(
    root: str | os.PathLike,
    *,
    classes: int = 6,
    videos_per_class: int = 8,
    frames: int = 24,
    size: int = 40,
    fps: float = 25,
    seed: int = 0,
) -> Path:
    """kiclip train/test_b2n_ucf101.sh layout: UCF101 base-to-novel, flat ``v_<Class>_gXX_cYY.avi`` with comma lists (KICLIP's rewritten files)."""

    def rel(c: int, v: int, train: bool) -> str:
        return f"v_{class_name(c, 'camel')}_g{v + 1:02d}_c01.avi"

    files = {"train": ("train_s1.csv", ","), "base": ("val_1.csv", ","), "novel": ("test_raw.csv", ",")}
    return _b2n(
        Path(root),
        "zs_label_db/B2N_ucf101",
        "ucf101",
        rel,
        files,
        classes=classes,
        videos_per_class=videos_per_class,
        frames=frames,
        size=size,
        fps=fps,
        seed=seed,
    )


def write_kiclip_hmdb51(
    root: str | os.PathLike,
    *,
    classes: int = 6,
    videos_per_class: int = 8,
    frames: int = 24,
    size: int = 40,
    fps: float = 25,
    seed: int = 0,
) -> Path:
    """kiclip train/test_b2n_hmdb51.sh layout: HMDB51 base-to-novel, ``<class>/<name>.avi`` (MMAction2 layout), comma lists incl. ``val_test.csv``."""

    def rel(c: int, v: int, train: bool) -> str:
        name = class_name(c, "snake")
        return f"{name}/{name}_{v:03d}.avi"

    files = {
        "train": ("train.csv", ","),
        "base": ("val_test.csv", ","),
        "base:copy": ("val.csv", ","),
        "novel": ("test.csv", ","),
    }
    return _b2n(
        Path(root),
        "zs_label_db/B2N_hmdb",
        "hmdb51/videos",
        rel,
        files,
        classes=classes,
        videos_per_class=videos_per_class,
        frames=frames,
        size=size,
        fps=fps,
        seed=seed,
    )


def write_kiclip_cd_k400(
    root: str | os.PathLike,
    *,
    classes: int = 6,
    videos_per_class: int = 8,
    frames: int = 24,
    size: int = 40,
    fps: float = 25,
    seed: int = 0,
) -> Path:
    """kiclip train_cd_k400.sh layout: cross-dataset K400 training lists (all classes, VoV3D ``<split>/<class_dir>/<ytid>.mp4``)."""
    root = Path(root)
    rows: dict[str, list[str]] = {"train": [], "val": []}
    for c, v, clip in _videos(classes, videos_per_class, frames, size, seed):
        split = "train" if _is_train(v, videos_per_class) else "val"
        rel = f"{split}/{class_name(c, 'snake')}/vid{c:03d}{v:03d}.mp4"
        write_video(root / "k400" / rel, clip, fps=fps)
        rows[split].append(f"{rel},{c}\n")
    lists = root / "label_db" / "weng_compress_full_splits"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "train.csv").write_text("".join(rows["train"]), encoding="utf-8")
    for name in ("val.csv", "test.csv"):
        (lists / name).write_text("".join(rows["val"]), encoding="utf-8")
    _labels_json(root / "label_rephrase" / "k400_rephrased_classes.json", list(range(classes)))
    return root


FORMATS = {
    "kiclip_k400": write_kiclip_k400,
    "kiclip_ucf101": write_kiclip_ucf101,
    "kiclip_hmdb51": write_kiclip_hmdb51,
    "kiclip_cd_k400": write_kiclip_cd_k400,
}


def _registry_builder(name: str, write: Callable[..., Path]) -> Callable[..., SyntheticDataset]:
    def build(out_dir, *, classes=6, videos_per_class=8, frames=24, size=40, seed=0, **kwargs) -> SyntheticDataset:
        root = write(
            out_dir, classes=classes, videos_per_class=videos_per_class, frames=frames, size=size, seed=seed, **kwargs
        )
        ds = SyntheticDataset(Path(root), name, meta={"classes": classes, "videos_per_class": videos_per_class})
        ds.write_meta()
        return ds

    build.__doc__ = (write.__doc__ or "").strip().splitlines()[0]
    return build


for _name, _write in FORMATS.items():
    register_format(_name, _registry_builder(_name, _write))
