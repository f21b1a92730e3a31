"""Data preparation behind ``tools/*.py``: frame extraction, ``n_frames`` / ``fps`` files and the
ActivityNet-style annotation json of UCF-101, HMDB-51 and Kinetics.

Outputs follow the lineage (``image_%05d.jpg`` frames scaled to 240 px height, 360 for
ActivityNet; ``n_frames`` = largest frame number without newline; json ``{"labels", "database"}``).
Upstream bugs are fixed by default, each original behaviour behind a ``lineage=True`` argument:

* HMDB-51: the lineage built the label list from every file of the folder, so the json it wrote for
  split 1 added an empty label ``""`` (shifting every class index) to splits 2 and 3; keys were cut
  at the first ``.`` (``Mr._Bean_x.avi`` -> ``Mr``, which matches no frame folder).
* Kinetics: labels in first-appearance order of the train csv (fixed: sorted).
* fps: seconds parsed with one decimal from ffprobe's header, every directory entry counted as a
  frame (fixed: frames ``image_*`` counted, exact duration from the container).

Extraction decodes with PyAV (the ffmpeg binary is optional: ``backend="ffmpeg"`` runs it with an
argument list, never a shell string), in parallel processes, skipping finished videos, and reports
failed videos by name.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from videokd.errors import UserError

__all__ = [
    "ToolError",
    "ucf101_json",
    "hmdb51_json",
    "kinetics_json",
    "hmdb51_labels",
    "n_frames_of_names",
    "write_n_frames_tree",
    "lineage_fps_text",
    "fps_text",
    "write_fps_tree",
    "ffmpeg_command",
    "scaled_size",
    "extract_frames",
    "extract_tree",
    "ExtractionReport",
    "VIDEO_EXTENSIONS",
]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".mpg", ".mpeg", ".flv")


class ToolError(UserError, RuntimeError):
    """A data-preparation input that is missing or malformed."""


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _read(path: Path) -> str:
    if not path.is_file():
        raise ToolError(f"{path} not found")
    return path.read_text()


# ------------------------------------------------------------------------------------ UCF-101
def ucf101_json(files: Mapping[str, str], split: int) -> dict:
    """The json of split ``split`` from the texts of ``classInd.txt``, ``trainlist0k.txt`` and
    ``testlist0k.txt`` (CRLF fine): labels in classInd order; key = file stem; the test list
    becomes ``validation``."""
    labels = [line.split(" ", 1)[1].strip() for line in _lines(files["classInd.txt"])]
    database: dict[str, dict] = {}
    for name, subset in ((f"trainlist0{split}.txt", "training"), (f"testlist0{split}.txt", "validation")):
        for line in _lines(files[name]):
            rel = line.split(" ")[0]
            try:
                label, base = rel.split("/")
            except ValueError:
                raise ToolError(f"{name}: expected 'Class/video.avi [index]', got {line!r}") from None
            database[base.split(".")[0]] = {"subset": subset, "annotations": {"label": label}}
    return {"labels": labels, "database": database}


# ------------------------------------------------------------------------------------ HMDB-51
_HMDB_SPLIT = re.compile(r"^(.+)_test_split(\d+)\.txt$")


def _hmdb_label(filename: str) -> str:
    return "_".join(filename.split("_")[:-2])


def hmdb51_labels(filenames: Iterable[str], *, lineage: bool = False) -> list[str]:
    """Sorted class names. ``lineage``: from every file name (``hmdb51_1.json`` -> ``""``)."""
    names = list(filenames)
    if lineage:
        return sorted({_hmdb_label(n) for n in names})
    return sorted({m.group(1) for n in names if (m := _HMDB_SPLIT.match(n))})


def hmdb51_json(files: Mapping[str, str], split: int, *, lineage: bool = False, listing: Sequence[str] = ()) -> dict:
    """The json of split ``split`` from the split files ``<class>_test_split<k>.txt`` (name -> text;
    lines ``video.avi 0|1|2``, 0 unused, 1 training, 2 validation). ``listing``: every file name
    in the folder (the lineage derived its labels from it; default: the keys of ``files``)."""
    names = sorted(files)
    labels = hmdb51_labels(listing or names, lineage=lineage)
    database: dict[str, dict] = {}
    for name in names:
        if lineage:
            if f"split{split}" not in name:
                continue
            label = _hmdb_label(name)
        else:
            m = _HMDB_SPLIT.match(name)
            if not m or int(m.group(2)) != split:
                continue
            label = m.group(1)
        for line in _lines(files[name]):
            parts = line.split()
            if len(parts) < 2 or parts[1] not in ("0", "1", "2"):
                raise ToolError(f"{name}: expected 'video.avi 0|1|2', got {line!r}")
            if parts[1] == "0":
                continue
            key = parts[0].split(".")[0] if lineage else os.path.splitext(parts[0])[0]
            database[key] = {"subset": "training" if parts[1] == "1" else "validation", "annotations": {"label": label}}
    return {"labels": labels, "database": database}


# ------------------------------------------------------------------------------------ Kinetics
def _kinetics_rows(text: str, name: str) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(text)))
    need = {"youtube_id", "time_start", "time_end"}
    if rows and not need <= set(rows[0]):
        raise ToolError(f"{name}: expected the crawler columns {sorted(need)} (+ label), got {sorted(rows[0])}")
    return rows


def kinetics_json(train_csv: str, val_csv: str, test_csv: str, *, lineage: bool = False) -> dict:
    """The json from the crawler CSV texts: key ``<youtube_id>_<start %06d>_<end %06d>``; testing
    entries get ``annotations: {}``; labels sorted (``lineage``: first-appearance order)."""
    database: dict[str, dict] = {}
    train = _kinetics_rows(train_csv, "train csv")
    seen: dict[str, None] = {}
    for row in train:
        seen.setdefault(row["label"], None)
    labels = list(seen) if lineage else sorted(seen)
    for rows, subset in ((train, "training"), (_kinetics_rows(val_csv, "val csv"), "validation")):
        for row in rows:
            key = f"{row['youtube_id']}_{int(row['time_start']):06d}_{int(row['time_end']):06d}"
            database[key] = {"subset": subset, "annotations": {"label": row["label"]}}
    for row in _kinetics_rows(test_csv, "test csv"):
        key = f"{row['youtube_id']}_{int(row['time_start']):06d}_{int(row['time_end']):06d}"
        database[key] = {"subset": "testing", "annotations": {}}
    return {"labels": labels, "database": database}


def dump_json(data: Mapping, path: str | os.PathLike) -> None:
    """Python's default separators, insertion order (what the lineage wrote)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data))


# ------------------------------------------------------------------------------------ n_frames
def n_frames_of_names(names: Iterable[str]) -> int:
    """The lineage's ``n_frames``: the largest number in characters 6-10 of any name containing
    ``image`` (not a count), 0 when there is none."""
    numbers = []
    for name in names:
        if "image" not in name:
            continue
        try:
            numbers.append(int(name[6:11]))
        except ValueError:
            continue
    return max(numbers, default=0)


def write_n_frames_tree(jpg_root: str | os.PathLike, *, with_classes: bool = True) -> dict[str, int]:
    """Write ``n_frames`` (no newline) into every ``<class>/<video>/`` (or ``<video>/``) folder;
    returns ``{"<class>/<video>": n}``."""
    root = Path(jpg_root)
    if not root.is_dir():
        raise ToolError(f"frame folder root not found: {root}")
    out = {}
    classes = sorted(p for p in root.iterdir() if p.is_dir()) if with_classes else [root]
    for cls in classes:
        for video in sorted(p for p in cls.iterdir() if p.is_dir()):
            n = n_frames_of_names(os.listdir(video))
            (video / "n_frames").write_text(str(n))
            out[str(video.relative_to(root))] = n
    return out


# ------------------------------------------------------------------------------------ fps
def lineage_fps_text(entries: Sequence[str], ffprobe_stderr: str) -> str:
    """The lineage's ``fps`` file text: directory entries (minus an existing ``fps`` file) over the
    ``Duration:`` of ffprobe's header read with one decimal of seconds, rounded to 2 decimals."""
    i = ffprobe_stderr.find("Duration:")
    d = ffprobe_stderr[i + 10 : i + 21]
    seconds = float(d[0:2]) * 3600 + float(d[3:5]) * 60 + float(d[6:10])
    n = len(entries) - (1 if "fps" in entries else 0)
    return f"{round(n / seconds, 2)}\n"


def fps_text(n_images: int, duration_seconds: float) -> str:
    """``fps`` file text: frames on disk over the exact duration, rounded to 2 decimals."""
    if duration_seconds <= 0:
        raise ToolError(f"cannot compute fps: duration {duration_seconds} s")
    return f"{round(n_images / duration_seconds, 2)}\n"


def video_duration(path: str | os.PathLike) -> float:
    """Seconds of a video (container duration, else the stream's)."""
    import av

    try:
        with av.open(os.fspath(path)) as container:
            if container.duration:
                return container.duration / 1_000_000
            stream = container.streams.video[0]
            return float(stream.duration * stream.time_base)
    except (av.FFmpegError, IndexError, TypeError) as err:
        raise ToolError(f"{path}: cannot read the duration ({err})") from None


def write_fps_tree(video_dir: str | os.PathLike, jpg_root: str | os.PathLike) -> dict[str, str]:
    """Write ``<jpg_root>/<stem>/fps`` for every video of ``video_dir`` with a frame folder."""
    out = {}
    for video in sorted(Path(video_dir).iterdir()):
        if video.suffix.lower() not in VIDEO_EXTENSIONS:
            continue
        folder = Path(jpg_root) / video.stem
        if not folder.is_dir():
            continue
        n = n_frames_of_names(p.name for p in folder.iterdir() if p.name.startswith("image_"))
        text = fps_text(n, video_duration(video))
        (folder / "fps").write_text(text)
        out[video.stem] = text
    return out


# ------------------------------------------------------------------------------------ extraction
def scaled_size(width: int, height: int, target_height: int) -> tuple[int, int]:
    """ffmpeg ``scale=-1:H``: height H, width keeping the aspect ratio (rounded)."""
    return max(1, int(round(width * target_height / height))), target_height


def ffmpeg_command(src: str | os.PathLike, dst_dir: str | os.PathLike, height: int) -> list[str]:
    """The lineage's ffmpeg line as an argument list (no shell)."""
    return [
        "ffmpeg",
        "-i",
        os.fspath(src),
        "-vf",
        f"scale=-1:{height}",
        os.path.join(os.fspath(dst_dir), "image_%05d.jpg"),
    ]


DONE_MARK = "n_frames"


def extract_frames(
    src: str | os.PathLike, dst_dir: str | os.PathLike, *, height: int = 240, backend: str = "pyav", quality: int = 90
) -> int:
    """Decode ``src`` into ``dst_dir/image_%05d.jpg`` (height ``height``, aspect kept); written into
    a temporary folder renamed at the end, so an interrupted video is redone, never half kept.
    Also writes ``n_frames``. Returns the number of frames."""
    from PIL import Image

    dst = Path(dst_dir)
    tmp = dst.with_name(dst.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if backend == "ffmpeg":
            if shutil.which("ffmpeg") is None:
                raise ToolError("backend 'ffmpeg' needs the ffmpeg binary on PATH (or use the default PyAV backend)")
            res = subprocess.run(
                ffmpeg_command(src, tmp, height) + ["-loglevel", "error", "-y"], capture_output=True, text=True
            )
            if res.returncode != 0:
                raise ToolError(f"{src}: ffmpeg failed: {res.stderr.strip()[-300:]}")
            n = len(list(tmp.glob("image_*.jpg")))
        else:
            import av

            n = 0
            with av.open(os.fspath(src)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for frame in container.decode(stream):
                    w, h = scaled_size(frame.width, frame.height, height)
                    img = frame.to_ndarray(format="rgb24", width=w, height=h, interpolation="BICUBIC")
                    n += 1
                    Image.fromarray(np.ascontiguousarray(img)).save(tmp / f"image_{n:05d}.jpg", quality=quality)
        if n == 0:
            raise ToolError(f"{src}: no video frame decoded")
        (tmp / DONE_MARK).write_text(str(n))
        shutil.rmtree(dst, ignore_errors=True)
        tmp.rename(dst)
        return n
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@dataclass
class ExtractionReport:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def _job(args: tuple[str, str, int, str]) -> tuple[str, Optional[str]]:
    src, dst, height, backend = args
    try:
        extract_frames(src, dst, height=height, backend=backend)
        return src, None
    except Exception as err:  # reported by name, the other videos go on
        return src, f"{type(err).__name__}: {err}"


def list_videos(src_dir: str | os.PathLike, *, layout: str) -> list[tuple[Path, str]]:
    """``(video file, output folder relative to the destination)``: layout ``flat`` (ActivityNet:
    ``<stem>``) or ``classes`` (``<class>/<stem>``; Kinetics' ``test/`` is one class folder)."""
    src = Path(src_dir)
    if not src.is_dir():
        raise ToolError(f"video folder not found: {src}")
    folders = [src] if layout == "flat" else sorted(p for p in src.iterdir() if p.is_dir())
    out = []
    for folder in folders:
        for video in sorted(folder.iterdir()):
            if video.is_file() and video.suffix.lower() in VIDEO_EXTENSIONS:
                rel = video.stem if layout == "flat" else f"{folder.name}/{video.stem}"
                out.append((video, rel))
    return out


def extract_tree(
    src_dir: str | os.PathLike,
    dst_dir: str | os.PathLike,
    *,
    layout: str,
    height: int,
    workers: int = 0,
    backend: str = "pyav",
    progress: bool = True,
) -> ExtractionReport:
    """Extract every video of ``src_dir`` (see :func:`list_videos`) into ``dst_dir``, in
    ``workers`` processes (0: the CPU count), skipping folders already finished (their
    ``n_frames`` exists)."""
    report = ExtractionReport()
    jobs = []
    for video, rel in list_videos(src_dir, layout=layout):
        out = Path(dst_dir) / rel
        if (out / DONE_MARK).is_file():  # finished (a partial one lives in <name>.partial)
            report.skipped.append(str(video))
            continue
        jobs.append((str(video), str(out), height, backend))
    workers = workers or min(len(jobs), os.cpu_count() or 1) or 1
    bar = None
    if progress and jobs:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc="extracting frames", unit="video")
    results: Iterable[tuple[str, Optional[str]]]
    if workers <= 1 or len(jobs) <= 1:
        results = map(_job, jobs)
        pool = None
    else:
        pool = ProcessPoolExecutor(max_workers=workers)
        results = pool.map(_job, jobs)
    try:
        for src, err in results:
            if err is None:
                report.done.append(src)
            else:
                report.failed[src] = err
            if bar is not None:
                bar.update(1)
    finally:
        if pool is not None:
            pool.shutdown()
        if bar is not None:
            bar.close()
    return report


def lineage_commands(src_dir: str, dst_dir: str, *, layout: str, height: int) -> list[list[str]]:
    """The ffmpeg argument lists the lineage would run for a tree (one process per video)."""
    return [ffmpeg_command(v, Path(dst_dir) / rel, height) for v, rel in list_videos(src_dir, layout=layout)]
