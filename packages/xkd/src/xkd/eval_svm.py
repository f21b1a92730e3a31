"""Linear-SVM evaluation of frozen XKD backbones (the original ``eval_svm_video.py`` / ``eval_svm_audio.py``).

``python -m xkd.eval_svm --db ucf101 -c config_f1 [-c config_f2 ...] --weight_path FILE [--data_dir DIR]``

Features: the mean of the final-norm patch tokens (``feat_op: pool``), no normalisation. Training:
``train.clips_per_video`` randomly augmented clips per video, each one SVM sample; test:
``test.clips_per_video`` clips at evenly spaced starts (video: ``strong3crop``, whose three crops are
identical, so one is computed), decision functions averaged per video. ``LinearSVC(C, max_iter)``
for every C of ``model.svm.cost``.

Choosing C (fixed protocol flaw): by default C is chosen on a held-out, class-stratified part of the
TRAINING videos (``model.selection.held_out_fraction``), then the SVM is refitted on all training
clips and scored once on the test split. ``--select_on_test`` restores the original (best C on the
test split). Each fold prints its top-1; several folds also print the mean.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

import videokd.cli
from videokd.config import ConfigError, load_config
from videokd.data import transforms as TF
from videokd.data.audio import read_audio
from videokd.data.robust import FailedSample, RobustDataset
from videokd.data.video import VideoDecodeError, VideoReader
from videokd.errors import UserError
from videokd.metrics.probe import linear_svm_probe

from .audio import AudioFrontEnd, volume_jitter
from .backbones import load_eval_backbone, pooled_features
from .data import (
    DataError,
    clip_frame_indices,
    esc50_split,
    hmdb51_split,
    kinetics_sound_split,
    kinetics_split,
    ucf101_split,
)
from .pretrain import REPO_ROOT, resolve_config_path
from .transforms import augment_clip, strong3crop_eval

__all__ = ["DATASETS", "ClipFeatureSource", "choose_c", "evaluate_fold", "main"]

# db -> (modality, split reader, default data folder name)
DATASETS = {
    "ucf101": ("video", ucf101_split, "ucf101"),
    "hmdb51": ("video", hmdb51_split, "hmdb51"),
    "kinetics400": ("video", lambda root, fold: kinetics_split(root), "kinetics400"),
    "esc50": ("audio", esc50_split, "esc50"),
    "kinetics_sound": ("audiovideo", lambda root, fold: kinetics_sound_split(root), "kinetics400"),
}


class ClipFeatureSource(Dataset):
    """``ds[i]`` -> ``(clips (n, ...), label)`` for video ``i``: n augmented (train) or evenly spaced
    (test) clips, ready for the backbone."""

    def __init__(self, samples, cfg, *, modality: str, train: bool, seed: int) -> None:
        self.samples = list(samples)
        self.cfg, self.modality, self.train, self.seed = cfg, modality, train, seed
        section = cfg.dataset.train if train else cfg.dataset.test
        self.n_clips = int(section.clips_per_video)
        self.vid_aug = dict(section.get("vid_aug_kwargs", {}))
        self.aud_aug = dict(section.get("aud_aug_kwargs", {}))
        if modality in ("audio", "audiovideo"):
            self.front = AudioFrontEnd.from_dataset_cfg(cfg.dataset)
            backbone = cfg.model.backbone if modality == "audio" else cfg.model.audio_backbone
            self.patch_time = int(backbone.patch_spatial[1])

    def __len__(self) -> int:
        return len(self.samples)

    def sample_path(self, index: int) -> str:
        return str(self.samples[index][0])

    def _starts(self, total: float, window: float, rng: random.Random) -> list[float]:
        room = max(total - window, 0.0)
        if self.train:
            return [rng.uniform(0.0, room) for _ in range(self.n_clips)]
        return [float(s) for s in np.linspace(0.0, room, self.n_clips)]

    def _video(self, path: Path, rng: random.Random) -> tuple[torch.Tensor, list[float]]:
        d = self.cfg.dataset
        duration, fps, crop = float(d.clip_duration), float(d.video_fps), int(d.crop_size)
        clips = []
        with VideoReader(path) as reader:
            info = reader.info
            if self.modality == "audiovideo" and not info.has_audio:
                raise VideoDecodeError(path, "the file has no audio stream (the audio-visual SVM needs both)")
            stamps = reader.frame_timestamps() - info.start_time
            starts = self._starts(info.duration, duration, rng)
            for start in starts:
                frames = reader.get_frames(clip_frame_indices(stamps, start, int(round(duration * fps)), fps))
                if self.train:
                    video = TF.to_float(frames.permute(3, 0, 1, 2))
                    clips.append(augment_clip(video, crop, self.vid_aug, rng=rng))
                else:
                    clips.append(strong3crop_eval(frames, crop)[0])  # the three crops are identical
        return torch.stack(clips), starts

    def _audio(self, path: Path, rng: random.Random, starts: Optional[list[float]] = None) -> torch.Tensor:
        d = self.cfg.dataset
        seconds = float(d.audio_clip_duration)
        wave, _ = read_audio(path, sample_rate=self.front.sample_rate, mono=True, sample_format="s16")
        total = wave.shape[-1] / self.front.sample_rate
        out = []
        for start in starts if starts is not None else self._starts(total, seconds, rng):
            s = int(round(start * self.front.sample_rate))
            piece = self.front.prepare(wave[:, s:], seconds)
            if self.train:
                piece = volume_jitter(piece, float(self.aud_aug.get("vol", 0.0)), rng=rng)
            lms = self.front(piece)
            out.append(lms[..., : lms.shape[-1] // self.patch_time * self.patch_time])
        return torch.stack(out)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        rng = random.Random(self.seed * 1_000_003 + index)
        if self.modality == "audio":
            return self._audio(path, rng), int(label)
        clips, starts = self._video(path, rng)
        if self.modality == "video":
            return clips, int(label)
        return (clips, self._audio(path, rng, starts)), int(label)  # audio of the same windows


def _first(batch):
    return batch[0]


@torch.no_grad()
def extract(model, samples, cfg, *, modality: str, train: bool, seed: int, device, workers: int, log) -> dict:
    """Clip features ``(N, D)``, clip labels, the video of each clip; unreadable files are skipped and named."""
    source = RobustDataset(ClipFeatureSource(samples, cfg, modality=modality, train=train, seed=seed), train=False)
    loader = DataLoader(source, batch_size=1, num_workers=workers, collate_fn=_first)
    feats, labels, video_of, failed = [], [], [], []
    bs = max(1, int(cfg.dataset.batch_size))
    for item in loader:
        if isinstance(item, FailedSample):
            failed.append(item)
            continue
        clips, label = item
        v = len(labels)
        if modality == "audiovideo":
            # Kinetics-Sound: L2-normalised video and audio features, concatenated
            (video, audio), (vid_model, aud_model) = clips, model
            for vc, ac in zip(video.split(bs), audio.split(bs)):
                vf = pooled_features(vid_model, vc.to(device), l2=True).float().cpu()
                af = pooled_features(aud_model, ac.to(device), l2=True).float().cpu()
                feats.append(torch.cat((vf, af), dim=1))
            n = video.shape[0]
        else:
            for chunk in clips.split(bs):
                feats.append(pooled_features(model, chunk.to(device)).float().cpu())
            n = clips.shape[0]
        labels.append(label)
        video_of.extend([v] * n)
    if failed:
        log(
            f"[xkd] {len(failed)} unreadable file(s) skipped: " + "; ".join(f"{f.path} ({f.error})" for f in failed[:5])
        )
    if not labels:
        raise DataError("no readable videos/clips for the SVM (every file failed)")
    return {
        "features": torch.cat(feats).numpy(),
        "video_labels": np.asarray(labels),
        "video_of": np.asarray(video_of),
        "failed": [f.path for f in failed],
    }


def choose_c(train: dict, costs: Sequence[float], *, fraction: float, max_iter: int, seed: int) -> tuple[float, dict]:
    """Pick C on a class-stratified held-out part of the training VIDEOS (all clips of a video stay together)."""
    rng = np.random.default_rng(seed)
    labels, video_of = train["video_labels"], train["video_of"]
    held = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        vids = np.flatnonzero(labels == c)
        k = int(math.floor(len(vids) * fraction))
        if len(vids) >= 2:
            k = max(k, 1)
        held[rng.permutation(vids)[:k]] = True
    if held.all() or not held.any():
        raise UserError("too few training videos to hold some out for choosing C; use --select_on_test")
    fit_rows, val_rows = ~held[video_of], held[video_of]
    val_videos = np.flatnonzero(held)
    remap = {int(v): i for i, v in enumerate(val_videos)}
    res = linear_svm_probe(
        train["features"][fit_rows],
        labels[video_of[fit_rows]],
        train["features"][val_rows],
        labels[val_videos],
        test_video_index=np.asarray([remap[int(v)] for v in video_of[val_rows]]),
        cs=costs,
        max_iter=max_iter,
        seed=seed,
    )
    return res["best_c"], res


def evaluate_fold(model, cfg, *, db: str, data_dir: Path, fold: int, device, seed: int, select_on_test: bool,
                  workers: int, log) -> dict[str, Any]:  # fmt: skip
    modality, reader, _ = DATASETS[db]
    split = reader(data_dir, fold)
    for name in ("train", "test"):
        if not split[name]:
            raise DataError(f"{data_dir}: the {db} fold {fold} {name} list is empty")
    t0 = time.time()
    tr = extract(
        model, split["train"], cfg, modality=modality, train=True, seed=seed, device=device, workers=workers, log=log
    )
    te = extract(
        model, split["test"], cfg, modality=modality, train=False, seed=seed, device=device, workers=workers, log=log
    )
    costs = [float(c) for c in cfg.model.svm.cost]
    max_iter = int(cfg.model.svm.iter)
    clip_labels = tr["video_labels"][tr["video_of"]]
    result: dict[str, Any] = {
        "db": db,
        "fold": fold,
        "train_clips": len(clip_labels),
        "test_videos": len(te["video_labels"]),
    }
    if select_on_test:
        res = linear_svm_probe(
            tr["features"], clip_labels, te["features"], te["video_labels"], test_video_index=te["video_of"],
            cs=costs, max_iter=max_iter, seed=seed,
        )  # fmt: skip
        result.update(
            selection="test (original protocol)", C=res["best_c"], top1=res["best_top1"], top1_per_C=res["top1"]
        )
    else:
        c, val = choose_c(
            tr, costs, fraction=float(cfg.model.selection.held_out_fraction), max_iter=max_iter, seed=seed
        )
        res = linear_svm_probe(
            tr["features"], clip_labels, te["features"], te["video_labels"], test_video_index=te["video_of"],
            cs=[c], max_iter=max_iter, seed=seed,
        )  # fmt: skip
        result.update(selection="held-out training videos", C=c, top1=res["top1"][c], val_top1_per_C=val["top1"])
    result["chance"] = 100.0 / len(np.unique(tr["video_labels"]))
    result["seconds"] = round(time.time() - t0, 2)
    result["skipped_files"] = tr["failed"] + te["failed"]
    return result


def _load_models(args, cfg, modality: str, device):
    if modality == "audiovideo":
        vid = args.weight_path_vid or args.weight_path
        aud = args.weight_path_aud or args.weight_path
        if not vid or not aud:
            raise UserError(
                "kinetics_sound needs --weight_path_vid and --weight_path_aud (or one full checkpoint as --weight_path)"
            )
        pair = (
            load_eval_backbone(vid, cfg.model.backbone, modality="video", which=args.which),
            load_eval_backbone(aud, cfg.model.audio_backbone, modality="audio", which=args.which),
        )
        return tuple(m.to(device).eval() for m in pair)
    if not args.weight_path:
        raise UserError("--weight_path FILE is required (a backbone file of codes/train/src/xkd.sh)")
    return (
        load_eval_backbone(args.weight_path, cfg.model.backbone, modality=modality, which=args.which).to(device).eval()
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="svm", description="linear-SVM evaluation of an XKD backbone")
    p.add_argument("--db", required=True, choices=sorted(DATASETS))
    p.add_argument(
        "-c",
        "--config-file",
        action="append",
        default=None,
        help="config name(s) under codes/eval/configs/svm/<db>/ (default: every config_f*)",
    )
    p.add_argument(
        "--weight_path",
        default=None,
        help="a backbone file of pre-training (*vid_student.pth.tar / *aud_student...) or a full checkpoint",
    )
    p.add_argument("--weight_path_vid", default=None, help="kinetics_sound: the video backbone file")
    p.add_argument("--weight_path_aud", default=None, help="kinetics_sound: the audio backbone file")
    p.add_argument(
        "--which", default="student", choices=("student", "teacher"), help="backbone taken from a full checkpoint"
    )
    p.add_argument("--data_dir", default=None, help="dataset root (default $VIDEOKD_DATA/<db>)")
    p.add_argument("--output_dir", default=None)
    p.add_argument("--job_id", default=None)
    p.add_argument("--sub_dir", default="svm")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--num_workers", type=int, default=0)
    p.add_argument(
        "--select_on_test", action="store_true", help="the original protocol: report the best C on the test split"
    )
    p.add_argument("--quiet", action="store_true")
    for flag in ("--server", "--world-size", "--rank", "--gpu", "--dist-url", "--dist-backend"):
        p.add_argument(flag, default=None, help=argparse.SUPPRESS)
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    modality, _, folder = DATASETS[args.db]
    names = (
        args.config_file
        or sorted(
            p.stem
            for p in (Path(__file__).resolve().parents[2] / "codes" / "eval" / "configs" / args.sub_dir / args.db).glob(
                "config_f*.yaml"
            )
        )
        or ["config"]
    )
    data_dir = (
        Path(args.data_dir) if args.data_dir else Path(os.environ.get("VIDEOKD_DATA", REPO_ROOT / "data")) / folder
    )
    if not data_dir.is_dir():
        raise DataError(
            f"{data_dir}: no {args.db} data. Pass --data_dir or set VIDEOKD_DATA, or make a synthetic stand-in: "
            f"python datasets/make_synthetic.py {args.db} {data_dir}"
        )
    bad = [o for o in args.overrides if "=" not in o]
    if bad:
        raise ConfigError(f"overrides must be KEY=VALUE, got {bad}")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    log = (lambda *_: None) if args.quiet else (lambda msg: print(msg, flush=True))
    results = []
    model = None
    for name in names:
        cfg = load_config(
            resolve_config_path(name, kind="eval", sub_dir=args.sub_dir, db=args.db), overrides=args.overrides
        )
        if model is None:
            model = _load_models(args, cfg, modality, device)
        fold = int(cfg.dataset.fold)
        res = evaluate_fold(
            model, cfg, db=args.db, data_dir=data_dir, fold=fold, device=device, seed=args.seed,
            select_on_test=args.select_on_test, workers=args.num_workers, log=log,
        )  # fmt: skip
        res["config"] = name
        results.append(res)
        print(
            f"[xkd] svm {args.db} fold {fold}: top-1 {res['top1']:.2f}% (C={res['C']:g}, chosen on {res['selection']}; "
            f"chance {res['chance']:.1f}%)",
            flush=True,
        )
    summary: dict[str, Any] = {"db": args.db, "weight_path": str(args.weight_path), "folds": results}
    if len(results) > 1:
        summary["mean_top1"] = float(np.mean([r["top1"] for r in results]))
        print(f"[xkd] svm {args.db} mean over {len(results)} folds: top-1 {summary['mean_top1']:.2f}%", flush=True)
    output = Path(args.output_dir or os.environ.get("VIDEOKD_OUTPUT", REPO_ROOT / "OUTPUTS"))
    job = args.job_id or time.strftime("%Y%m%d-%H%M%S")
    out = output / "Transformer" / args.sub_dir / args.db / job
    out.mkdir(parents=True, exist_ok=True)
    (out / "svm_results.json").write_text(json.dumps(summary, indent=2, default=float))
    log(f"[xkd] results: {out / 'svm_results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(videokd.cli.run_main(main, prog="svm"))
