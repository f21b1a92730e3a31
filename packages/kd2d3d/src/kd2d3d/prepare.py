"""Command-line front ends of the nine ``tools/*.py`` scripts (the lineage's positional arguments,
plus options). Each ``main(argv)`` returns an exit code; expected errors raise ``ToolError``."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from . import tools as T

__all__ = [
    "video_jpg",
    "video_jpg_kinetics",
    "video_jpg_ucf101_hmdb51",
    "fps",
    "n_frames_kinetics",
    "n_frames_ucf101_hmdb51",
    "kinetics_json",
    "ucf101_json",
    "hmdb51_json",
]


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=prog, description=description)


def _extract(prog: str, argv, *, layout: str, height: int, what: str) -> int:
    p = _parser(prog, f"Decode every video of {what} into image_%05d.jpg frames, {height} px high (aspect kept).")
    p.add_argument("src_dir")
    p.add_argument("dst_dir")
    p.add_argument("--workers", type=int, default=0, help="processes (default: the CPU count)")
    p.add_argument("--backend", choices=("pyav", "ffmpeg"), default="pyav", help="decoder (ffmpeg: the binary)")
    p.add_argument("--no_progress", action="store_true")
    p.add_argument(
        "--height", type=int, default=height, help=f"frame height in pixels (default {height}, the lineage's)"
    )
    a = p.parse_args(argv)
    report = T.extract_tree(
        a.src_dir,
        a.dst_dir,
        layout=layout,
        height=a.height,
        workers=a.workers,
        backend=a.backend,
        progress=not a.no_progress,
    )
    print(f"{prog}: {len(report.done)} extracted, {len(report.skipped)} already done, {len(report.failed)} failed")
    for src, err in report.failed.items():
        print(f"{prog}: failed: {src}: {err}", file=sys.stderr)
    return 1 if report.failed else 0


def video_jpg(argv: Optional[Sequence[str]] = None) -> int:
    return _extract("video_jpg.py", argv, layout="flat", height=360, what="src_dir (ActivityNet: <video>.mp4)")


def video_jpg_kinetics(argv: Optional[Sequence[str]] = None) -> int:
    return _extract("video_jpg_kinetics.py", argv, layout="classes", height=240, what="src_dir/<class>/ (and test/)")


def video_jpg_ucf101_hmdb51(argv: Optional[Sequence[str]] = None) -> int:
    return _extract("video_jpg_ucf101_hmdb51.py", argv, layout="classes", height=240, what="src_dir/<class>/*.avi")


def _n_frames(prog: str, argv) -> int:
    p = _parser(prog, "Write n_frames (the largest frame number) into every jpg_dir/<class>/<video>/ folder.")
    p.add_argument("jpg_dir")
    a = p.parse_args(argv)
    done = T.write_n_frames_tree(a.jpg_dir)
    print(
        f"{prog}: n_frames written into {len(done)} folders ({sum(1 for n in done.values() if n == 0)} without frames)"
    )
    return 0


def n_frames_kinetics(argv: Optional[Sequence[str]] = None) -> int:
    return _n_frames("n_frames_kinetics.py", argv)


def n_frames_ucf101_hmdb51(argv: Optional[Sequence[str]] = None) -> int:
    return _n_frames("n_frames_ucf101_hmdb51.py", argv)


def fps(argv: Optional[Sequence[str]] = None) -> int:
    p = _parser("fps.py", "Write dst_dir/<video>/fps (frames per second of the extracted frames) for ActivityNet.")
    p.add_argument("src_dir")
    p.add_argument("dst_dir")
    p.add_argument(
        "--lineage",
        action="store_true",
        help="the original: ffprobe's Duration with one decimal of seconds, every folder entry counted",
    )
    a = p.parse_args(argv)
    if not a.lineage:
        done = T.write_fps_tree(a.src_dir, a.dst_dir)
    else:
        if shutil.which("ffprobe") is None:
            raise T.ToolError("--lineage needs the ffprobe binary on PATH")
        done = {}
        for video in sorted(Path(a.src_dir).iterdir()):
            folder = Path(a.dst_dir) / video.stem
            if video.suffix.lower() not in T.VIDEO_EXTENSIONS or not folder.is_dir():
                continue
            err = subprocess.run(["ffprobe", str(video)], capture_output=True, text=True).stderr
            text = T.lineage_fps_text([q.name for q in folder.iterdir()], err)
            (folder / "fps").write_text(text)
            done[video.stem] = text
    print(f"fps.py: fps written for {len(done)} videos")
    return 0


def kinetics_json(argv: Optional[Sequence[str]] = None) -> int:
    p = _parser("kinetics_json.py", "ActivityNet-style json from the Kinetics crawler CSVs.")
    for name in ("train_csv_path", "val_csv_path", "test_csv_path", "dst_json_path"):
        p.add_argument(name)
    p.add_argument("--lineage", action="store_true", help="labels in first-appearance order (the original)")
    a = p.parse_args(argv)
    texts = [T._read(Path(x)) for x in (a.train_csv_path, a.val_csv_path, a.test_csv_path)]
    data = T.kinetics_json(*texts, lineage=a.lineage)
    T.dump_json(data, a.dst_json_path)
    print(f"kinetics_json.py: {len(data['labels'])} labels, {len(data['database'])} videos -> {a.dst_json_path}")
    return 0


def ucf101_json(argv: Optional[Sequence[str]] = None) -> int:
    p = _parser("ucf101_json.py", "ucf101_0{1,2,3}.json from classInd.txt, trainlist0k.txt and testlist0k.txt.")
    p.add_argument("annotation_dir_path")
    p.add_argument("--dst_dir", help="where to write the json files (default: annotation_dir_path)")
    a = p.parse_args(argv)
    src = Path(a.annotation_dir_path)
    names = ["classInd.txt"] + [f"{k}list0{i}.txt" for i in (1, 2, 3) for k in ("train", "test")]
    files = {n: T._read(src / n) for n in names}
    for split in (1, 2, 3):
        dst = Path(a.dst_dir or src) / f"ucf101_0{split}.json"
        T.dump_json(T.ucf101_json(files, split), dst)
        print(f"ucf101_json.py: wrote {dst}")
    return 0


def hmdb51_json(argv: Optional[Sequence[str]] = None) -> int:
    p = _parser("hmdb51_json.py", "hmdb51_{1,2,3}.json from the <class>_test_split<k>.txt files.")
    p.add_argument("annotation_dir_path")
    p.add_argument("--dst_dir", help="where to write the json files (default: annotation_dir_path)")
    p.add_argument(
        "--lineage",
        action="store_true",
        help="the original: labels from every file in the folder (adds an empty label to splits 2/3), keys cut at the first '.'",
    )
    a = p.parse_args(argv)
    src = Path(a.annotation_dir_path)
    if not src.is_dir():
        raise T.ToolError(f"annotation folder not found: {src}")
    listing = sorted(q.name for q in src.iterdir() if q.is_file())
    files = {n: T._read(src / n) for n in listing if "split" in n and n.endswith(".txt")}
    if not files:
        raise T.ToolError(f"{src}: no <class>_test_split<k>.txt files")
    for split in (1, 2, 3):
        data = T.hmdb51_json(files, split, lineage=a.lineage, listing=listing)
        dst = Path(a.dst_dir or src) / f"hmdb51_{split}.json"
        T.dump_json(data, dst)
        if a.lineage:
            listing = sorted({*listing, dst.name}) if dst.parent == src else listing
        print(f"hmdb51_json.py: wrote {dst} ({len(data['labels'])} labels)")
    return 0
