"""Video-classification layouts with encoded video files: Kinetics (mp4/avi + AAC), UCF101 and
HMDB51 (silent avi), with their official split files and the KICLIP base-to-novel (B2N) lists."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._registry import SyntheticDataset, register_format, with_common_args
from .content import class_description, class_name, make_videos
from .media import write_video

__all__ = ["make_kinetics_dataset", "make_ucf101_dataset", "make_hmdb51_dataset"]


def _write_label_files(folder: Path, labels: Sequence[int], prefix: str) -> None:
    """KICLIP label files for a class subset: ``<prefix>_rephrased.json`` (index -> description),
    ``raw_<prefix>_idx2cls.json`` and ``<prefix>_idx2cls.csv`` (bare names)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{prefix}_rephrased.json").write_text(
        json.dumps({str(i): class_description(c) for i, c in enumerate(labels)})
    )
    (folder / f"raw_{prefix}_idx2cls.json").write_text(
        json.dumps({str(i): class_name(c) for i, c in enumerate(labels)})
    )
    (folder / f"{prefix}_idx2cls.csv").write_text("".join(f"{i},{class_name(c)}\n" for i, c in enumerate(labels)))


def _write_b2n_lists(folder: Path, entries: list[tuple[str, int, str]], classes: int) -> dict[str, Path]:
    """Base-to-novel lists: the first half of the classes is *base* (train/val), the rest *novel*
    (test); labels are re-indexed inside each half, as in the KICLIP ``B2N_*`` folders.
    ``entries`` = (relative path, global label, split)."""
    n_base = max(1, (classes + 1) // 2) if classes > 1 else 1
    base, novel = list(range(n_base)), list(range(n_base, classes))
    folder.mkdir(parents=True, exist_ok=True)
    rows = {"train": [], "val": [], "test": []}
    for rel, label, split in entries:
        if label < n_base and split in ("train", "val"):
            rows[split].append(f"{rel},{label}\n")
        elif label >= n_base:
            rows["test"].append(f"{rel},{label - n_base}\n")
    files = {}
    for split, lines in rows.items():
        files[f"b2n_{split}"] = folder / f"{split}.csv"
        files[f"b2n_{split}"].write_text("".join(lines))
    _write_label_files(folder, base, "train")
    _write_label_files(folder, novel or base, "test")
    return files


def make_kinetics_dataset(
    out_dir: str | os.PathLike,
    *,
    classes: int = 4,
    videos_per_class: int = 4,
    frames: int = 32,
    size: int = 64,
    fps: float = 25,
    ext: str = "mp4",
    audio_rate: int = 16000,
    seed: int = 0,
) -> SyntheticDataset:
    """Kinetics-style videos with an AAC audio track, and every list the packages read::

        <out>/videos/{train,val}/<class name>/<ytid>_<start:06d>_<end:06d>.<ext>   (XKD layout; class = sorted folder)
        <out>/B2N_kinetics/{train,val,test}.csv + *_rephrased.json ...             (KICLIP base-to-novel, comma lists)
        <out>/lists/{train,val}.csv                                                 (all classes, "path,label")
        <out>/lists/kinetics_video_{train,val}.txt                                  ("path label", tdsclip video lists)
        <out>/label_rephrase/kinetics_rephrased_classes.json, <out>/kinetics_labels.csv ("id,name")
        <out>/cache/kinetics400/{train,val}.txt                                     (XKD clip cache: JSON list of "class/file")

    Paths in the lists are relative to ``<out>/videos`` (KICLIP ``DATA.PATH_PREFIX``). Test-split
    videos go to ``val/`` (Kinetics has no public test labels). ``ext="avi"`` for XKD, which
    globs ``.avi`` only.
    """
    root = Path(out_dir)
    videos = make_videos(classes, videos_per_class, frames, size, seed, fps=fps, audio_rate=audio_rate)
    rng = np.random.default_rng(seed + 1)
    alnum = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"))
    # class index = position in the sorted class-folder names (XKD) = position in kinetics_labels.csv
    names = sorted(class_name(c) for c in range(classes))
    index_of = {name: i for i, name in enumerate(names)}
    entries, splits = [], {"train": [], "val": [], "test": []}
    for vid in videos:
        name = class_name(vid.label)
        label = index_of[name]
        start = int(rng.integers(0, 300))
        stem = f"{''.join(rng.choice(alnum, 11))}_{start:06d}_{start + 10:06d}"
        folder = "train" if vid.split == "train" else "val"
        rel = f"{folder}/{name}/{stem}.{ext}"
        write_video(root / "videos" / rel, vid.frames, fps=fps, audio=vid.audio, audio_rate=audio_rate)
        entries.append((rel, label, vid.split))
        splits[vid.split].append(rel)
    files = _write_b2n_lists(root / "B2N_kinetics", [(r, l, s) for r, l, s in entries], classes)
    lists = root / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        rows = [(r, l) for r, l, s in entries if (s == split or (split == "val" and s == "test"))]
        (lists / f"{split}.csv").write_text("".join(f"{r},{l}\n" for r, l in rows))
        (lists / f"kinetics_video_{split}.txt").write_text("".join(f"{r} {l}\n" for r, l in rows))
        files[f"{split}_csv"] = lists / f"{split}.csv"
    (root / "label_rephrase").mkdir(exist_ok=True)
    (root / "label_rephrase" / "kinetics_rephrased_classes.json").write_text(
        json.dumps({str(i): class_description(_label_of_name(n, classes)) for i, n in enumerate(names)})
    )
    (root / "kinetics_labels.csv").write_text("id,name\n" + "".join(f"{i},{n}\n" for i, n in enumerate(names)))
    # XKD's clip cache (JSON list of "class/file" with both streams): saves it an ffprobe pass
    cache = root / "cache" / "kinetics400"
    cache.mkdir(parents=True, exist_ok=True)
    for folder in ("train", "val"):
        listed = [r.split("/", 1)[1] for r, _, _ in entries if r.startswith(folder + "/")]
        (cache / f"{folder}.txt").write_text(json.dumps(listed))
    ds = SyntheticDataset(
        root,
        "kinetics",
        files={"videos": root / "videos", **files},
        splits=splits,
        meta={"kind": "video", "classes": names, "fps": fps, "ext": ext, "audio_rate": audio_rate, "seed": seed},
    )
    ds.write_meta()
    return ds


def _label_of_name(name: str, classes: int) -> int:
    for c in range(classes):
        if class_name(c) == name:
            return c
    raise KeyError(name)


def make_ucf101_dataset(
    out_dir: str | os.PathLike,
    *,
    classes: int = 4,
    videos_per_class: int = 4,
    frames: int = 32,
    size: int = 64,
    fps: float = 25,
    seed: int = 0,
) -> SyntheticDataset:
    """UCF101 layout (silent .avi) with the official split files and the KICLIP lists::

        <out>/UCF-101/<Class>/v_<Class>_g<GG>_c01.avi
        <out>/ucfTrainTestlist/classInd.txt ("1 Class"), trainlist0{1,2,3}.txt ("Class/v_..avi 1"),
                               testlist0{1,2,3}.txt ("Class/v_..avi")
        <out>/B2N_ucf101/{train,val,test}.csv + label files (comma lists, paths relative to UCF-101/)

    Video ``v`` of a class is group ``v+1``; split k tests on the groups ``g`` with ``g % 3 == k-1``.
    """
    root = Path(out_dir)
    videos = make_videos(classes, videos_per_class, frames, size, seed, fps=fps)
    names = [class_name(c, "camel") for c in range(classes)]
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {n}\r\n" for i, n in enumerate(names)))  # CRLF as shipped
    entries, splits = [], {"train": [], "val": [], "test": []}
    for vid in videos:
        name = names[vid.label]
        rel = f"{name}/v_{name}_g{vid.index + 1:02d}_c01.avi"
        write_video(root / "UCF-101" / rel, vid.frames, fps=fps)
        entries.append((rel, vid.label, vid.split, vid.index + 1))
        splits[vid.split].append(rel)
    for k in (1, 2, 3):
        train = [(r, l) for r, l, _, g in entries if g % 3 != k - 1]
        test = [r for r, _, _, g in entries if g % 3 == k - 1]
        (lists / f"trainlist0{k}.txt").write_text("".join(f"{r} {l + 1}\r\n" for r, l in train))
        (lists / f"testlist0{k}.txt").write_text("".join(f"{r}\r\n" for r in test))
    files = _write_b2n_lists(root / "B2N_ucf101", [(r, l, s) for r, l, s, _ in entries], classes)
    ds = SyntheticDataset(
        root,
        "ucf101",
        files={"videos": root / "UCF-101", "class_ind": lists / "classInd.txt", **files},
        splits=splits,
        meta={"kind": "video", "classes": names, "fps": fps, "seed": seed},
    )
    ds.write_meta()
    return ds


def make_hmdb51_dataset(
    out_dir: str | os.PathLike,
    *,
    classes: int = 4,
    videos_per_class: int = 4,
    frames: int = 32,
    size: int = 64,
    fps: float = 25,
    seed: int = 0,
) -> SyntheticDataset:
    """HMDB51 layout (silent .avi) with the official 70/30 split files and the KICLIP lists::

    <out>/HMDB-51/<class>/<title>_<class>_u_nm_np1_fr_med_<k>.avi
    <out>/testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt   ("<file> <id> ", 1 train, 2 test, 0 unused)
    <out>/B2N_hmdb/{train,val,test}.csv + label files (paths relative to HMDB-51/)
    """
    root = Path(out_dir)
    videos = make_videos(classes, videos_per_class, frames, size, seed, fps=fps)
    names = [class_name(c, "snake") for c in range(classes)]
    split_dir = root / "testTrainMulti_7030_splits"
    split_dir.mkdir(parents=True, exist_ok=True)
    entries, splits = [], {"train": [], "val": [], "test": []}
    per_class: dict[int, list[tuple[str, str]]] = {}
    for vid in videos:
        name = names[vid.label]
        fname = f"Synthetic_Clip_{vid.index:03d}_{name}_u_nm_np1_fr_med_{vid.index % 3}.avi"
        rel = f"{name}/{fname}"
        write_video(root / "HMDB-51" / rel, vid.frames, fps=fps)
        entries.append((rel, vid.label, vid.split))
        splits[vid.split].append(rel)
        per_class.setdefault(vid.label, []).append((fname, vid.split))
    for label, items in per_class.items():
        for k in (1, 2, 3):
            lines = []
            for j, (fname, split) in enumerate(items):
                # split 1 follows the train/val/test assignment; 2 and 3 rotate it
                sid = {"train": 1, "val": 0, "test": 2}[split] if k == 1 else (1 if (j + k) % 3 else 2)
                lines.append(f"{fname} {sid} \n")
            (split_dir / f"{names[label]}_test_split{k}.txt").write_text("".join(lines))
    files = _write_b2n_lists(root / "B2N_hmdb", entries, classes)
    ds = SyntheticDataset(
        root,
        "hmdb51",
        files={"videos": root / "HMDB-51", "splits_dir": split_dir, **files},
        splits=splits,
        meta={"kind": "video", "classes": names, "fps": fps, "seed": seed},
    )
    ds.write_meta()
    return ds


register_format(
    "kinetics",
    with_common_args(
        make_kinetics_dataset,
        "Kinetics mp4 (+AAC) class folders, KICLIP B2N csv lists, tdsclip video lists (kiclip, tdsclip, xkd).",
    ),
)
register_format(
    "kinetics-avi",
    with_common_args(make_kinetics_dataset, "Kinetics layout with .avi files (+AAC): what XKD globs.", ext="avi"),
)
register_format(
    "ucf101",
    with_common_args(
        make_ucf101_dataset, "UCF-101 avi + ucfTrainTestlist + KICLIP B2N lists (kiclip, xkd, kd2d3d tools)."
    ),
)
register_format(
    "hmdb51",
    with_common_args(make_hmdb51_dataset, "HMDB-51 avi + 70/30 split files + KICLIP B2N lists (kiclip, xkd)."),
)
