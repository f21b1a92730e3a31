"""Extract DL-DKD's CLIP teacher features from raw videos and captions (spec sections 3 and 10.4).

The original ``method/test.py`` cannot regenerate the two teacher files training reads: it needs
packages outside the requirements, writes text for train/val only, and writes the video features
under another file name with one key per *frame* and sometimes one frame too many. This module
writes exactly the files :class:`dldkd.data.PRVRTrainDataset` reads::

    python -m dldkd.extract_teacher --root_path ROOT --collection tvr --visual_feature i3d_resnet \\
        --video_dir /data/tvr/videos --clip ViT-B/32 [--splits train val] [--device auto]

* ``ROOT/C/FeatureData/new_clip_vit_32_C_vid_features.hdf5``: one float32 dataset per video id,
  shape ``(n_student_frames, E)``, the CLIP image embeddings (``encode_image``, not normalised)
  of frames sampled uniformly over ``--video_dir/<video_id>.<ext>``;
* ``ROOT/C/TextData/clip_ViT_B_32_C_query_feat.hdf5``: one float32 dataset per caption id,
  shape ``(1, E)``, ``encode_text(tokenize(text, truncate=True))``, not normalised.

**Frame rule.** A video with ``N`` decoded frames whose student features have ``T`` rows
(``len(video2frames[video_id])``) gets teacher rows from frames ``floor(i * N / T)`` for
``i = 0 .. T-1`` (:func:`videokd.data.samplers.uniform_indices`: the first frame of each of ``T``
equal segments). So teacher and student always have the same row count, which training requires.
When ``N < T`` indices repeat, i.e. frames are repeated (each about ``T/N`` times); such videos
are counted in the summary.

**Preprocessing** is CLIP's own (:class:`videokd.clip.Preprocess` at the model's resolution):
frames are decoded as 8-bit RGB (as the original's PIL pipeline sees them), bicubic-resized so
the short side is the model resolution, centre-cropped, scaled to [0, 1] and normalised with
CLIP's mean/std. Any ViT CLIP checkpoint works; ``E`` is the model's embedding width (512 for
ViT-B/32, the paper's teacher). The file names stay the ones training reads.

Runs are **resumable**: both files are opened in append mode, keys already present are skipped
(``--overwrite`` re-extracts them) and the file is flushed after every batch, so an interrupted
run continues where it stopped. An existing key whose shape does not fit (another model, other
student frame counts) is reported as a failure rather than silently kept. Videos are decoded and
preprocessed in DataLoader workers and encoded in batches of ``--batch_frames`` frames that may
span several videos (``torch.no_grad``, bf16 autocast on CUDA). A missing or undecodable video is
reported by name and counted; the run goes on and exits with status 1 listing every failure.
Setup problems (no CLIP weights, missing caption or video2frames file) exit with status 2 and a
one-paragraph message.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from videokd import clip, engine
from videokd.data.features import read_video2frames
from videokd.data.samplers import uniform_indices
from videokd.data.video import VideoReader
from videokd.errors import UserError

from .data import CollectionPaths, DataError, collection_paths, group_captions, read_captions

__all__ = [
    "DEFAULT_VIDEO_EXTS",
    "TeacherSetupError",
    "ExtractionSummary",
    "teacher_frame_indices",
    "find_video",
    "load_teacher",
    "VideoFrameDataset",
    "extract_text_features",
    "extract_video_features",
    "extract_teacher_features",
    "build_parser",
    "main",
]

DEFAULT_VIDEO_EXTS = ("mp4", "mkv", "webm", "avi", "mov")


class TeacherSetupError(UserError, RuntimeError):
    """Something the whole run needs is missing or unreadable (weights, caption files, video2frames)."""


@dataclass
class ExtractionSummary:
    """Counts of one run; ``failures`` holds ``(kind, name, reason)`` with kind ``video`` / ``caption``."""

    video_file: Optional[Path] = None
    text_file: Optional[Path] = None
    embed_dim: int = 0
    videos_written: int = 0
    videos_skipped: int = 0
    captions_written: int = 0
    captions_skipped: int = 0
    repeated_frames: list[str] = field(default_factory=list)  # videos with fewer frames than the student's
    failures: list[tuple[str, str, str]] = field(default_factory=list)

    def fail(self, kind: str, name: str, reason: str) -> None:
        """Record a failed video / caption and say so at once (a long run should not hide it until the end)."""
        self.failures.append((kind, name, reason))
        print(f"extract_teacher: {kind} {name} failed: {reason}", file=sys.stderr, flush=True)

    @property
    def videos_failed(self) -> int:
        return sum(1 for kind, _, _ in self.failures if kind == "video")

    @property
    def captions_failed(self) -> int:
        return sum(1 for kind, _, _ in self.failures if kind == "caption")

    def format(self) -> str:
        lines = [
            f"videos:   {self.videos_written} written, {self.videos_skipped} skipped (already present), "
            f"{self.videos_failed} failed -> {self.video_file}",
            f"captions: {self.captions_written} written, {self.captions_skipped} skipped (already present), "
            f"{self.captions_failed} failed -> {self.text_file}",
        ]
        if self.repeated_frames:
            lines.append(
                f"{len(self.repeated_frames)} videos have fewer decoded frames than student frames; their frames "
                f"were repeated to match: {', '.join(self.repeated_frames[:10])}"
                + (" ..." if len(self.repeated_frames) > 10 else "")
            )
        if self.failures:
            lines.append(f"FAILED ({len(self.failures)}):")
            lines += [f"  {kind} {name}: {reason}" for kind, name, reason in self.failures]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# small pieces


def teacher_frame_indices(num_decoded: int, num_student: int) -> np.ndarray:
    """Frame indices ``floor(i * N / T)``, ``i < T``: ``(T,)`` int64 in ``[0, N)`` (repeats when ``N < T``)."""
    return uniform_indices(num_decoded, num_student)


def find_video(video_dir: str | os.PathLike, video_id: str, exts: Sequence[str] = DEFAULT_VIDEO_EXTS) -> Optional[Path]:
    """``video_dir/<video_id>.<ext>`` for the first extension that exists, else ``None``."""
    for ext in exts:
        path = Path(video_dir) / f"{video_id}.{ext.lstrip('.')}"
        if path.is_file():
            return path
    return None


def load_teacher(
    name_or_path: str, device: torch.device | str = "cpu", *, download_root: Optional[str] = None
) -> tuple[clip.CLIP, clip.Preprocess]:
    """``videokd.clip.load`` (fp32, eval mode, on ``device``) with its errors as :class:`TeacherSetupError`.

    The preprocessing resolution follows the checkpoint (``model.visual.input_resolution``).
    """
    try:
        model, preprocess = clip.load(name_or_path, device=device, download_root=download_root)
    except (FileNotFoundError, ValueError, clip.CheckpointMismatchError) as err:
        raise TeacherSetupError(f"cannot load the CLIP teacher {name_or_path!r}:\n{err}") from err
    return model.eval().requires_grad_(False), preprocess


def _embed_dim(model: clip.CLIP) -> int:
    return int(model.text_projection.shape[1])  # image and text towers project to the same width


def _encode(fn: Any, x: torch.Tensor, prec: engine.Precision) -> np.ndarray:
    """``fn(x)`` without autograd, under the run's autocast, as float32 numpy (``(N, E)``)."""
    with torch.no_grad(), prec.autocast():
        out = fn(x)
    return out.float().cpu().numpy()


def _open_h5(path: Path):
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return h5py.File(path, "a")
    except OSError as err:
        raise TeacherSetupError(
            f"cannot open {path} for appending ({err}). If a previous run was killed while writing, the "
            "file may be damaged: move it away and run again."
        ) from err


def _shape_fits(shape: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    return tuple(shape) == tuple(expected)


def _write(h5: Any, key: str, value: np.ndarray) -> None:
    if key in h5:  # only reached with overwrite
        del h5[key]
    h5.create_dataset(key, data=np.ascontiguousarray(value, dtype=np.float32))


# ---------------------------------------------------------------------------------------------
# text


def extract_text_features(
    model: clip.CLIP,
    captions: Sequence[tuple[str, str]],
    out_path: Path,
    *,
    device: torch.device,
    precision: str = "fp32",
    batch_size: int = 512,
    overwrite: bool = False,
    summary: Optional[ExtractionSummary] = None,
) -> ExtractionSummary:
    """Write ``encode_text`` of every ``(cap_id, text)`` to ``out_path`` as ``(1, E)`` float32 per cap_id.

    Texts longer than the model's context are truncated (last kept id becomes end-of-text).
    """
    summary = summary if summary is not None else ExtractionSummary()
    summary.text_file = out_path
    embed_dim = _embed_dim(model)
    prec = engine.Precision(precision, device)
    with _open_h5(out_path) as h5:
        existing = set(h5.keys())
        todo: list[tuple[str, str]] = []
        for cap_id, text in captions:
            if "/" in cap_id:
                summary.fail("caption", cap_id, "'/' in the id would make an HDF5 group, not a dataset")
            elif cap_id in existing and not overwrite:
                shape = h5[cap_id].shape
                if _shape_fits(shape, (1, embed_dim)):
                    summary.captions_skipped += 1
                else:
                    summary.fail(
                        "caption",
                        cap_id,
                        f"already in {out_path.name} with shape {shape}, expected "
                        f"(1, {embed_dim}); rerun with --overwrite",
                    )
            else:
                todo.append((cap_id, text))
        progress = engine.Progress(len(todo), desc="captions")
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            tokens = clip.tokenize([t for _, t in chunk], context_length=model.context_length, truncate=True)
            feats = _encode(model.encode_text, tokens.to(device), prec)  # (n, E)
            for (cap_id, _), row in zip(chunk, feats):
                _write(h5, cap_id, row[None])
            h5.flush()
            summary.captions_written += len(chunk)
            progress.update(len(chunk))
        progress.close()
    return summary


# ---------------------------------------------------------------------------------------------
# video


class VideoFrameDataset(Dataset):
    """Decode and preprocess the teacher frames of one video per item (runs in DataLoader workers).

    Items: ``{"video_id", "frames": (T, 3, R, R) float32 or None, "num_decoded": N, "error": str or None}``.
    Any decoding problem becomes ``error`` so that one bad file does not stop the run.
    """

    def __init__(
        self,
        jobs: Sequence[tuple[str, Optional[Path], int]],
        preprocess: clip.Preprocess,
        *,
        missing_reason: Optional[dict[str, str]] = None,
    ) -> None:
        self.jobs = list(jobs)  # (video_id, path or None, number of student frames)
        self.preprocess = preprocess
        self.missing_reason = missing_reason or {}

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        video_id, path, num_student = self.jobs[index]
        item: dict[str, Any] = {"video_id": video_id, "frames": None, "num_decoded": 0, "error": None}
        if path is None:
            item["error"] = self.missing_reason.get(video_id, "video file not found")
            return item
        try:
            with VideoReader(path) as reader:
                n = reader.info.num_frames
                # uint8 (T, H, W, 3) -> (T, 3, H, W): resizing 8-bit frames is what the original PIL path does
                frames = reader.get_frames(teacher_frame_indices(n, num_student), layout="thwc")
            item["frames"] = self.preprocess(frames.permute(0, 3, 1, 2))
            item["num_decoded"] = n
        except Exception as err:  # noqa: BLE001 - any decoder failure is reported per video, the run goes on
            item["error"] = f"{path}: {type(err).__name__}: {err}"
        return item


def _identity(item: Any) -> Any:
    return item


def extract_video_features(
    model: clip.CLIP,
    preprocess: clip.Preprocess,
    video_ids: Sequence[str],
    video2frames: dict[str, list[str]],
    video_dir: str | os.PathLike,
    out_path: Path,
    *,
    device: torch.device,
    precision: str = "fp32",
    batch_frames: int = 256,
    num_workers: int = 4,
    video_exts: Sequence[str] = DEFAULT_VIDEO_EXTS,
    overwrite: bool = False,
    summary: Optional[ExtractionSummary] = None,
) -> ExtractionSummary:
    """Write ``(len(video2frames[v]), E)`` float32 CLIP frame embeddings per video id to ``out_path``.

    Frames of several videos share each ``encode_image`` call (``batch_frames`` frames at most);
    a video's dataset is written once all its frames are encoded.
    """
    summary = summary if summary is not None else ExtractionSummary()
    summary.video_file = out_path
    embed_dim = _embed_dim(model)
    prec = engine.Precision(precision, device)
    with _open_h5(out_path) as h5:
        existing = set(h5.keys())
        jobs: list[tuple[str, Optional[Path], int]] = []
        missing_reason: dict[str, str] = {}
        for vid in video_ids:
            frames = video2frames.get(vid)
            if not frames:
                summary.fail("video", vid, "not in video2frames.txt (or no frames listed)")
                continue
            if "/" in vid:
                summary.fail("video", vid, "'/' in the id would make an HDF5 group, not a dataset")
                continue
            expected = (len(frames), embed_dim)
            if vid in existing and not overwrite:
                shape = h5[vid].shape
                if _shape_fits(shape, expected):
                    summary.videos_skipped += 1
                else:
                    summary.fail(
                        "video",
                        vid,
                        f"already in {out_path.name} with shape {shape}, expected {expected}; rerun with --overwrite",
                    )
                continue
            path = find_video(video_dir, vid, video_exts)
            if path is None:
                missing_reason[vid] = f"no video file {Path(video_dir) / vid}.{{{','.join(video_exts)}}}"
            jobs.append((vid, path, len(frames)))

        loader = DataLoader(
            VideoFrameDataset(jobs, preprocess, missing_reason=missing_reason),
            batch_size=None,
            shuffle=False,
            num_workers=num_workers,
            collate_fn=_identity,
            prefetch_factor=4 if num_workers > 0 else None,  # keep decoders ahead of the GPU
        )
        progress = engine.Progress(len(jobs), desc="videos")
        pending: list[tuple[str, torch.Tensor]] = []
        pending_frames = 0

        def flush() -> None:
            nonlocal pending, pending_frames
            if not pending:
                return
            frames = torch.cat([f for _, f in pending])  # (sum T_v, 3, R, R)
            feats = np.concatenate(
                [
                    _encode(model.encode_image, frames[i : i + batch_frames].to(device), prec)
                    for i in range(0, frames.shape[0], batch_frames)
                ]
            )
            offsets = np.cumsum([0] + [f.shape[0] for _, f in pending])
            for k, (vid, _) in enumerate(pending):
                _write(h5, vid, feats[offsets[k] : offsets[k + 1]])
            h5.flush()
            summary.videos_written += len(pending)
            progress.update(len(pending))
            pending, pending_frames = [], 0

        for item in loader:
            vid = item["video_id"]
            if item["error"] is not None:
                summary.fail("video", vid, item["error"])
                progress.update(1)
                continue
            if item["num_decoded"] < item["frames"].shape[0]:
                summary.repeated_frames.append(vid)
            pending.append((vid, item["frames"]))
            pending_frames += item["frames"].shape[0]
            if pending_frames >= batch_frames:
                flush()
        flush()
        progress.close()
    summary.embed_dim = embed_dim
    return summary


# ---------------------------------------------------------------------------------------------
# the whole run


def _split_inputs(paths: CollectionPaths, splits: Sequence[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Captions (deduplicated by cap_id, file order) and video ids (first appearance) of ``splits``."""
    captions: dict[str, str] = {}
    for split in splits:
        try:
            rows = read_captions(paths.captions(split))
        except (FileNotFoundError, DataError) as err:
            raise TeacherSetupError(str(err)) from err
        for cap_id, text in rows:
            captions.setdefault(cap_id, text)
    video_ids, _ = group_captions(captions)
    return list(captions.items()), video_ids


def _pick_precision(precision: str, device: torch.device) -> str:
    if precision != "auto":
        return precision
    if device.type != "cuda":
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def extract_teacher_features(
    *,
    root_path: str | os.PathLike,
    collection: str,
    visual_feature: str,
    video_dir: str | os.PathLike,
    clip_model: str,
    splits: Sequence[str] = ("train", "val"),
    device: torch.device | str = "cpu",
    precision: str = "auto",
    batch_frames: int = 256,
    batch_captions: int = 512,
    num_workers: int = 4,
    video_exts: Sequence[str] = DEFAULT_VIDEO_EXTS,
    overwrite: bool = False,
    skip_text: bool = False,
    skip_video: bool = False,
    download_root: Optional[str] = None,
) -> ExtractionSummary:
    """Write both teacher files for the captions and videos of ``splits`` (see the module docstring).

    Raises :class:`TeacherSetupError` when the weights, a caption file or ``video2frames.txt`` are
    missing; per-video / per-caption problems end up in the returned summary's ``failures``.
    """
    device = torch.device(device)
    paths = collection_paths(root_path, collection, visual_feature)
    captions, video_ids = _split_inputs(paths, splits)
    video2frames: dict[str, list[str]] = {}
    if not skip_video:
        if not paths.video2frames.is_file():
            raise TeacherSetupError(
                f"video2frames not found: {paths.video2frames} (the student frame counts come from it)"
            )
        try:
            video2frames = read_video2frames(paths.video2frames)
        except ValueError as err:
            raise TeacherSetupError(str(err)) from err
        if not Path(video_dir).is_dir():
            raise TeacherSetupError(f"--video_dir {video_dir} is not a directory")
    model, preprocess = load_teacher(clip_model, device, download_root=download_root)
    precision = _pick_precision(precision, device)
    print(
        f"extract_teacher: CLIP {clip_model} (embed dim {_embed_dim(model)}, input "
        f"{preprocess.size}px) on {device} ({precision}); splits {list(splits)}: {len(video_ids)} videos, "
        f"{len(captions)} captions",
        file=sys.stderr,
        flush=True,
    )
    if model.config != clip.MODEL_CONFIGS["ViT-B/32"]:
        print(
            "extract_teacher: note: this is not ViT-B/32 (the paper's teacher); the files keep the names training reads",
            file=sys.stderr,
            flush=True,
        )
    summary = ExtractionSummary(video_file=paths.clip_video, text_file=paths.clip_text, embed_dim=_embed_dim(model))
    if not skip_text:
        extract_text_features(
            model,
            captions,
            paths.clip_text,
            device=device,
            precision=precision,
            batch_size=batch_captions,
            overwrite=overwrite,
            summary=summary,
        )
    if not skip_video:
        extract_video_features(
            model,
            preprocess,
            video_ids,
            video2frames,
            video_dir,
            paths.clip_video,
            device=device,
            precision=precision,
            batch_frames=batch_frames,
            num_workers=num_workers,
            video_exts=video_exts,
            overwrite=overwrite,
            summary=summary,
        )
    return summary


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m dldkd.extract_teacher",
        description="Write DL-DKD's CLIP teacher features (new_clip_vit_32_<C>_vid_features.hdf5 and "
        "clip_ViT_B_32_<C>_query_feat.hdf5) from raw videos and the caption files.",
    )
    p.add_argument("--root_path", required=True, help="dataset root (ROOT/<collection>/...)")
    p.add_argument("--collection", required=True, help="tvr | activitynet | charades | ...")
    p.add_argument(
        "--visual_feature", required=True, help="student feature folder; its video2frames.txt sets the frame counts"
    )
    p.add_argument("--video_dir", required=True, help="folder with <video_id>.<ext> files")
    p.add_argument("--clip", required=True, help="CLIP checkpoint file or model name (ViT-B/32, looked up offline)")
    p.add_argument(
        "--download_root",
        default=None,
        help="folder holding named CLIP checkpoints (default $VIDEOKD_CLIP_ROOT or ~/.cache/clip)",
    )
    p.add_argument("--splits", nargs="+", default=["train", "val"], help="caption splits to cover (default: train val)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16", "fp16"],
        help="autocast precision (auto: bf16 on CUDA, fp32 on CPU); outputs are float32 either way",
    )
    p.add_argument("--batch_frames", type=int, default=256, help="frames per encode_image call (across videos)")
    p.add_argument("--batch_captions", type=int, default=512, help="captions per encode_text call")
    p.add_argument("--num_workers", type=int, default=min(8, os.cpu_count() or 1), help="video decoding processes")
    p.add_argument("--video_ext", nargs="+", default=list(DEFAULT_VIDEO_EXTS), help="extensions tried in order")
    p.add_argument("--overwrite", action="store_true", help="re-extract keys already present")
    p.add_argument("--skip_text", action="store_true", help="do not write the caption file")
    p.add_argument("--skip_video", action="store_true", help="do not write the video file")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line; returns 0 (all written), 1 (some videos / captions failed, listed) or 2 (setup error)."""
    args = build_parser().parse_args(argv)
    for name in ("batch_frames", "batch_captions"):
        if getattr(args, name) < 1:
            print(f"extract_teacher: error: --{name} must be >= 1", file=sys.stderr)
            return 2
    if str(args.device).startswith("cuda") and not torch.cuda.is_available():
        print(
            f"extract_teacher: error: --device {args.device} asked for CUDA but no GPU is available "
            "(use --device cpu or auto)",
            file=sys.stderr,
        )
        return 2
    start = time.monotonic()
    with engine.distributed_session(args.device) as dist:
        if dist.world_size > 1:
            print(
                "extract_teacher: error: run it as one process (all ranks would write the same HDF5 file)",
                file=sys.stderr,
            )
            return 2
        try:
            summary = extract_teacher_features(
                root_path=args.root_path,
                collection=args.collection,
                visual_feature=args.visual_feature,
                video_dir=args.video_dir,
                clip_model=args.clip,
                splits=args.splits,
                device=dist.device,
                precision=args.precision,
                batch_frames=args.batch_frames,
                batch_captions=args.batch_captions,
                num_workers=args.num_workers,
                video_exts=args.video_ext,
                overwrite=args.overwrite,
                skip_text=args.skip_text,
                skip_video=args.skip_video,
                download_root=args.download_root,
            )
        except TeacherSetupError as err:
            print(f"extract_teacher: error: {err}", file=sys.stderr)
            return 2
    print(summary.format())  # other expected failures (a HDF5 file that cannot be opened...): run_main
    print(f"done in {time.monotonic() - start:.1f} s")
    return 1 if summary.failures else 0


if __name__ == "__main__":
    from videokd.cli import run_main

    raise SystemExit(run_main(main, prog="extract_teacher"))
