"""Audio layouts: AudioSet-style audio-visual clips (H.264 + AAC mp4 with segment csv files) and
ESC-50 wav folds (xkd audio downstream)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ._registry import SyntheticDataset, register_format, with_common_args
from .content import class_name, make_videos, render_audio
from .media import write_video

__all__ = ["make_audioset_dataset", "make_esc50_dataset"]


def make_audioset_dataset(
    out_dir: str | os.PathLike,
    *,
    classes: int = 4,
    videos_per_class: int = 4,
    frames: int = 32,
    size: int = 64,
    fps: float = 25,
    audio_rate: int = 16000,
    seed: int = 0,
) -> SyntheticDataset:
    """AudioSet-style audio-visual clips (H.264 + AAC mp4) and segment csv files::

    <out>/videos/<ytid>_<start>.mp4
    <out>/{balanced_train,eval}_segments.csv   ("# YTID, start_seconds, end_seconds, positive_labels")
    <out>/class_labels_indices.csv             ("index,mid,display_name")
    """
    root = Path(out_dir)
    videos = make_videos(classes, videos_per_class, frames, size, seed, fps=fps, audio_rate=audio_rate)
    rng = np.random.default_rng(seed + 4)
    alnum = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"))
    mids = [f"/m/syn{c:03d}" for c in range(classes)]
    rows = {"balanced_train": [], "eval": []}
    splits = {"train": [], "val": [], "test": []}
    for vid in videos:
        ytid, start = "".join(rng.choice(alnum, 11)), float(rng.integers(0, 300))
        path = root / "videos" / f"{ytid}_{int(start)}.mp4"
        write_video(path, vid.frames, fps=fps, audio=vid.audio, audio_rate=audio_rate)
        which = "balanced_train" if vid.split == "train" else "eval"
        rows[which].append(f'{ytid}, {start:.3f}, {start + len(vid.frames) / fps:.3f}, "{mids[vid.label]}"\n')
        splits[vid.split].append(path.name)
    for name, lines in rows.items():
        (root / f"{name}_segments.csv").write_text(
            f"# Segments csv created by videokd synthetic\n# num_ytids={len(lines)}\n"
            "# YTID, start_seconds, end_seconds, positive_labels\n" + "".join(lines)
        )
    (root / "class_labels_indices.csv").write_text(
        "index,mid,display_name\n" + "".join(f'{c},{mids[c]},"{class_name(c).capitalize()}"\n' for c in range(classes))
    )
    ds = SyntheticDataset(
        root,
        "audioset",
        files={"videos": root / "videos"},
        splits=splits,
        meta={"kind": "audio-visual", "audio_rate": audio_rate, "fps": fps, "seed": seed},
    )
    ds.write_meta()
    return ds


def make_esc50_dataset(
    out_dir: str | os.PathLike,
    *,
    classes: int = 5,
    videos_per_class: int = 5,
    seconds: float = 1.0,
    audio_rate: int = 16000,
    seed: int = 0,
    **_: Any,
) -> SyntheticDataset:
    """ESC-50 layout: ``<out>/audio/{fold}-{src}-{take}-{target}.wav`` (mono 16-bit) and
    ``<out>/meta/esc50.csv`` (``filename,fold,target,category,esc10,src_file,take``); clip k of a
    class goes to fold ``k % 5 + 1`` (protocol: test on fold k, train on the other four)."""
    import soundfile as sf

    root = Path(out_dir)
    rng = np.random.default_rng(seed)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    (root / "meta").mkdir(parents=True, exist_ok=True)
    rows, splits = [], {f"fold{k}": [] for k in range(1, 6)}
    for c in range(classes):
        for k in range(videos_per_class):
            fold, src = k % 5 + 1, int(rng.integers(100000, 999999))
            name = f"{fold}-{src}-A-{c}.wav"
            wave = render_audio(c, seconds=seconds, rate=audio_rate, rng=rng)
            sf.write(root / "audio" / name, wave[0], audio_rate, subtype="PCM_16")
            rows.append(f"{name},{fold},{c},{class_name(c, 'snake')},False,{src},A\n")
            splits[f"fold{fold}"].append(name)
    (root / "meta" / "esc50.csv").write_text("filename,fold,target,category,esc10,src_file,take\n" + "".join(rows))
    ds = SyntheticDataset(
        root,
        "esc50",
        files={"audio": root / "audio", "meta": root / "meta" / "esc50.csv"},
        splits=splits,
        meta={"kind": "audio", "audio_rate": audio_rate, "seed": seed},
    )
    ds.write_meta()
    return ds


def _esc50(
    out_dir, *, classes: int = 5, videos_per_class: int = 5, frames: int = 32, size: int = 64, seed: int = 0, **kwargs
) -> SyntheticDataset:
    return make_esc50_dataset(out_dir, classes=classes, videos_per_class=videos_per_class, seed=seed, **kwargs)


_esc50.__doc__ = "ESC-50 wav folder + meta/esc50.csv (xkd audio downstream)."

register_format(
    "audioset",
    with_common_args(make_audioset_dataset, "AudioSet-style H.264+AAC mp4 clips + segment csv files."),
)
register_format("esc50", _esc50)
