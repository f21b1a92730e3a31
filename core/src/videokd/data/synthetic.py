"""Small synthetic datasets in the exact on-disk formats the five packages read.

Every generator is deterministic for a given ``seed`` and writes real files (H.264 mp4 through
PyAV, JPEG frame folders, float32 ``feature.bin`` + HDF5 files, wav) so that the packages'
entry scripts can run end to end on them. The content carries a learnable signal:

* videos: a coloured square moving across a textured background; the class sets the colour
  and the direction of motion, so a tiny model can beat chance;
* PRVR features: every *moment* of a video is a noisy copy of a concept latent, its frames are
  noisy projections of that latent, and the captions that describe the moment are noisy
  projections of the same latent through another matrix, so text-to-video retrieval can beat
  random (and the CLIP "teacher" features share the signal, so distillation helps too).

The functions return a :class:`SyntheticDataset` (root, written files, per-split ids) and also
write ``synthetic.json`` beside the data describing what was generated.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "SyntheticDataset",
    "PRVR_COLLECTIONS",
    "make_prvr_dataset",
    "FORMATS",
    "make_dataset",
    "MAX_CLASSES",
    "class_attributes",
    "class_name",
    "class_description",
    "render_clip",
    "render_audio",
    "write_video",
    "write_jpeg_frames",
    "make_kinetics_dataset",
    "make_ucf101_dataset",
    "make_hmdb51_dataset",
    "make_resnet3d_dataset",
    "make_activitynet_frames_dataset",
    "make_something_dataset",
    "make_audioset_dataset",
    "make_esc50_dataset",
]


@dataclass
class SyntheticDataset:
    """What a generator wrote: ``root`` (the folder to pass as the dataset root), the files,
    the ids per split and free-form ``meta`` (also saved as ``<root>/synthetic.json``)."""

    root: Path
    format: str
    files: dict[str, Path] = field(default_factory=dict)
    splits: dict[str, list[str]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def write_meta(self) -> None:
        doc = {
            "format": self.format,
            "files": {k: os.path.relpath(v, self.root) for k, v in self.files.items()},
            "splits": {k: len(v) for k, v in self.splits.items()},
            "meta": self.meta,
        }
        (self.root / "synthetic.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


# --------------------------------------------------------------------------------------------
# PRVR (DL-DKD / MS-SL bundle): dldkd spec section 3
# --------------------------------------------------------------------------------------------

#: collection -> (default visual feature folder, real student visual dim, real RoBERTa dim)
PRVR_COLLECTIONS: dict[str, tuple[str, int, int]] = {
    "tvr": ("i3d_resnet", 3072, 768),
    "activitynet": ("i3d", 1024, 1024),
    "charades": ("i3d_rgb_lgi", 1024, 1024),
}

_VERBS = [
    "walks",
    "sits",
    "opens",
    "runs",
    "jumps",
    "eats",
    "reads",
    "throws",
    "holds",
    "drinks",
    "cleans",
    "laughs",
    "points",
    "closes",
    "carries",
    "pours",
]
_NOUNS = [
    "door",
    "chair",
    "book",
    "ball",
    "cup",
    "phone",
    "table",
    "window",
    "bag",
    "box",
    "laptop",
    "towel",
    "bottle",
    "shoe",
    "sofa",
    "light",
]
_SUBJECTS = ["a man", "a woman", "the person", "she", "he", "someone", "the guy", "the girl"]
_FILLERS = [
    "then",
    "slowly",
    "quickly",
    "again",
    "in",
    "the",
    "room",
    "while",
    "talking",
    "and",
    "near",
    "kitchen",
    "looks",
    "around",
    "after",
    "that",
]


def _prvr_video_ids(name: str, n: int, rng: np.random.Generator) -> list[str]:
    """Video ids in the style of each collection (never containing ``#`` or whitespace)."""
    ids: list[str] = []
    seen: set[str] = set()
    alnum = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"))
    upper = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
    shows = ["friends", "bbt", "castle", "house", "met", "grey"]
    while len(ids) < n:
        i = len(ids)
        if name == "tvr":
            vid = f"{shows[i % len(shows)]}_s{1 + i % 9:02d}e{1 + (i // 9) % 24:02d}_seg02_clip_{i:02d}"
        elif name == "activitynet":
            vid = "v_" + "".join(rng.choice(alnum, 11))
        elif name == "charades":
            vid = "".join(rng.choice(upper, 5))
        else:
            vid = f"{name}_video_{i:05d}"
        if vid not in seen:
            seen.add(vid)
            ids.append(vid)
    return ids


def _split_counts(n_videos: int | Sequence[int]) -> tuple[int, int, int]:
    if isinstance(n_videos, (int, np.integer)):
        n = int(n_videos)
        if n < 6:
            raise ValueError(f"make_prvr_dataset: n_videos={n} is too small (need >= 6 for train/val/test)")
        n_val = n_test = max(2, n // 5)
        return n - n_val - n_test, n_val, n_test
    counts = tuple(int(c) for c in n_videos)
    if len(counts) != 3 or min(counts) < 1:
        raise ValueError(f"make_prvr_dataset: n_videos must be an int or (train, val, test) >= 1, got {n_videos!r}")
    return counts  # type: ignore[return-value]


def _fix_eval_query_count(caps_per_video: list[int], batch: int = 50) -> None:
    """The originals crash when the last evaluation batch holds one query (``.squeeze()``):
    make sure ``sum(caps) % batch != 1`` by giving the first video one more caption."""
    if sum(caps_per_video) % batch == 1:
        caps_per_video[0] += 1


def make_prvr_dataset(
    out_dir: str | os.PathLike,
    *,
    name: str = "tvr",
    visual_feature: str | None = None,
    n_videos: int | Sequence[int] = (30, 10, 10),
    n_concepts: int = 8,
    captions_per_video: tuple[int, int] = (1, 5),
    frames_per_video: tuple[int, int] = (6, 48),
    moments_per_video: tuple[int, int] = (1, 3),
    words_per_caption: tuple[int, int] = (3, 12),
    long_caption_prob: float = 0.1,
    v_dim: int = 64,
    q_dim: int | None = None,
    clip_dim: int = 512,
    latent_dim: int = 16,
    noise: float = 0.5,
    val_is_test: bool = False,
    seed: int = 0,
) -> SyntheticDataset:
    """Write a PRVR feature bundle (TVR / ActivityNet / Charades layout) under ``out_dir/<name>``.

    The layout is exactly the MS-SL / DL-DKD one (dldkd spec section 3)::

        <out_dir>/<name>/FeatureData/<visual_feature>/{shape.txt,id.txt,feature.bin,video2frames.txt}
        <out_dir>/<name>/FeatureData/new_clip_vit_32_<name>_vid_features.hdf5   (n_frames, clip_dim) per video
        <out_dir>/<name>/TextData/<name>{train,val,test}.caption.txt           "<vid>#enc#<k> text"
        <out_dir>/<name>/TextData/roberta_<name>_query_feat.hdf5               (n_tokens, q_dim) per cap_id
        <out_dir>/<name>/TextData/clip_ViT_B_32_<name>_query_feat.hdf5         (1, clip_dim) per cap_id

    Pass ``out_dir`` as ``--root_path`` and ``name`` as ``--collection``. Guarantees that the
    originals need (and the clean package checks): at least 2 train videos, every caption has
    at least 2 tokens (a few have more than 30, so truncation is exercised), val/test query
    counts are never ``1 (mod 50)``, teacher and student frame counts are equal, every cap_id is
    in both text HDF5 files (teacher text is written for every split) and every video in
    ``video2frames`` and the CLIP video file. ``id.txt`` rows are shuffled relative to the
    videos, as in the real bundles, so a reader must go through ``video2frames``.

    Args:
        name: collection name (``tvr``, ``activitynet``, ``charades`` or any id-safe word).
        visual_feature: feature folder; defaults to the collection's real one (``i3d_resnet`` ...).
        n_videos: ``(train, val, test)`` video counts, or a total split about 3:1:1.
        n_concepts: number of distinct "actions"; captions name the action of their moment.
        v_dim, q_dim, clip_dim: student video / RoBERTa / CLIP dims. ``q_dim=None`` takes the
            collection's real RoBERTa width (768 TVR, 1024 otherwise) so the original scripts'
            ``--q_feat_size`` works unchanged; ``v_dim`` is read from shape.txt by the readers.
        noise: std of the per-frame / per-token noise relative to the unit-scale signal.
        val_is_test: write the test captions as the val split too (what the real TVR bundle
            most probably does).
    """
    if name in PRVR_COLLECTIONS:
        default_feature, _, real_q = PRVR_COLLECTIONS[name]
    else:
        default_feature, real_q = "i3d", 1024
    if "#" in name or "/" in name or not name:
        raise ValueError(f"make_prvr_dataset: bad collection name {name!r}")
    visual_feature = visual_feature or default_feature
    q_dim = real_q if q_dim is None else int(q_dim)
    n_train, n_val, n_test = _split_counts(n_videos)
    if n_train < 2:
        raise ValueError(
            "make_prvr_dataset: need at least 2 training videos (a 1-video batch crashes the triplet loss)"
        )
    lo_f, hi_f = frames_per_video
    if lo_f < 1 or hi_f < lo_f:
        raise ValueError(f"make_prvr_dataset: bad frames_per_video {frames_per_video!r}")
    n_concepts = max(1, min(int(n_concepts), len(_VERBS) * len(_NOUNS)))

    import h5py  # local: keep `import videokd.data` light

    rng = np.random.default_rng(seed)
    root = Path(out_dir)
    coll = root / name
    feat_dir = coll / "FeatureData" / visual_feature
    text_dir = coll / "TextData"
    feat_dir.mkdir(parents=True, exist_ok=True)
    text_dir.mkdir(parents=True, exist_ok=True)

    # Shared generative model: concept latents and three projections (student video, student
    # text, CLIP joint space). The CLIP projection is used for both teacher modalities.
    concepts = rng.standard_normal((n_concepts, latent_dim))
    concept_words = [
        (_VERBS[k % len(_VERBS)], _NOUNS[(k * 7 + k // len(_VERBS)) % len(_NOUNS)]) for k in range(n_concepts)
    ]
    w_video = rng.standard_normal((latent_dim, v_dim)) / np.sqrt(latent_dim)
    w_text = rng.standard_normal((latent_dim, q_dim)) / np.sqrt(latent_dim)
    w_clip = rng.standard_normal((latent_dim, clip_dim)) / np.sqrt(latent_dim)

    total = n_train + n_val + (0 if val_is_test else n_test)
    if val_is_test:
        n_test = n_val
    video_ids = _prvr_video_ids(name, total, rng)
    split_vids = {
        "train": video_ids[:n_train],
        "val": video_ids[n_train : n_train + n_val],
        "test": video_ids[n_train : n_train + n_val] if val_is_test else video_ids[n_train + n_val :],
    }

    frame_rows: list[np.ndarray] = []
    frame_ids: list[str] = []
    video2frames: dict[str, list[str]] = {}
    clip_video: dict[str, np.ndarray] = {}
    captions: dict[str, list[tuple[str, str, int, np.ndarray]]] = {}  # vid -> [(cap_id, text, concept, latent)]

    for split, vids in split_vids.items():
        if split == "test" and val_is_test:
            continue
        caps_per_video = [int(rng.integers(captions_per_video[0], captions_per_video[1] + 1)) for _ in vids]
        if split != "train":
            _fix_eval_query_count(caps_per_video)
        for vid, n_caps in zip(vids, caps_per_video):
            n_frames = int(rng.integers(lo_f, hi_f + 1))
            n_mom = int(min(n_frames, rng.integers(moments_per_video[0], moments_per_video[1] + 1)))
            # moment boundaries: a random partition of the frames into n_mom contiguous parts
            cuts = (
                np.sort(rng.choice(np.arange(1, n_frames), n_mom - 1, replace=False))
                if n_mom > 1
                else np.array([], int)
            )
            bounds = np.concatenate([[0], cuts, [n_frames]]).astype(int)
            mom_concept = rng.integers(0, n_concepts, n_mom)
            # a moment latent = its concept + a video-specific offset (so same-concept videos differ)
            mom_latent = concepts[mom_concept] + 0.5 * rng.standard_normal((n_mom, latent_dim))
            frame_latent = np.repeat(mom_latent, np.diff(bounds), axis=0)  # (F, latent)
            frames = frame_latent @ w_video + noise * rng.standard_normal((n_frames, v_dim))
            frames_clip = frame_latent @ w_clip + noise * rng.standard_normal((n_frames, clip_dim))
            ids = [f"{vid}_{k}" for k in range(n_frames)]
            frame_rows.append(frames.astype(np.float32))
            frame_ids.extend(ids)
            video2frames[vid] = ids
            clip_video[vid] = frames_clip.astype(np.float32)
            caps = []
            for k in range(n_caps):
                m = int(rng.integers(0, n_mom))
                verb, noun = concept_words[int(mom_concept[m])]
                n_words = int(rng.integers(words_per_caption[0], words_per_caption[1] + 1))
                if rng.random() < long_caption_prob:
                    n_words = int(rng.integers(30, 40))  # > 30 RoBERTa tokens: exercises truncation
                extra = list(rng.choice(_FILLERS, max(0, n_words - 4)))
                text = " ".join([str(rng.choice(_SUBJECTS)), verb, "the", noun, *extra])
                caps.append((f"{vid}#enc#{k}", text, int(mom_concept[m]), mom_latent[m]))
            captions[vid] = caps

    # ---- student visual features (BigFile): rows shuffled relative to videos
    feats = np.concatenate(frame_rows, axis=0)
    order = rng.permutation(len(frame_ids))
    feats = np.ascontiguousarray(feats[order], dtype="<f4")
    ids_shuffled = [frame_ids[i] for i in order]
    (feat_dir / "shape.txt").write_text(f"{feats.shape[0]} {feats.shape[1]}\n")
    (feat_dir / "id.txt").write_text(" ".join(ids_shuffled))
    feats.tofile(feat_dir / "feature.bin")
    (feat_dir / "video2frames.txt").write_text(repr(video2frames))

    # ---- teacher video features
    clip_video_path = coll / "FeatureData" / f"new_clip_vit_32_{name}_vid_features.hdf5"
    with h5py.File(clip_video_path, "w") as f:
        for vid, arr in clip_video.items():
            f.create_dataset(vid, data=arr)

    # ---- captions + text features
    caption_paths = {}
    for split, vids in split_vids.items():
        lines = [(cid, text) for vid in vids for (cid, text, _, _) in captions[vid]]
        if split != "train":
            # real eval files are not grouped by video; video order = first appearance
            lines = [lines[i] for i in rng.permutation(len(lines))]
        path = text_dir / f"{name}{split}.caption.txt"
        path.write_text("".join(f"{cid} {text}\n" for cid, text in lines))
        caption_paths[split] = path

    roberta_path = text_dir / f"roberta_{name}_query_feat.hdf5"
    clip_text_path = text_dir / f"clip_ViT_B_32_{name}_query_feat.hdf5"
    with h5py.File(roberta_path, "w") as fr, h5py.File(clip_text_path, "w") as fc:
        for vid in video_ids:
            for cid, text, _, latent in captions[vid]:
                n_tok = len(text.split()) + 2  # RoBERTa adds <s> and </s>
                # each token: the moment latent seen through the text projection, plus noise;
                # the two special tokens carry no signal
                tok = latent @ w_text + noise * rng.standard_normal((n_tok, q_dim))
                tok[[0, -1]] = rng.standard_normal((2, q_dim))
                fr.create_dataset(cid, data=tok.astype(np.float32))
                clip_txt = latent @ w_clip + 0.5 * noise * rng.standard_normal(clip_dim)
                fc.create_dataset(cid, data=clip_txt[None].astype(np.float32))

    ds = SyntheticDataset(
        root=root,
        format=name,
        files={
            "shape": feat_dir / "shape.txt",
            "id": feat_dir / "id.txt",
            "feature_bin": feat_dir / "feature.bin",
            "video2frames": feat_dir / "video2frames.txt",
            "clip_video_feat": clip_video_path,
            "roberta_query_feat": roberta_path,
            "clip_query_feat": clip_text_path,
            **{f"{s}_caption": p for s, p in caption_paths.items()},
        },
        splits={s: list(v) for s, v in split_vids.items()},
        meta={
            "kind": "prvr",
            "collection": name,
            "visual_feature": visual_feature,
            "v_dim": v_dim,
            "q_dim": q_dim,
            "clip_dim": clip_dim,
            "n_frames_total": int(feats.shape[0]),
            "n_captions": {s: sum(len(captions[v]) for v in vids) for s, vids in split_vids.items()},
            "n_concepts": n_concepts,
            "val_is_test": val_is_test,
            "seed": seed,
        },
    )
    ds.write_meta()
    return ds


# --------------------------------------------------------------------------------------------
# Class-dependent video / audio content and real file writers
# --------------------------------------------------------------------------------------------

_COLOURS = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 80, 235),
    "yellow": (240, 220, 40),
    "magenta": (220, 50, 220),
    "cyan": (40, 220, 230),
    "white": (245, 245, 245),
    "orange": (250, 140, 20),
}
_DIRECTIONS = {
    "right": (1, 0),
    "left": (-1, 0),
    "down": (0, 1),
    "up": (0, -1),
    "down right": (1, 1),
    "up left": (-1, -1),
    "down left": (-1, 1),
    "up right": (1, -1),
}
MAX_CLASSES = len(_COLOURS) * len(_DIRECTIONS)


def class_attributes(label: int) -> tuple[str, str]:
    """(colour, direction) of class ``label``: both change with the class, so a model can use either."""
    if not 0 <= label < MAX_CLASSES:
        raise ValueError(f"synthetic classes are limited to {MAX_CLASSES}, got label {label}")
    colours, directions = list(_COLOURS), list(_DIRECTIONS)
    return colours[label % len(colours)], directions[(label + label // len(colours)) % len(directions)]


def class_name(label: int, style: str = "words") -> str:
    """Class name in a dataset's style: ``words`` (Kinetics: "red square moving left"),
    ``camel`` (UCF101: "RedSquareMovingLeft"), ``snake`` (HMDB51: "red_square_moving_left")."""
    colour, direction = class_attributes(label)
    words = [colour, "square", "moving", *direction.split()]
    if style == "camel":
        return "".join(w.capitalize() for w in words)
    if style == "snake":
        return "_".join(words)
    return " ".join(words)


def class_description(label: int) -> str:
    """A KICLIP-style rephrased description "<Name>: <sentence>"."""
    colour, direction = class_attributes(label)
    name = class_name(label).capitalize()
    return (
        f"{name}: In this video, a {colour} square slides steadily {direction} across a textured "
        f"background while the camera stays still"
    )


def render_clip(label: int, *, frames: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A clip of class ``label``: uint8 ``(T, H, W, 3)``.

    A square of the class colour moves in the class direction over a per-video textured background
    (smooth random colour field + noise), starting from a random position, with a random speed.
    """
    colour = np.asarray(_COLOURS[class_attributes(label)[0]], dtype=np.float32)
    dx, dy = _DIRECTIONS[class_attributes(label)[1]]
    # background: low-frequency colour field, different for every video
    small = rng.uniform(40, 160, size=(4, 4, 3)).astype(np.float32)
    yy = np.linspace(0, 3, height, dtype=np.float32)
    xx = np.linspace(0, 3, width, dtype=np.float32)
    y0, x0 = np.floor(yy).astype(int).clip(0, 2), np.floor(xx).astype(int).clip(0, 2)
    fy, fx = (yy - y0)[:, None, None], (xx - x0)[None, :, None]
    bg = (
        small[y0][:, x0] * (1 - fy) * (1 - fx)
        + small[y0 + 1][:, x0] * fy * (1 - fx)
        + small[y0][:, x0 + 1] * (1 - fy) * fx
        + small[y0 + 1][:, x0 + 1] * fy * fx
    )
    side = max(2, min(height, width) // 4)
    speed = rng.uniform(0.6, 1.0) * (min(height, width) - side) / max(frames - 1, 1)
    # start so that the square stays mostly in view while it moves
    span_x, span_y = abs(dx) * speed * (frames - 1), abs(dy) * speed * (frames - 1)
    sx = rng.uniform(0, max(width - side - span_x, 0) + 1e-6) + (span_x if dx < 0 else 0)
    sy = rng.uniform(0, max(height - side - span_y, 0) + 1e-6) + (span_y if dy < 0 else 0)
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        img = bg + rng.normal(0, 6, size=bg.shape).astype(np.float32)
        x = int(round(sx + dx * speed * t))
        y = int(round(sy + dy * speed * t))
        x, y = min(max(x, 0), width - side), min(max(y, 0), height - side)
        img[y : y + side, x : x + side] = colour
        out[t] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def render_audio(label: int, *, seconds: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Class-dependent sound: a tone whose pitch and pulse rate encode the class, plus noise.
    float32 ``(1, N)`` in [-1, 1]."""
    n = int(round(seconds * rate))
    t = np.arange(n, dtype=np.float64) / rate
    pitch = 220.0 * 2 ** ((label % 12) / 6.0) * rng.uniform(0.98, 1.02)
    pulse = 1.0 + (label // 12 + label % 4)
    envelope = 0.5 * (1 + np.sin(2 * np.pi * pulse * t + rng.uniform(0, 2 * np.pi)))
    wave = 0.4 * envelope * np.sin(2 * np.pi * pitch * t) + 0.02 * rng.standard_normal(n)
    return np.clip(wave, -1, 1).astype(np.float32)[None]


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    *,
    fps: float = 25,
    audio: np.ndarray | None = None,
    audio_rate: int = 16000,
    gop: int = 12,
    crf: int = 23,
) -> Path:
    """Encode uint8 ``(T, H, W, 3)`` as H.264 (yuv420p, keyframe every ``gop`` frames) with an optional
    AAC track from float ``(C, N)`` samples. The container follows the suffix (mp4, avi, mkv)."""
    from fractions import Fraction

    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise ValueError(f"write_video: H.264 yuv420p needs even sizes, got {h}x{w}")
    with av.open(os.fspath(path), "w") as out:
        vs = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"crf": str(crf), "preset": "ultrafast", "g": str(gop), "bf": "2"}
        astream = None
        if audio is not None:
            astream = out.add_stream("aac", rate=audio_rate)
            astream.layout = "mono" if audio.shape[0] == 1 else "stereo"
        for frame in frames:
            for packet in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if astream is not None:
            af = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(audio, dtype=np.float32), format="fltp", layout=astream.layout.name
            )
            af.sample_rate = audio_rate
            for packet in astream.encode(af):
                out.mux(packet)
            for packet in astream.encode(None):
                out.mux(packet)
    return path


def write_jpeg_frames(
    folder: str | os.PathLike, frames: np.ndarray, template: str, *, start_index: int = 1, quality: int = 90
) -> Path:
    """Write uint8 ``(T, H, W, 3)`` as ``folder/template.format(start_index + t)`` JPEG files."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames):
        Image.fromarray(np.ascontiguousarray(frame)).save(folder / template.format(start_index + t), quality=quality)
    return folder


def _even(x: int) -> int:
    return max(2, x + (x % 2))


def _frame_size(size: int, aspect: float = 4 / 3) -> tuple[int, int]:
    """(height, width) with short side ``size`` and a 4:3 landscape frame, both even."""
    return _even(size), _even(int(round(size * aspect)))


def _split_of(v: int, m: int) -> str:
    """Split of the v-th of m videos of a class: about 60 % train, 20 % val, 20 % test."""
    n_test = max(1, m // 5) if m >= 3 else 0
    n_val = max(1, m // 5) if m >= 3 else (1 if m == 2 else 0)
    if v < m - n_val - n_test:
        return "train"
    return "val" if v < m - n_test else "test"


@dataclass
class _Video:
    label: int
    split: str
    index: int  # within its class
    frames: np.ndarray
    audio: np.ndarray | None


def _make_videos(
    classes: int, videos_per_class: int, frames: int, size: int, seed: int, *, fps: float, audio_rate: int | None = None
) -> list[_Video]:
    if classes < 1 or classes > MAX_CLASSES:
        raise ValueError(f"classes must be in [1, {MAX_CLASSES}], got {classes}")
    if videos_per_class < 1 or frames < 1 or size < 8:
        raise ValueError(
            f"need videos_per_class >= 1, frames >= 1, size >= 8 (got {videos_per_class}, {frames}, {size})"
        )
    rng = np.random.default_rng(seed)
    h, w = _frame_size(size)
    out = []
    for c in range(classes):
        for v in range(videos_per_class):
            # the frame count varies a little per video, as real datasets do
            n = max(1, frames - int(rng.integers(0, max(1, frames // 8) + 1)))
            clip = render_clip(c, frames=n, height=h, width=w, rng=rng)
            wave = render_audio(c, seconds=n / fps, rate=audio_rate, rng=rng) if audio_rate else None
            out.append(_Video(c, _split_of(v, videos_per_class), v, clip, wave))
    return out


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


# --------------------------------------------------------------------------------------------
# Video-classification layouts
# --------------------------------------------------------------------------------------------


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
    videos = _make_videos(classes, videos_per_class, frames, size, seed, fps=fps, audio_rate=audio_rate)
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
    videos = _make_videos(classes, videos_per_class, frames, size, seed, fps=fps)
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
    videos = _make_videos(classes, videos_per_class, frames, size, seed, fps=fps)
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
    from .frames import write_n_frames

    root = Path(out_dir)
    videos = _make_videos(classes, videos_per_class, frames, size, seed, fps=25)
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
    videos = _make_videos(classes, videos_per_class, frames, size, seed, fps=fps)
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
    videos = _make_videos(classes, videos_per_class, frames, size, seed, fps=12)
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


# --------------------------------------------------------------------------------------------
# Audio layouts
# --------------------------------------------------------------------------------------------


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
    videos = _make_videos(classes, videos_per_class, frames, size, seed, fps=fps, audio_rate=audio_rate)
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


# --------------------------------------------------------------------------------------------
# Registry used by datasets/make_synthetic.py
# --------------------------------------------------------------------------------------------


def _prvr_from_common(name: str):
    def build(
        out_dir,
        *,
        classes: int = 8,
        videos_per_class: int = 6,
        frames: int = 48,
        size: int = 0,
        seed: int = 0,
        **kwargs,
    ) -> SyntheticDataset:
        total = max(6, classes * videos_per_class)
        n_val = n_test = max(2, total // 5)
        return make_prvr_dataset(
            out_dir,
            name=name,
            n_videos=(total - n_val - n_test, n_val, n_test),
            n_concepts=classes,
            frames_per_video=(min(6, frames), frames),
            seed=seed,
            **kwargs,
        )

    build.__doc__ = f"PRVR feature bundle, collection {name!r} (dldkd; see make_prvr_dataset)."
    return build


def _video_from_common(fn, doc: str, **fixed):
    def build(
        out_dir,
        *,
        classes: int = 4,
        videos_per_class: int = 4,
        frames: int = 32,
        size: int = 64,
        seed: int = 0,
        **kwargs,
    ) -> SyntheticDataset:
        return fn(
            out_dir,
            classes=classes,
            videos_per_class=videos_per_class,
            frames=frames,
            size=size,
            seed=seed,
            **fixed,
            **kwargs,
        )

    build.__doc__ = doc
    return build


def _esc50(
    out_dir, *, classes: int = 5, videos_per_class: int = 5, frames: int = 32, size: int = 64, seed: int = 0, **kwargs
) -> SyntheticDataset:
    return make_esc50_dataset(out_dir, classes=classes, videos_per_class=videos_per_class, seed=seed, **kwargs)


_esc50.__doc__ = "ESC-50 wav folder + meta/esc50.csv (xkd audio downstream)."

#: format name -> builder(out_dir, *, classes, videos_per_class, frames, size, seed)
FORMATS: dict[str, Any] = {
    "tvr": _prvr_from_common("tvr"),
    "activitynet-prvr": _prvr_from_common("activitynet"),
    "charades-prvr": _prvr_from_common("charades"),
    "kinetics": _video_from_common(
        make_kinetics_dataset,
        "Kinetics mp4 (+AAC) class folders, KICLIP B2N csv lists, tdsclip video lists (kiclip, tdsclip, xkd).",
    ),
    "kinetics-avi": _video_from_common(
        make_kinetics_dataset, "Kinetics layout with .avi files (+AAC): what XKD globs.", ext="avi"
    ),
    "ucf101": _video_from_common(
        make_ucf101_dataset, "UCF-101 avi + ucfTrainTestlist + KICLIP B2N lists (kiclip, xkd, kd2d3d tools)."
    ),
    "hmdb51": _video_from_common(
        make_hmdb51_dataset, "HMDB-51 avi + 70/30 split files + KICLIP B2N lists (kiclip, xkd)."
    ),
    "resnet3d-jpg": _video_from_common(
        make_resnet3d_dataset, "3D-ResNets jpg folders + n_frames + ActivityNet-style json, UCF naming (kd2d3d)."
    ),
    "activitynet-jpg": _video_from_common(
        make_activitynet_frames_dataset, "ActivityNet v1.3 json + v_<key> jpg folders + fps files (kd2d3d)."
    ),
    "sthv2": _video_from_common(
        make_something_dataset,
        "Something-Something v2 img_{:05d}.jpg folders + <id> <n> <label> lists (tdsclip).",
        version=2,
    ),
    "sthv1": _video_from_common(
        make_something_dataset, "Something-Something v1 {:05d}.jpg folders + lists (tdsclip).", version=1
    ),
    "audioset": _video_from_common(make_audioset_dataset, "AudioSet-style H.264+AAC mp4 clips + segment csv files."),
    "esc50": _esc50,
}


def make_dataset(fmt: str, out_dir: str | os.PathLike, **kwargs: Any) -> SyntheticDataset:
    """Build synthetic dataset ``fmt`` (a key of :data:`FORMATS`) under ``out_dir``."""
    if fmt not in FORMATS:
        raise KeyError(f"unknown synthetic format {fmt!r}; choose one of {sorted(FORMATS)}")
    return FORMATS[fmt](out_dir, **kwargs)
