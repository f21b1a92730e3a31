"""Video-classification layouts stored as JPEG frame folders: 3D-ResNets (kd2d3d, UCF naming),
ActivityNet v1.3 frames with fps files (kd2d3d), Something-Something v1/v2 (tdsclip)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..frames import write_n_frames
from ._registry import SyntheticDataset, register_format, with_common_args
from .content import class_name, make_videos
from .media import write_jpeg_frames

__all__ = ["make_resnet3d_dataset", "make_activitynet_frames_dataset", "make_something_dataset"]


def make_resnet3d_dataset(
    out_dir: str | os.PathLike,
    *,
    classes: int = 4,
    videos_per_class: int = 4,
    frames: int = 32,
    size: int = 64,
    seed: int = 0,
) -> SyntheticDataset:
    """3D-ResNets (kd2d3d) JPEG frame folders and the ActivityNet-style annotation json (UCF101 naming)::

        <out>/jpg/<Class>/<v_Class_gGG_c01>/image_{:05d}.jpg + n_frames   (n_frames = largest number, no newline)
        <out>/ucf101_01.json  {"labels": [...], "database": {key: {"subset": "training"|"validation",
                                                                   "annotations": {"label": Class}}}}

    Pass ``--video_path <out>/jpg --annotation_path <out>/ucf101_01.json --dataset ucf101``.
    """
    root = Path(out_dir)
    videos = make_videos(classes, videos_per_class, frames, size, seed, fps=25)
    names = [class_name(c, "camel") for c in range(classes)]
    database, splits = {}, {"train": [], "val": [], "test": []}
    for vid in videos:
        name = names[vid.label]
        key = f"v_{name}_g{vid.index + 1:02d}_c01"
        folder = root / "jpg" / name / key
        write_jpeg_frames(folder, vid.frames, "image_{:05d}.jpg")
        write_n_frames(folder, "image_{:05d}.jpg")
        subset = "training" if vid.split == "train" else "validation"
        database[key] = {"subset": subset, "annotations": {"label": name}}
        splits[vid.split].append(key)
    ann = root / "ucf101_01.json"
    ann.write_text(json.dumps({"labels": names, "database": database}))
    ds = SyntheticDataset(
        root,
        "resnet3d",
        files={"video_path": root / "jpg", "annotation": ann},
        splits=splits,
        meta={"kind": "frames", "template": "image_{:05d}.jpg", "classes": names, "seed": seed},
    )
    ds.write_meta()
    return ds


def make_activitynet_frames_dataset(
    out_dir: str | os.PathLike,
    *,
    classes: int = 4,
    videos_per_class: int = 3,
    frames: int = 48,
    size: int = 64,
    fps: float = 10.0,
    seed: int = 0,
) -> SyntheticDataset:
    """ActivityNet v1.3 layout for kd2d3d: frame folders with an ``fps`` file and the official-style json
    (taxonomy tree whose leaves are the classes, timed segments in seconds)::

        <out>/jpg/v_<key>/image_{:05d}.jpg, <out>/jpg/v_<key>/fps ("10.0\\n")
        <out>/activity_net.v1-3.min.json  {"version", "taxonomy": [...], "database": {key: {"subset",
                                           "annotations": [{"segment": [s, e], "label"}], "duration", ...}}}

    Each video holds one action segment (the class content) covering its middle ~80 %. Keep
    ``frames`` high enough that segments have >= 16 frames (the lineage drops shorter ones).
    """
    root = Path(out_dir)
    videos = make_videos(classes, videos_per_class, frames, size, seed, fps=fps)
    rng = np.random.default_rng(seed + 2)
    names = [class_name(c).capitalize() for c in range(classes)]
    taxonomy = [
        {"nodeId": 0, "parentId": None, "nodeName": "Root", "parentName": None},
        {"nodeId": 1, "parentId": 0, "nodeName": "Moving squares", "parentName": "Root"},
    ]
    taxonomy += [
        {"nodeId": 2 + c, "parentId": 1, "nodeName": n, "parentName": "Moving squares"} for c, n in enumerate(names)
    ]
    alnum = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"))
    database, splits = {}, {"train": [], "val": [], "test": []}
    subset_of = {"train": "training", "val": "validation", "test": "testing"}
    for vid in videos:
        key = "".join(rng.choice(alnum, 11))
        folder = root / "jpg" / f"v_{key}"
        write_jpeg_frames(folder, vid.frames, "image_{:05d}.jpg")
        (folder / "fps").write_text(f"{round(fps, 2)}\n")
        duration = len(vid.frames) / fps
        seg = [round(0.1 * duration, 2), round(0.9 * duration, 2)]
        subset = subset_of[vid.split]
        annotations = [] if subset == "testing" else [{"segment": seg, "label": names[vid.label]}]
        database[key] = {
            "subset": subset,
            "annotations": annotations,
            "duration": round(duration, 2),
            "resolution": f"{vid.frames.shape[2]}x{vid.frames.shape[1]}",
            "url": f"https://example.invalid/{key}",
        }
        splits[vid.split].append(key)
    ann = root / "activity_net.v1-3.min.json"
    ann.write_text(json.dumps({"version": "VERSION 1.3", "taxonomy": taxonomy, "database": database}))
    ds = SyntheticDataset(
        root,
        "activitynet-frames",
        files={"video_path": root / "jpg", "annotation": ann},
        splits=splits,
        meta={"kind": "frames", "fps": fps, "classes": names, "seed": seed},
    )
    ds.write_meta()
    return ds


def make_something_dataset(
    out_dir: str | os.PathLike,
    *,
    classes: int = 4,
    videos_per_class: int = 4,
    frames: int = 32,
    size: int = 64,
    version: int = 2,
    seed: int = 0,
) -> SyntheticDataset:
    """Something-Something frame folders and tdsclip list files::

        <out>/frames/<id>/img_{:05d}.jpg   (v2; v1 uses {:05d}.jpg)
        <out>/lists/{train,val,test}_rgb.txt  "<id> <num_frames> <label>"  (test labels are 0)
        <out>/lists/sth_labels.csv            "id,name" header + one row per class

    Classes 0 and 1 move right and left, so a horizontal flip turns one into the other: they are
    a left/right pair like SSv2's 86/87 (``meta["flip_pairs"]``).
    """
    root = Path(out_dir)
    template = "img_{:05d}.jpg" if version == 2 else "{:05d}.jpg"
    videos = make_videos(classes, videos_per_class, frames, size, seed, fps=12)
    rng = np.random.default_rng(seed + 3)
    ids = rng.permutation(np.arange(1, 10 * len(videos) + 1))[: len(videos)]
    rows = {"train": [], "val": [], "test": []}
    splits = {"train": [], "val": [], "test": []}
    for vid, vid_id in zip(videos, ids):
        folder = root / "frames" / str(int(vid_id))
        write_jpeg_frames(folder, vid.frames, template)
        label = 0 if vid.split == "test" else vid.label
        rows[vid.split].append(f"{int(vid_id)} {len(vid.frames)} {label}\n")
        splits[vid.split].append(str(int(vid_id)))
    lists = root / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    for split, lines in rows.items():
        (lists / f"{split}_rgb.txt").write_text("".join(lines))
    (lists / "sth_labels.csv").write_text(
        "id,name\n"
        + "".join(f"{c},Moving {class_name(c).replace(' square moving', '')} square\n" for c in range(classes))
    )
    pairs = [[0, 1]] if classes >= 2 else []
    ds = SyntheticDataset(
        root,
        f"something-v{version}",
        files={"frames": root / "frames", "lists": lists},
        splits=splits,
        meta={"kind": "frames", "template": template, "flip_pairs": pairs, "seed": seed},
    )
    ds.write_meta()
    return ds


register_format(
    "resnet3d-jpg",
    with_common_args(
        make_resnet3d_dataset, "3D-ResNets jpg folders + n_frames + ActivityNet-style json, UCF naming (kd2d3d)."
    ),
)
register_format(
    "activitynet-jpg",
    with_common_args(
        make_activitynet_frames_dataset, "ActivityNet v1.3 json + v_<key> jpg folders + fps files (kd2d3d)."
    ),
)
register_format(
    "sthv2",
    with_common_args(
        make_something_dataset,
        "Something-Something v2 img_{:05d}.jpg folders + <id> <n> <label> lists (tdsclip).",
        version=2,
    ),
)
register_format(
    "sthv1",
    with_common_args(make_something_dataset, "Something-Something v1 {:05d}.jpg folders + lists (tdsclip).", version=1),
)
