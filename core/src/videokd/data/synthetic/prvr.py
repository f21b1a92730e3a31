"""PRVR feature bundles (DL-DKD / MS-SL layout, dldkd spec section 3) for TVR, ActivityNet and
Charades: BigFile student features, CLIP teacher HDF5 files, caption lists, RoBERTa query features.

Every *moment* of a video is a noisy copy of a concept latent, its frames are noisy projections of
that latent, and the captions that describe the moment are noisy projections of the same latent
through another matrix, so text-to-video retrieval can beat random (and the CLIP "teacher"
features share the signal, so distillation helps too).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._registry import SyntheticDataset, register_format

__all__ = ["PRVR_COLLECTIONS", "make_prvr_dataset"]

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


register_format("tvr", _prvr_from_common("tvr"))
register_format("activitynet-prvr", _prvr_from_common("activitynet"))
register_format("charades-prvr", _prvr_from_common("charades"))
