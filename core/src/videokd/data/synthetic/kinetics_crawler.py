"""Synthetic data in the on-disk formats the kd2d3d (3D-ResNets lineage) tools read.

* ``kinetics-crawler``: the Kinetics crawler's CSVs plus the videos it downloads, the input of
  ``tools/video_jpg_kinetics.py`` and ``tools/kinetics_json.py``::

      <root>/kinetics_train.csv   label,youtube_id,time_start,time_end,split,is_cc
      <root>/kinetics_val.csv     label,youtube_id,time_start,time_end,split
      <root>/kinetics_test.csv    youtube_id,time_start,time_end,split            (no label)
      <root>/videos/<label>/<youtube_id>_<start:06d>_<end:06d>.mp4             (train + val)
      <root>/videos/test/<youtube_id>_<start:06d>_<end:06d>.mp4

  Labels are Kinetics-style phrases with spaces ("red square moving left"), quoted in the CSV;
  rows come in video order (classes interleaved), so first-appearance order differs from sorted.

(Registered in :data:`videokd.data.synthetic.FORMATS`, so ``datasets/make_synthetic.py kinetics-crawler DIR`` writes it.)
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from ._registry import SyntheticDataset, register_format
from .content import class_name, make_videos
from .media import write_video

__all__ = ["write_kinetics_crawler", "FORMATS"]


def write_kinetics_crawler(
    root: str | os.PathLike,
    *,
    classes: int = 4,
    videos_per_class: int = 4,
    frames: int = 32,
    size: int = 64,
    fps: float = 25,
    seed: int = 0,
) -> SyntheticDataset:
    """Write the ``kinetics-crawler`` layout (see the module docstring). About 60 % of each class's
    videos are training, 20 % validation, 20 % test (unlabelled)."""
    root = Path(root)
    videos = make_videos(classes, videos_per_class, frames, size, seed, fps=fps)
    # interleave the classes (video-major) so the csv's first-appearance label order is not sorted
    order = sorted(range(len(videos)), key=lambda i: (videos[i].index, videos[i].label))
    rng = np.random.default_rng(seed + 7)
    alnum = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"))
    rows: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for i in order:
        vid = videos[i]
        name = class_name(vid.label)
        start = int(rng.integers(0, 300))
        ytid = "".join(rng.choice(alnum, 11))
        stem = f"{ytid}_{start:06d}_{start + 10:06d}"
        folder = "test" if vid.split == "test" else name
        write_video(root / "videos" / folder / f"{stem}.mp4", vid.frames, fps=fps)
        rows[vid.split].append(
            {"label": name, "youtube_id": ytid, "time_start": start, "time_end": start + 10, "split": vid.split}
        )
        splits[vid.split].append(f"{folder}/{stem}.mp4")
    columns = {
        "train": ["label", "youtube_id", "time_start", "time_end", "split", "is_cc"],
        "val": ["label", "youtube_id", "time_start", "time_end", "split"],
        "test": ["youtube_id", "time_start", "time_end", "split"],
    }
    files = {}
    for split, cols in columns.items():
        path = root / f"kinetics_{split}.csv"
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore", quoting=csv.QUOTE_MINIMAL)
            writer.writeheader()
            for row in rows[split]:
                writer.writerow({**row, "is_cc": 0})
        files[f"{split}_csv"] = path
    ds = SyntheticDataset(
        root,
        "kinetics-crawler",
        files={"videos": root / "videos", **files},
        splits=splits,
        meta={"kind": "video", "classes": sorted(class_name(c) for c in range(classes)), "fps": fps, "seed": seed},
    )
    ds.write_meta()
    return ds


FORMATS = {"kinetics-crawler": write_kinetics_crawler}
register_format("kinetics-crawler", write_kinetics_crawler)
