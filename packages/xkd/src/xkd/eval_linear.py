"""Trainable linear probes on frozen XKD backbones (the original ``eval_linear_video.py`` /
``eval_linear_audio.py``; ``linear_k400.sh`` / ``linear_fsd50k.sh``), trained with the core Trainer.

``python -m xkd.eval_linear --db kinetics400|fsd50k [-c config] --weight_path FILE [--data_dir DIR] [KEY=VALUE ...]``

* Model: the frozen evaluation backbone (``feat_op: pool`` features) + ``Classifier`` (optional
  dropout, then ``Linear(D, num_classes)``). Only the classifier trains (AdamW, the config's lr
  schedule per iteration, weight decay).
* Kinetics-400 (video): one augmented ``strong3crop`` training clip per video per epoch,
  cross-entropy; test = ``test.clips_per_video`` evenly spaced clips (one of the three identical
  crops), softmax averaged per video, top-1 / top-5.
* FSD50K (audio, multi-label): ``train.clips_per_video`` random crops per file per epoch (volume
  jitter), BCE with logits; test = ``test.clips_per_video`` evenly spaced crops, **mean of sigmoid
  probabilities** (the original linear protocol), mAP (classes with a positive), weighted AP, mean AUC.
* Model selection (fixed protocol flaw): the epoch is chosen on a validation split taken from the
  TRAINING data (FSD50K's ``val`` rows of ``dev.csv``; for Kinetics ``model.selection.held_out_fraction``
  of the training videos), then that epoch's classifier is scored once on the test split.
  ``--select_on_test`` restores the original (evaluate on the test split and report the best epoch).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

import videokd.cli
from videokd.config import ConfigError, load_config
from videokd.data import transforms as TF
from videokd.data.audio import read_audio
from videokd.data.robust import RobustDataset
from videokd.data.video import VideoReader
from videokd.engine import TrainConfig, Trainer
from videokd.engine.distributed import distributed_session
from videokd.engine.sampling import build_train_loader
from videokd.engine.schedules import ParamScheduler
from videokd.errors import UserError
from videokd.metrics.ap import mean_average_precision, mean_roc_auc

from .audio import AudioFrontEnd, volume_jitter
from .backbones import load_eval_backbone
from .data import DataError, clip_frame_indices, kinetics_split
from .pretrain import REPO_ROOT, resolve_config_path
from .schedules import cosine_from_cfg
from .transforms import augment_clip, strong3crop_eval

__all__ = ["Classifier", "LinearProbe", "fsd50k_split", "main"]

MODALITY = {"kinetics400": "video", "fsd50k": "audio"}


class Classifier(nn.Module):
    """The original ``Classifier``: optional dropout, then ``linear`` (orthogonal init, zero bias)."""

    def __init__(self, dim: int, num_classes: int, *, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.linear = nn.Linear(dim, num_classes)
        nn.init.orthogonal_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(x))


class LinearProbe(nn.Module):
    """``backbone`` (frozen, no grad) -> pooled features -> ``classifier``."""

    def __init__(self, backbone: nn.Module, classifier: Classifier) -> None:
        super().__init__()
        self.backbone = backbone
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            feats = self.backbone.pooled(x)
        return self.classifier(feats.float())


def fsd50k_split(root: str | os.PathLike) -> tuple[dict[str, list], int]:
    """The FSD50K release: ``FSD50K.{dev,eval}_audio/<fname>.wav`` + ``FSD50K.ground_truth/{vocabulary,dev,eval}.csv``.
    Returns ``({"train", "val", "test"}: [(path, multi-hot (K,) float)], K)``."""
    root = Path(root)
    gt = root / "FSD50K.ground_truth"
    if not (gt / "vocabulary.csv").is_file():
        raise DataError(f"{gt / 'vocabulary.csv'}: missing (expected the FSD50K release layout under {root})")
    vocab = {row[1]: int(row[0]) for row in csv.reader((gt / "vocabulary.csv").open()) if row}
    k = len(vocab)
    out: dict[str, list] = {"train": [], "val": [], "test": []}
    for part, audio in (("dev", "FSD50K.dev_audio"), ("eval", "FSD50K.eval_audio")):
        for row in csv.DictReader((gt / f"{part}.csv").open()):
            target = torch.zeros(k)
            target[[vocab[name] for name in row["labels"].split(",")]] = 1.0
            split = row.get("split", "train") if part == "dev" else "test"
            out[split].append((root / audio / f"{row['fname']}.wav", target))
    return out, k


class ProbeClips(Dataset):
    """Training: ``ds[i]`` -> ``(clip, target)`` (one random augmented clip); test: ``(clips (n, ...), target)``."""

    def __init__(self, samples, cfg, *, modality: str, train: bool, seed: int = 0) -> None:
        self.samples, self.cfg, self.modality, self.train, self.seed = list(samples), cfg, modality, train, seed
        section = cfg.dataset.train if train else cfg.dataset.test
        self.n_clips = 1 if train else int(section.clips_per_video)
        self.vid_aug = dict(section.get("vid_aug_kwargs", {}) or {})
        self.aud_aug = dict(section.get("aud_aug_kwargs", {}) or {})
        if modality == "audio":
            self.front = AudioFrontEnd.from_dataset_cfg(cfg.dataset)
            self.patch_time = int(cfg.model.backbone.patch_spatial[1])

    def __len__(self) -> int:
        return len(self.samples)

    def sample_path(self, index: int) -> str:
        return str(self.samples[index][0])

    def _starts(self, total: float, window: float, rng: random.Random) -> list[float]:
        room = max(total - window, 0.0)
        if self.train:
            return [rng.uniform(0.0, room)]
        return [float(s) for s in np.linspace(0.0, room, self.n_clips)]

    def __getitem__(self, index: int):
        path, target = self.samples[index]
        rng = random.Random(random.getrandbits(64)) if self.train else random.Random(self.seed + index)
        d = self.cfg.dataset
        clips = []
        if self.modality == "video":
            duration, fps, crop = float(d.clip_duration), float(d.video_fps), int(d.crop_size)
            with VideoReader(path) as reader:
                info = reader.info
                stamps = reader.frame_timestamps() - info.start_time
                for start in self._starts(info.duration, duration, rng):
                    frames = reader.get_frames(clip_frame_indices(stamps, start, int(round(duration * fps)), fps))
                    if self.train:
                        clips.append(augment_clip(TF.to_float(frames.permute(3, 0, 1, 2)), crop, self.vid_aug, rng=rng))
                    else:
                        clips.append(strong3crop_eval(frames, crop)[0])
        else:
            seconds = float(d.audio_clip_duration)
            wave, _ = read_audio(path, sample_rate=self.front.sample_rate, mono=True, sample_format="s16")
            for start in self._starts(wave.shape[-1] / self.front.sample_rate, seconds, rng):
                piece = self.front.prepare(wave[:, int(round(start * self.front.sample_rate)) :], seconds)
                if self.train:
                    piece = volume_jitter(piece, float(self.aud_aug.get("vol", 0.0)), rng=rng)
                lms = self.front(piece)
                clips.append(lms[..., : lms.shape[-1] // self.patch_time * self.patch_time])
        target = target if isinstance(target, torch.Tensor) else torch.tensor(int(target))
        return (clips[0] if self.train else torch.stack(clips)), target


@torch.no_grad()
def evaluate_probe(model: LinearProbe, samples, cfg, *, modality: str, multilabel: bool, device, batch: int) -> dict:
    """Multi-clip test: softmax (single-label) or sigmoid (multi-label) averaged over a video's clips."""
    model.eval()
    ds = ProbeClips(samples, cfg, modality=modality, train=False)
    scores, targets = [], []
    for clips, target in DataLoader(ds, batch_size=None, num_workers=0):
        logits = torch.cat([model(c.to(device)).float().cpu() for c in clips.split(batch)])
        probs = torch.sigmoid(logits) if multilabel else logits.softmax(-1)
        scores.append(probs.mean(0))
        targets.append(target)
    s, t = torch.stack(scores), torch.stack(targets)
    if multilabel:
        return {"mAP": 100 * mean_average_precision(s, t), "mean_auc": mean_roc_auc(s, t)}
    top5 = s.topk(min(5, s.shape[1]), dim=1).indices
    return {
        "top1": 100 * float((top5[:, 0] == t).float().mean()),
        "top5": 100 * float((top5 == t[:, None]).any(1).float().mean()),
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="linear", description="linear probe of an XKD backbone (Trainer)")
    p.add_argument("--db", required=True, choices=sorted(MODALITY))
    p.add_argument("-c", "--config-file", default="config")
    p.add_argument(
        "--weight_path", default=None, help="backbone file (*vid_student for kinetics400, *aud_student for fsd50k)"
    )
    p.add_argument("--which", default="student", choices=("student", "teacher"))
    p.add_argument("--data_dir", default=None)
    p.add_argument("--output_dir", default=None)
    p.add_argument("--job_id", default=None)
    p.add_argument("--sub_dir", default="linear")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--num_workers", type=int, default=0)
    p.add_argument(
        "--select_on_test", action="store_true", help="the original protocol: pick the epoch on the test split"
    )
    p.add_argument("--quiet", action="store_true")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.weight_path:
        raise UserError("--weight_path FILE is required (a backbone file of codes/train/src/xkd.sh)")
    bad = [o for o in args.overrides if "=" not in o]
    if bad:
        raise ConfigError(f"overrides must be KEY=VALUE, got {bad}")
    cfg = load_config(
        resolve_config_path(args.config_file, kind="eval", sub_dir=args.sub_dir, db=args.db), overrides=args.overrides
    )
    modality = MODALITY[args.db]
    data_dir = (
        Path(args.data_dir) if args.data_dir else Path(os.environ.get("VIDEOKD_DATA", REPO_ROOT / "data")) / args.db
    )
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: no {args.db} data; pass --data_dir (synthetic: datasets/make_synthetic.py)")
    backbone = load_eval_backbone(args.weight_path, cfg.model.backbone, modality=modality, which=args.which)
    multilabel = args.db == "fsd50k"
    if multilabel:
        split, n_classes = fsd50k_split(data_dir)
        split["train"] = split["train"] * int(cfg.dataset.train.clips_per_video)  # N random crops per file per epoch
    else:
        ks = kinetics_split(data_dir)
        n_classes = 1 + max(lab for _, lab in ks["train"])
        rng = np.random.default_rng(args.seed)
        held = set()
        for c in range(n_classes):
            idx = [i for i, (_, lab) in enumerate(ks["train"]) if lab == c]
            k = max(1, int(len(idx) * float(cfg.model.selection.held_out_fraction))) if len(idx) > 1 else 0
            held.update(rng.permutation(idx)[:k].tolist())
        split = {
            "train": [s for i, s in enumerate(ks["train"]) if i not in held],
            "val": [s for i, s in enumerate(ks["train"]) if i in held],
            "test": ks["test"],
        }
    if int(cfg.model.classifier.num_classes) != n_classes:
        cfg.model.classifier.num_classes = n_classes  # the data decides (the yaml holds the real count)
    select_split = "test" if args.select_on_test else "val"
    if not split[select_split]:
        raise DataError(f"{data_dir}: no {select_split} samples to choose the epoch on")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    output = Path(args.output_dir or os.environ.get("VIDEOKD_OUTPUT", REPO_ROOT / "OUTPUTS"))
    run_dir = output / "Transformer" / args.sub_dir / args.db / (args.job_id or time.strftime("%Y%m%d-%H%M%S"))
    with distributed_session(device) as dist:
        torch.manual_seed(args.seed)
        model = LinearProbe(
            backbone,
            Classifier(backbone.embed_dim, n_classes, dropout=float(cfg.model.classifier.get("dropout", 0.0) or 0.0)),
        )
        hp = cfg.hyperparams
        batch = max(1, int(cfg.dataset.batch_size) // dist.world_size)
        loader = build_train_loader(
            RobustDataset(ProbeClips(split["train"], cfg, modality=modality, train=True), train=True),
            batch_size=batch, seed=args.seed, drop_last=False, num_workers=args.num_workers, dist_info=dist,
        )  # fmt: skip
        lr = cosine_from_cfg(hp.lr, int(hp.num_epochs), len(loader))
        opt = torch.optim.AdamW(
            model.classifier.parameters(),
            lr=float(lr[0]),
            betas=tuple(hp.optimizer.betas),
            weight_decay=float(hp.weight_decay),
        )
        metric = "mAP" if multilabel else "top1"

        def step_fn(m, b):
            x, y = b
            logits = m(x)
            loss = F.binary_cross_entropy_with_logits(logits, y.float()) if multilabel else F.cross_entropy(logits, y)
            return {"loss": loss}

        def eval_fn(m):
            res = evaluate_probe(
                m, split[select_split], cfg, modality=modality, multilabel=multilabel, device=dist.device, batch=batch
            )
            return {f"{select_split}/{k}": v for k, v in res.items()}

        best_file = run_dir / "best_classifier.pt"

        def on_best(trainer, metrics):
            if dist.is_main:
                torch.save(trainer.raw_model.classifier.state_dict(), best_file)

        trainer = Trainer(
            model, opt, loader, step_fn, eval_fn=eval_fn, frozen=[model.backbone], on_best=on_best,
            schedulers=[ParamScheduler(opt, lr, key="lr")], dist=dist,
            config=TrainConfig(
                epochs=int(hp.num_epochs), out_dir=str(run_dir), monitor=f"{select_split}/{metric}", monitor_mode="max",
                eval_every_epochs=int(cfg.get("eval_freq", 1)), progress=not args.quiet, tensorboard=False,
            ),
        )  # fmt: skip
        with videokd.cli.run_dir_guard(run_dir, enabled=dist.is_main) as guard:
            guard.keep()
            summary = trainer.fit()
        result: dict[str, Any] = {
            "db": args.db, "selection": "test (original protocol)" if args.select_on_test else "validation split of the training data",
            "best_epoch": summary["best"]["epoch"], f"{select_split}_{metric}_best": summary["best"]["value"],
        }  # fmt: skip
        if dist.is_main:
            model.classifier.load_state_dict(torch.load(best_file, weights_only=True))
            test = evaluate_probe(
                model.to(dist.device),
                split["test"],
                cfg,
                modality=modality,
                multilabel=multilabel,
                device=dist.device,
                batch=batch,
            )
            result["test"] = test
            result["chance"] = (100.0 / n_classes) if not multilabel else None
            (run_dir / "linear_results.json").write_text(json.dumps(result, indent=2, default=float))
            shown = ", ".join(f"{k} {v:.2f}" for k, v in test.items())
            print(
                f"[xkd] linear {args.db}: {shown} (epoch {result['best_epoch']} chosen on {result['selection']})",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(videokd.cli.run_main(main, prog="linear"))
