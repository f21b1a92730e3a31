"""DL-DKD / MS-SL feature bundles on disk, datasets and collate functions (spec section 3).

Layout under ``<root>/<collection>/``::

    FeatureData/<visual_feature>/{shape.txt,id.txt,feature.bin,video2frames.txt}   student frames
    FeatureData/new_clip_vit_32_<C>_vid_features.hdf5                               teacher frames
    TextData/<C>{train,val,test}.caption.txt                                        "<vid>#enc#<k> text"
    TextData/roberta_<C>_query_feat.hdf5                                            student tokens
    TextData/clip_ViT_B_32_<C>_query_feat.hdf5                                      teacher captions

Per item the student frames are mean-pooled to at most ``max_ctx_l`` rows and L2-normalised
(``x/(|x|+1e-5)``), the teacher frames are pooled the same way but not normalised, and the
RoBERTa tokens are L2-normalised and truncated to ``max_desc_l``. The student frames come from an
``np.memmap`` (one fancy-indexing read per video) and every HDF5 file is opened lazily in the
process that reads it, so the datasets are safe to hand to DataLoader workers.

Everything a run needs is checked up front with errors that name the file, the id and the shapes:
missing video / frame / caption ids, feature widths that differ from the options, and teacher
frame counts that differ from the student's (the original silently truncated or crashed there).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch.utils.data import Dataset

from videokd.data.features import BigFile, l2_normalize_rows, read_video2frames, uniform_feature_sampling
from videokd.data.hdf5 import LazyHDF5
from videokd.errors import UserError

__all__ = [
    "CollectionPaths",
    "collection_paths",
    "read_captions",
    "group_captions",
    "video_frame_features",
    "preprocess_frames",
    "preprocess_tokens",
    "PRVRTrainDataset",
    "VideoEvalDataset",
    "QueryEvalDataset",
    "collate_train",
    "collate_frame_val",
    "collate_text_val",
    "DataError",
]


class DataError(UserError, ValueError):
    """Input data that does not fit the DL-DKD layout or the run's options."""


# ---------------------------------------------------------------------------------------------
# paths


@dataclass(frozen=True)
class CollectionPaths:
    """Every file of one collection (see the module docstring for the layout)."""

    root: Path
    collection: str
    visual_feature: str

    @property
    def base(self) -> Path:
        return self.root / self.collection

    @property
    def feature_dir(self) -> Path:
        return self.base / "FeatureData" / self.visual_feature

    @property
    def video2frames(self) -> Path:
        return self.feature_dir / "video2frames.txt"

    @property
    def clip_video(self) -> Path:
        return self.base / "FeatureData" / f"new_clip_vit_32_{self.collection}_vid_features.hdf5"

    def captions(self, split: str) -> Path:
        return self.base / "TextData" / f"{self.collection}{split}.caption.txt"

    @property
    def roberta(self) -> Path:
        return self.base / "TextData" / f"roberta_{self.collection}_query_feat.hdf5"

    @property
    def clip_text(self) -> Path:
        return self.base / "TextData" / f"clip_ViT_B_32_{self.collection}_query_feat.hdf5"

    def required(self, phase: str, *, use_teacher: bool = True) -> list[Path]:
        """Files a phase reads: ``"train"`` (train + val captions, teacher files) or ``"test"``."""
        feats = [self.feature_dir / n for n in ("shape.txt", "id.txt", "feature.bin", "video2frames.txt")]
        if phase == "train":
            files = feats + [self.captions("train"), self.captions("val"), self.roberta]
            if use_teacher:
                files += [self.clip_text, self.clip_video]
            return files
        if phase in ("test", "val"):
            return feats + [self.captions(phase), self.roberta]
        raise ValueError(f"phase must be 'train', 'val' or 'test', got {phase!r}")

    def missing(self, phase: str, *, use_teacher: bool = True) -> list[Path]:
        return [p for p in self.required(phase, use_teacher=use_teacher) if not p.is_file()]


def collection_paths(root: str | os.PathLike, collection: str, visual_feature: str) -> CollectionPaths:
    return CollectionPaths(Path(root).expanduser(), collection, visual_feature)


# ---------------------------------------------------------------------------------------------
# readers


def read_captions(path: str | os.PathLike) -> list[tuple[str, str]]:
    """``(cap_id, text)`` per line of a caption file, in file order (``"<cap_id> <text>"``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"caption file not found: {path}")
    out = []
    for n, raw in enumerate(path.read_bytes().splitlines(), 1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError as err:
            raise DataError(
                f"{path}:{n}: not UTF-8 text (byte 0x{raw[err.start]:02x} at column {err.start + 1}); "
                "caption files must be UTF-8"
            ) from None
        if not line:
            continue
        cap_id, _, text = line.partition(" ")
        if "#" not in cap_id:
            raise DataError(f"{path}:{n}: caption id {cap_id!r} is not of the form <video_id>#enc#<k>")
        out.append((cap_id, text))
    if not out:
        raise DataError(f"{path}: no captions")
    return out


def group_captions(cap_ids: Iterable[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Video ids in order of first appearance and ``{video_id: [cap_id, ...]}`` (id before the first ``#``)."""
    vid_caps: dict[str, list[str]] = {}
    for cid in cap_ids:
        vid_caps.setdefault(cid.split("#", 1)[0], []).append(cid)
    return list(vid_caps), vid_caps


def preprocess_frames(frames: np.ndarray, max_len: int, *, normalize: bool) -> np.ndarray:
    """Mean-pool ``(n, D)`` frames to at most ``max_len`` rows (float64 math, as the original
    builds them from Python floats), then ``x/(|x|+1e-5)`` per row when ``normalize``."""
    x = uniform_feature_sampling(np.asarray(frames, dtype=np.float64), max_len)
    return l2_normalize_rows(x) if normalize else x


def preprocess_tokens(tokens: np.ndarray, max_len: int) -> np.ndarray:
    """L2-normalise each RoBERTa token (eps 1e-5) and keep the first ``max_len``: ``(min(n, max_len), Dq)`` f32."""
    return l2_normalize_rows(np.asarray(tokens, dtype=np.float32))[:max_len]


def video_frame_features(bigfile: BigFile, video2frames: dict[str, list[str]], video_id: str) -> np.ndarray:
    """The ``(n_frames, D)`` student rows of one video, in temporal order."""
    try:
        frames = video2frames[video_id]
    except KeyError:
        raise DataError(f"video {video_id!r} is not in video2frames ({bigfile.folder / 'video2frames.txt'})") from None
    return bigfile.read(frames)


def _summarise(items: Sequence[str], limit: int = 5) -> str:
    head = ", ".join(repr(x) for x in list(items)[:limit])
    return head + (f" ... ({len(items)} in all)" if len(items) > limit else "")


class _Features:
    """Shared student-side readers: BigFile, video2frames and RoBERTa features, with checks."""

    def __init__(self, paths: CollectionPaths, *, q_feat_size: Optional[int], max_ctx_l: int, max_desc_l: int) -> None:
        self.paths = paths
        self.bigfile = BigFile(paths.feature_dir)
        self.video2frames = read_video2frames(paths.video2frames)
        self.roberta = LazyHDF5(paths.roberta)
        self.q_feat_size = q_feat_size
        self.max_ctx_l = max_ctx_l
        self.max_desc_l = max_desc_l

    def check_videos(self, video_ids: Sequence[str]) -> None:
        missing = [v for v in video_ids if v not in self.video2frames]
        if missing:
            raise DataError(f"videos missing from {self.paths.video2frames}: {_summarise(missing)}")
        names = self.bigfile.name2index
        for v in video_ids:
            frames = self.video2frames[v]
            if not frames:
                raise DataError(f"video {v!r} has no frames in {self.paths.video2frames}")
            absent = [f for f in frames if f not in names]
            if absent:
                raise DataError(
                    f"video {v!r}: frame ids not in {self.paths.feature_dir / 'id.txt'}: {_summarise(absent)}"
                )

    def check_captions(self, cap_ids: Sequence[str]) -> None:
        keys = set(self.roberta.keys())
        missing = [c for c in cap_ids if c not in keys]
        if missing:
            raise DataError(f"captions missing from {self.paths.roberta}: {_summarise(missing)}")
        if self.q_feat_size is not None and cap_ids:
            shape = self.roberta.shape(cap_ids[0])
            if len(shape) != 2 or shape[1] != self.q_feat_size:
                raise DataError(
                    f"{self.paths.roberta}[{cap_ids[0]!r}] has shape {shape}, expected (n_tokens, {self.q_feat_size}) "
                    "(--q_feat_size: 768 for TVR, 1024 for ActivityNet / Charades)"
                )

    def frames(self, video_id: str) -> np.ndarray:
        return preprocess_frames(
            video_frame_features(self.bigfile, self.video2frames, video_id), self.max_ctx_l, normalize=True
        )

    def tokens(self, cap_id: str) -> np.ndarray:
        arr = np.asarray(self.roberta[cap_id])
        if arr.ndim != 2 or (self.q_feat_size is not None and arr.shape[1] != self.q_feat_size):
            raise DataError(
                f"{self.paths.roberta}[{cap_id!r}] has shape {arr.shape}, expected (n_tokens, {self.q_feat_size})"
            )
        if arr.shape[0] == 0:
            raise DataError(f"{self.paths.roberta}[{cap_id!r}] has no tokens")
        return preprocess_tokens(arr, self.max_desc_l)


class PRVRTrainDataset(Dataset):
    """One item per training **video**: its frames, all its captions and (optionally) the teacher's.

    Item keys: ``video_id``, ``index``, ``cap_ids``, ``frame_video_feature`` (L, Dv) f32,
    ``cap_tensors`` [(Lq_i, Dq)], ``clip_video_feature`` (L, Dc), ``clip_cap_tensors`` [(1, Dc)].
    """

    def __init__(
        self,
        paths: CollectionPaths,
        *,
        split: str = "train",
        q_feat_size: Optional[int] = None,
        max_ctx_l: int = 128,
        max_desc_l: int = 30,
        use_teacher: bool = True,
        resample_to_teacher: bool = False,
    ) -> None:
        self.paths = paths
        self.resample_to_teacher = resample_to_teacher
        self.feats = _Features(paths, q_feat_size=q_feat_size, max_ctx_l=max_ctx_l, max_desc_l=max_desc_l)
        cap_ids = [c for c, _ in read_captions(paths.captions(split))]
        self.video_ids, self.vid_caps = group_captions(cap_ids)
        self.feats.check_videos(self.video_ids)
        self.feats.check_captions(cap_ids)
        self.use_teacher = use_teacher
        self.clip_text = self.clip_video = None
        if use_teacher:
            self.clip_text = LazyHDF5(paths.clip_text)
            self.clip_video = LazyHDF5(paths.clip_video)
            self._check_teacher(cap_ids)

    def _check_teacher(self, cap_ids: Sequence[str]) -> None:
        text_keys, video_keys = set(self.clip_text.keys()), set(self.clip_video.keys())
        # DL-DKD++ also accepts teacher caption keys written as '<vid>#<k>'
        missing = [c for c in cap_ids if c not in text_keys and c.replace("#enc#", "#") not in text_keys]
        if missing:
            raise DataError(
                f"captions missing from the teacher text file {self.paths.clip_text}: {_summarise(missing)}"
            )
        missing = [v for v in self.video_ids if v not in video_keys]
        if missing:
            raise DataError(
                f"videos missing from the teacher video file {self.paths.clip_video}: {_summarise(missing)}"
            )
        width: Optional[int] = None
        first_video = None
        for v in self.video_ids:
            shape = self.clip_video.shape(v)
            n_student = len(self.feats.video2frames[v])
            if len(shape) != 2:
                raise DataError(
                    f"video {v!r}: teacher features in {self.paths.clip_video} have shape {shape}, expected (n_frames, Dc)"
                )
            if self.resample_to_teacher:
                if shape[0] > n_student:
                    raise DataError(
                        f"video {v!r}: the teacher ({self.paths.clip_video.name}) has {shape[0]} frames, more than the "
                        f"student's {n_student}; the student can only be pooled down to the teacher's count"
                    )
            elif shape[0] != n_student:
                raise DataError(
                    f"video {v!r}: teacher features {self.paths.clip_video.name} have shape {shape} but the student "
                    f"has {n_student} frames; teacher and student frame counts must be equal "
                    "(DL-DKD++, --label_style soft, pools the student down to the teacher's count)"
                )
            if width is None:
                width, first_video = shape[1], v
            elif shape[1] != width:
                raise DataError(
                    f"video {v!r}: teacher features in {self.paths.clip_video} are {shape[1]}-d, "
                    f"but video {first_video!r} has {width}-d features; every teacher video must have the same width"
                )
        first = cap_ids[0] if cap_ids[0] in text_keys else cap_ids[0].replace("#enc#", "#")
        text_shape = self.clip_text.shape(first)
        if text_shape[-1] != width or len(text_shape) > 2 or (len(text_shape) == 2 and text_shape[0] != 1):
            raise DataError(
                f"caption {cap_ids[0]!r}: teacher feature in {self.paths.clip_text} has shape {text_shape}, expected "
                f"(1, {width}) or ({width},) to match the teacher video features (e.g. video {first_video!r})"
            )
        self.teacher_dim = width

    @property
    def visual_input_size(self) -> int:
        return self.feats.bigfile.ndims

    def _student_frames(self, vid: str) -> np.ndarray:
        """The student's frames, pooled to at most ``max_ctx_l`` rows (DL-DKD++: first down to the teacher's count)."""
        if not (self.use_teacher and self.resample_to_teacher):
            return self.feats.frames(vid)
        raw = video_frame_features(self.feats.bigfile, self.feats.video2frames, vid)
        n_teacher = self.clip_video.shape(vid)[0]
        pooled = uniform_feature_sampling(np.asarray(raw, dtype=np.float64), n_teacher)
        return preprocess_frames(pooled, self.feats.max_ctx_l, normalize=True)

    def __len__(self) -> int:
        return len(self.video_ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        vid = self.video_ids[index]
        cap_ids = self.vid_caps[vid]
        item: dict[str, Any] = {
            "video_id": vid,
            "index": index,
            "cap_ids": cap_ids,
            "frame_video_feature": torch.from_numpy(self._student_frames(vid).astype(np.float32)),
            "cap_tensors": [torch.from_numpy(self.feats.tokens(c)) for c in cap_ids],
        }
        if self.use_teacher:
            teacher = np.asarray(self.clip_video[vid])
            n_student = len(self.feats.video2frames[vid])
            if teacher.shape[0] > n_student or (teacher.shape[0] != n_student and not self.resample_to_teacher):
                raise DataError(f"video {vid!r}: teacher has {teacher.shape[0]} frames, student {n_student}")
            item["clip_video_feature"] = torch.from_numpy(
                preprocess_frames(teacher, self.feats.max_ctx_l, normalize=False).astype(np.float32)
            )
            item["clip_cap_tensors"] = [
                torch.from_numpy(
                    np.asarray(self.clip_text.get(c, c.replace("#enc#", "#")), dtype=np.float32).reshape(1, -1)
                )
                for c in cap_ids
            ]
        return item


class VideoEvalDataset(Dataset):
    """The videos of an evaluation split (order of first appearance in its caption file)."""

    def __init__(
        self, paths: CollectionPaths, *, split: str, max_ctx_l: int = 128, video_ids: Optional[Sequence[str]] = None
    ) -> None:
        self.paths = paths
        self.feats = _Features(paths, q_feat_size=None, max_ctx_l=max_ctx_l, max_desc_l=1)
        if video_ids is None:
            video_ids, _ = group_captions(c for c, _ in read_captions(paths.captions(split)))
        self.video_ids = list(video_ids)
        self.feats.check_videos(self.video_ids)

    @property
    def visual_input_size(self) -> int:
        return self.feats.bigfile.ndims

    def lengths(self) -> list[int]:
        """Frames per video after sampling (for length-sorted evaluation batches)."""
        return [min(len(self.feats.video2frames[v]), self.feats.max_ctx_l) for v in self.video_ids]

    def __len__(self) -> int:
        return len(self.video_ids)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, str]:
        vid = self.video_ids[index]
        return torch.from_numpy(self.feats.frames(vid).astype(np.float32)), index, vid


class QueryEvalDataset(Dataset):
    """The captions of an evaluation split, in file order."""

    def __init__(
        self, paths: CollectionPaths, *, split: str, q_feat_size: Optional[int] = None, max_desc_l: int = 30
    ) -> None:
        self.paths = paths
        self.feats = _Features(paths, q_feat_size=q_feat_size, max_ctx_l=1, max_desc_l=max_desc_l)
        self.cap_ids = [c for c, _ in read_captions(paths.captions(split))]
        self.feats.check_captions(self.cap_ids)

    def lengths(self) -> list[int]:
        """Tokens per caption after truncation (HDF5 metadata only; for length-sorted batches)."""
        return [min(self.feats.roberta.shape(c)[0], self.feats.max_desc_l) for c in self.cap_ids]

    def __len__(self) -> int:
        return len(self.cap_ids)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, str]:
        cid = self.cap_ids[index]
        return torch.from_numpy(self.feats.tokens(cid)), index, cid


# ---------------------------------------------------------------------------------------------
# collate


def _pad(seqs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad ``(L_i, D)`` tensors to ``(N, max L_i, D)`` plus a float ``(N, max L_i)`` mask."""
    lengths = torch.tensor([s.shape[0] for s in seqs])
    out = seqs[0].new_zeros((len(seqs), int(lengths.max()), seqs[0].shape[-1]))
    for i, s in enumerate(seqs):  # per-item copy: B is at most a few hundred rows
        out[i, : s.shape[0]] = s
    mask = (torch.arange(out.shape[1])[None, :] < lengths[:, None]).to(out.dtype)
    return out, mask


def collate_train(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch training items as the original does.

    Videos are stably sorted by caption count (most first); captions are flattened in that order.
    Returns ``frame_video_features`` (B, L, Dv), ``videos_mask`` (B, L), ``text_feat`` (Nq, Lq, Dq),
    ``text_mask`` (Nq, Lq), ``text_labels`` (Nq,) int64 (batch index of each caption's video),
    ``cap_ids``, ``video_ids`` and, with a teacher, ``clip_video_features`` (B, L, Dc) and
    ``clip_text_feat`` (Nq, Dc).
    """
    items = sorted(items, key=lambda it: len(it["cap_ids"]), reverse=True)
    videos, videos_mask = _pad([it["frame_video_feature"] for it in items])
    caps = [c for it in items for c in it["cap_tensors"]]
    text, text_mask = _pad(caps)
    labels = torch.cat([torch.full((len(it["cap_tensors"]),), i, dtype=torch.long) for i, it in enumerate(items)])
    batch: dict[str, Any] = {
        "frame_video_features": videos,
        "videos_mask": videos_mask,
        "text_feat": text,
        "text_mask": text_mask,
        "text_labels": labels,
        "cap_ids": [c for it in items for c in it["cap_ids"]],
        "video_ids": [it["video_id"] for it in items],
    }
    if "clip_video_feature" in items[0]:
        clip_videos, _ = _pad([it["clip_video_feature"] for it in items])
        if clip_videos.shape[1] != videos.shape[1]:
            raise DataError(f"teacher frames pad to {clip_videos.shape[1]}, student frames to {videos.shape[1]}")
        batch["clip_video_features"] = clip_videos
        batch["clip_text_feat"] = torch.cat([t.reshape(1, -1) for it in items for t in it["clip_cap_tensors"]])
    return batch


def collate_frame_val(items: Sequence[tuple[torch.Tensor, int, str]]) -> dict[str, Any]:
    """Evaluation videos: ``frame_videos`` (N, L, Dv), ``videos_mask`` (N, L), ``idxs``, ``video_ids``."""
    videos, mask = _pad([it[0] for it in items])
    return {
        "frame_videos": videos,
        "videos_mask": mask,
        "idxs": [it[1] for it in items],
        "video_ids": [it[2] for it in items],
    }


def collate_text_val(items: Sequence[tuple[torch.Tensor, int, str]]) -> dict[str, Any]:
    """Evaluation captions, stably sorted by token count (longest first) as the original does:
    ``target`` (N, Lq, Dq), ``words_mask`` (N, Lq), ``idxs`` (dataset indices) and ``cap_ids``."""
    items = sorted(items, key=lambda it: it[0].shape[0], reverse=True)
    target, mask = _pad([it[0] for it in items])
    return {"target": target, "words_mask": mask, "idxs": [it[1] for it in items], "cap_ids": [it[2] for it in items]}


# ---------------------------------------------------------------------------------------------
# `python -m dldkd.data check ROOT COLLECTION FEATURE PHASE` (the launch scripts' data check)

#: the synthetic-dataset format that writes each collection's layout (datasets/make_synthetic.py)
SYNTHETIC_FORMATS = {"tvr": "tvr", "activitynet": "activitynet-prvr", "charades": "charades-prvr"}


def missing_data_message(paths: CollectionPaths, phase: str, *, use_teacher: bool = True) -> Optional[str]:
    """``None`` when every file ``phase`` reads exists, else what is missing and what to do."""
    missing = paths.missing(phase, use_teacher=use_teacher)
    if not missing:
        return None
    fmt = SYNTHETIC_FORMATS.get(paths.collection, paths.collection)
    lines = [f"[dldkd] the {paths.collection} data is not under {paths.root}. Missing:"]
    lines += [f"          {p}" for p in missing]
    lines += [
        "[dldkd] get the MS-SL feature bundle (<collection>.zip) and the DL-DKD CLIP teacher features",
        "        (packages/dldkd/README.md, 'Data'), unzip them into ROOTPATH, or make a synthetic stand-in:",
        f"          python datasets/make_synthetic.py {fmt} {paths.root}",
    ]
    return "\n".join(lines)


def _check_main(argv: Sequence[str]) -> int:
    if len(argv) != 4 or argv[3] not in ("train", "val", "test"):
        print("usage: python -m dldkd.data check ROOT COLLECTION FEATURE train|val|test", file=sys.stderr)
        return 2
    root, collection, feature, phase = argv
    message = missing_data_message(collection_paths(root, collection, feature), phase)
    if message:
        print(message, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] != ["check"]:
        print("usage: python -m dldkd.data check ROOT COLLECTION FEATURE train|val|test", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(_check_main(sys.argv[2:]))
