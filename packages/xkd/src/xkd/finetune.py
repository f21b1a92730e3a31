"""Full fine-tuning of XKD backbones (the original ``eval_finetune_video.py`` / ``eval_finetune_audio.py``;
``finetune_{ucf101,hmdb51,k400,esc50,fsd50k}.sh``), trained with the core Trainer.

``python -m xkd.finetune --db ucf101 [-c config_f1 ...] --weight_path FILE [--data_dir DIR] [KEY=VALUE ...]``

* Model: the evaluation ViT loaded from the pre-training backbone (key remap, strict), its learned
  position embedding kept at the pre-training grid and **interpolated at every forward** with the
  pinned scale factors (video: trilinear ``((T//pt + 0.1)/Nt, (H//ph + 0.1)/g, ...)``, so a 112-px
  model runs 224-px clips on a 14 x 14 grid; audio: bicubic over time) + a head on the pooled patch
  tokens. Video: the original ``Classifier`` (dropout, then ``Linear``, orthogonal init); audio: a
  plain ``Linear`` (normal std 0.01, zero bias) - the original audio engines ignore the config's
  classifier options, and so does this one.
* Optimiser: AdamW over every parameter with layer-wise lr decay (BEiT rule: ``cls_token``,
  ``pos_embed``, ``patch_embed`` -> layer 0, block ``i`` -> ``i + 1``, the rest ``depth + 1``;
  scale ``layer_decay ** (depth + 1 - id)``), no weight decay on 1-D tensors, ``pos_embed`` and
  ``cls_token``; the lr schedule (cosine with warm-up or fixed) per iteration.
* Loss: single-label - timm-style ``Mixup`` (mixup / cutmix, batch mode, label smoothing folded into
  the soft targets) + soft-target cross-entropy, else label-smoothing CE, else CE; FSD50K - BCE.
* Augmentation: video ``randaug3crop`` (train: RandAugment ``rand-mM-nN-mstdS`` on the uint8 frames,
  random resized crop ``min_area`` / ``aspect_ratio``, flip, random erasing; test: clips x three
  crops along the long side); audio ``strong`` (volume jitter, time warp, frequency / time masks,
  random resize crop; test: evenly spaced crops).
* Test: every clip and crop of a video, softmax averaged (single-label: top-1 / top-5); FSD50K: logits
  averaged over the crops (the original finetune engine), mAP over classes with a positive.
* Model selection (fixed protocol flaw): the epoch is chosen on a held-out, class-stratified part of
  the TRAINING videos (``model.selection.held_out_fraction``; FSD50K: the ``val`` rows of ``dev.csv``),
  then the chosen epoch's model is scored once on the test split. ``--select_on_test`` restores the
  original (evaluate the test split every ``eval_freq`` epochs and report the best).
* Folds: without a config name every ``config_f*`` of the dataset runs (UCF101 / HMDB51 3, ESC-50 5),
  each from the pre-trained weights; each prints its metric, several also the mean.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import videokd.cli
from videokd.config import ConfigError, load_config
from videokd.data import transforms as TF
from videokd.data.audio import read_audio
from videokd.data.robust import RobustDataset
from videokd.data.video import VideoReader
from videokd.engine import TrainConfig, Trainer
from videokd.engine.distributed import all_gather_objects, distributed_session
from videokd.engine.optim import param_groups
from videokd.engine.sampling import build_train_loader
from videokd.engine.schedules import ParamScheduler
from videokd.errors import UserError
from videokd.losses import label_smoothing_cross_entropy, soft_target_cross_entropy
from videokd.metrics.ap import mean_average_precision, mean_roc_auc

from .audio import local_resize_crop, mask_along_axis, time_warp, volume_jitter
from .backbones import build_eval_backbone, load_state_strict
from .checkpoint import load_backbone_file
from .data import DataError, clip_frame_indices, esc50_split, hmdb51_split, kinetics_split, ucf101_split
from .eval_linear import Classifier, ProbeClips, fsd50k_split
from .pretrain import PACKAGE_ROOT, REPO_ROOT, _device_precision, resolve_config_path
from .schedules import cosine_from_cfg
from .transforms import IMAGENET_MEAN, IMAGENET_STD, randaug3crop_eval

__all__ = [
    "DATASETS",
    "FinetuneModel",
    "Mixup",
    "layer_id",
    "finetune_param_groups",
    "parse_rand_augment",
    "hold_out",
    "main",
]

# db -> (modality, split reader (root, fold) -> {"train", "test"[, "val"]}, default data folder)
DATASETS = {
    "ucf101": ("video", ucf101_split, "ucf101"),
    "hmdb51": ("video", hmdb51_split, "hmdb51"),
    "kinetics400": ("video", lambda root, fold: kinetics_split(root), "kinetics400"),
    "esc50": ("audio", esc50_split, "esc50"),
    "fsd50k": ("audio", lambda root, fold: fsd50k_split(root)[0], "fsd50k"),
}


class FinetuneModel(nn.Module):
    """``backbone`` (trainable) -> pooled patch tokens (optionally L2-normalised) -> ``head``."""

    def __init__(self, backbone: nn.Module, head: nn.Module, *, l2_norm: bool = False) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.l2_norm = l2_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.backbone.pooled(x)
        if self.l2_norm:
            feats = F.normalize(feats, dim=-1)
        return self.head(feats)


def build_head(
    dim: int, num_classes: int, classifier_cfg: Mapping[str, Any], *, modality: str
) -> tuple[nn.Module, bool]:
    """Video: ``Classifier`` from the config (dropout when ``use_dropout``); audio: the original's plain
    ``Linear`` (normal std 0.01, zero bias). Returns ``(head, l2_norm)``."""
    if modality == "audio":
        head = nn.Linear(dim, num_classes)
        nn.init.normal_(head.weight, std=0.01)
        nn.init.zeros_(head.bias)
        return head, False
    dropout = float(classifier_cfg.get("dropout", 0.0) or 0.0) if classifier_cfg.get("use_dropout", False) else 0.0
    if classifier_cfg.get("use_bn", False):
        raise ConfigError("model.classifier.use_bn: true is not supported (no XKD config uses it)")
    return Classifier(dim, num_classes, dropout=dropout), bool(classifier_cfg.get("l2_norm", False))


# ----------------------------------------------------------------------------- optimiser
def layer_id(name: str, depth: int) -> int:
    """BEiT / MAE ``get_layer_id_for_vit`` on ``FinetuneModel`` names."""
    leaf = name[len("backbone.") :] if name.startswith("backbone.") else None
    if leaf is not None and (leaf in ("cls_token", "pos_embed") or leaf.startswith("patch_embed")):
        return 0
    if leaf is not None and leaf.startswith("blocks."):
        return int(leaf.split(".")[1]) + 1
    return depth + 1


def finetune_param_groups(model: FinetuneModel, *, weight_decay: float, layer_decay: float) -> list[dict]:
    """Parameter groups with ``lr_mult = layer_decay ** (depth + 1 - layer_id)``; no decay on 1-D tensors,
    ``pos_embed`` and ``cls_token``."""
    depth = len(model.backbone.blocks)
    no_wd = {"backbone.pos_embed", "backbone.cls_token"}
    return param_groups(
        model,
        weight_decay=weight_decay,
        no_decay=lambda n, p: p.ndim == 1 or n in no_wd,
        lr_mult=lambda n: float(layer_decay) ** (depth + 1 - layer_id(n, depth)),
    )


# ----------------------------------------------------------------------------- mixup / cutmix
class Mixup:
    """timm ``Mixup`` in ``batch`` mode: with probability ``prob`` mix the batch with its flip (mixup,
    ``lam ~ Beta(mixup, mixup)``, or - with probability ``switch_prob`` when both are on - cutmix,
    ``lam ~ Beta(cutmix, cutmix)``, one box, ``lam`` corrected to the box area). Targets are one-hot
    with ``label_smoothing`` (off ``eps / K``, on ``1 - eps + eps / K``), mixed with the same ``lam``.

    The cutmix box spans the last two axes (H, W) of every frame. timm's Mixup on a 5-D clip slices
    axes 2-3 (T, H) with a box drawn for (H, W); ``original_axes=True`` reproduces that.
    Random numbers come from torch's global generator (checkpointed by the Trainer).
    """

    def __init__(self, *, mixup_alpha: float = 0.0, cutmix_alpha: float = 0.0, cutmix_minmax=None, prob: float = 1.0,
                 switch_prob: float = 0.5, mode: str = "batch", label_smoothing: float = 0.1, num_classes: int = 1000,
                 original_axes: bool = False) -> None:  # fmt: skip
        if mode != "batch":
            raise ConfigError(
                f"hyperparams.mixup_mode {mode!r}: only 'batch' (what every XKD config uses) is supported"
            )
        if cutmix_minmax is not None:
            raise ConfigError("hyperparams.cutmix_minmax: only null (what every XKD config uses) is supported")
        self.mixup_alpha, self.cutmix_alpha = float(mixup_alpha), float(cutmix_alpha)
        self.prob, self.switch_prob = float(prob), float(switch_prob)
        self.smoothing, self.num_classes, self.original_axes = float(label_smoothing), int(num_classes), original_axes

    @property
    def active(self) -> bool:
        return self.prob > 0 and (self.mixup_alpha > 0 or self.cutmix_alpha > 0)

    @staticmethod
    def _beta(alpha: float) -> float:
        return float(torch.distributions.Beta(alpha, alpha).sample())

    def params(self) -> tuple[float, bool]:
        """``(lam, use_cutmix)`` for one batch."""
        if not self.active or float(torch.rand(())) >= self.prob:
            return 1.0, False
        if self.mixup_alpha > 0 and self.cutmix_alpha > 0:
            cut = float(torch.rand(())) < self.switch_prob
            return self._beta(self.cutmix_alpha if cut else self.mixup_alpha), cut
        if self.mixup_alpha > 0:
            return self._beta(self.mixup_alpha), False
        return self._beta(self.cutmix_alpha), True

    @staticmethod
    def box(h: int, w: int, lam: float) -> tuple[int, int, int, int]:
        """timm ``rand_bbox`` (no margin): ``(y0, y1, x0, x1)``."""
        ratio = math.sqrt(1.0 - lam)
        ch, cw = int(h * ratio), int(w * ratio)
        cy, cx = int(torch.randint(0, h, ())), int(torch.randint(0, w, ()))
        return (
            int(np.clip(cy - ch // 2, 0, h)),
            int(np.clip(cy + ch // 2, 0, h)),
            int(np.clip(cx - cw // 2, 0, w)),
            int(np.clip(cx + cw // 2, 0, w)),
        )

    def targets(self, y: torch.Tensor, lam: float) -> torch.Tensor:
        off = self.smoothing / self.num_classes
        on = 1.0 - self.smoothing + off
        one = torch.full((y.shape[0], self.num_classes), off, device=y.device).scatter_(1, y[:, None], on)
        return one * lam + one.flip(0) * (1.0 - lam)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lam, cut = self.params()
        if lam != 1.0:
            x = x.clone()
            if cut:
                h, w = x.shape[-2:]
                y0, y1, x0, x1 = self.box(h, w, lam)
                if self.original_axes:
                    x[:, :, y0:y1, x0:x1] = x.flip(0)[:, :, y0:y1, x0:x1]
                else:
                    x[..., y0:y1, x0:x1] = x.flip(0)[..., y0:y1, x0:x1]
                lam = 1.0 - (y1 - y0) * (x1 - x0) / float(h * w)
            else:
                x = x * lam + x.flip(0) * (1.0 - lam)
        return x, self.targets(y, lam)


# ----------------------------------------------------------------------------- data
def parse_rand_augment(spec: str) -> dict[str, float]:
    """``rand-m7-n4-mstd0.5-inc1`` -> ``{"magnitude": 7, "num_ops": 4, "magnitude_std": 0.5}`` (``inc``
    is accepted; torchvision's RandAugment has one op set)."""
    parts = str(spec).split("-")
    if parts[0] != "rand":
        raise ConfigError(f"auto_augment {spec!r}: only 'rand-...' (RandAugment) is supported")
    out = {"magnitude": 9.0, "num_ops": 2.0, "magnitude_std": 0.0}
    for part in parts[1:]:
        m = re.fullmatch(r"(mstd|inc|m|n|mmax)([0-9.]+)", part)
        if m is None:
            raise ConfigError(f"auto_augment {spec!r}: cannot read {part!r}")
        key, value = m.group(1), float(m.group(2))
        if key in ("m", "n", "mstd"):
            out[{"m": "magnitude", "n": "num_ops", "mstd": "magnitude_std"}[key]] = value
    return out


class FinetuneClips(ProbeClips):
    """Training: ``ds[i]`` -> ``(clip, target)``, one random augmented clip; test: ``(views, target)``
    with every clip (and crop) of the file stacked. The sample list, clip starts and audio front end are
    the linear probe's; fine-tuning adds RandAugment and its own augmentations."""

    def __init__(self, samples, cfg, *, modality: str, train: bool, seed: int = 0) -> None:
        super().__init__(samples, cfg, modality=modality, train=train, seed=seed)
        self.randaug = None
        if modality == "video" and train and self.vid_aug.get("auto_augment"):
            self.randaug = TF.VideoRandAugment(
                **{
                    k: (int(v) if k != "magnitude_std" else v)
                    for k, v in parse_rand_augment(self.vid_aug["auto_augment"]).items()
                }
            )

    def _train_video(self, frames: torch.Tensor, rng: random.Random) -> torch.Tensor:
        a, crop = self.vid_aug, int(self.cfg.dataset.crop_size)
        video = frames.permute(0, 3, 1, 2)  # (T, 3, H, W) uint8
        if self.randaug is not None:
            video = self.randaug(video)
        x = TF.to_float(video.permute(1, 0, 2, 3))  # (3, T, H, W)
        scale = a.get("min_area", (0.08, 1.0))
        scale = (float(scale), 1.0) if isinstance(scale, (int, float)) else tuple(float(v) for v in scale)
        ratio = tuple(float(v) for v in a.get("aspect_ratio", (3 / 4, 4 / 3)))
        x, _ = TF.random_resized_crop(x, crop, scale=scale, ratio=ratio, rng=rng)
        if a.get("hflip", True) and rng.random() < 0.5:
            x = TF.hflip(x)
        if a.get("normalize", True):
            x = TF.normalize(x.clamp(0, 1), IMAGENET_MEAN, IMAGENET_STD, channel_dim=0)
        erase = a.get("rand_erase") or {}
        if float(erase.get("probability", 0.0)) > 0:
            x = x.permute(1, 0, 2, 3)  # (T, C, H, W): one box for the clip
            x, _ = TF.random_erasing(x, float(erase["probability"]), mode=str(erase.get("mode", "pixel")), rng=rng)
            x = x.permute(1, 0, 2, 3).contiguous()
        return x

    def _train_audio(self, piece: torch.Tensor, rng: random.Random) -> torch.Tensor:
        a = self.aud_aug
        if a.get("voljitter", False):
            piece = volume_jitter(piece, float(a.get("vol", 0.0)), rng=rng)
        lms = self.front(piece)
        if a.get("timewarp", False):
            lms = time_warp(lms, int(a.get("wrap_window", 0)), rng=rng)
        if a.get("fmask", False):
            lms = mask_along_axis(lms, a.get("fmask_len", (0, 30)), int(a.get("num_fmask", 2)), axis="freq", rng=rng)
        if a.get("tmask", False):
            lms = mask_along_axis(lms, a.get("tmask_len", (0, 30)), int(a.get("num_tmask", 2)), axis="time", rng=rng)
        if a.get("randcrop", False):
            lms = local_resize_crop(lms, rng=rng)
        return lms

    def __getitem__(self, index: int):
        path, target = self.samples[index]
        rng = random.Random(random.getrandbits(64)) if self.train else random.Random(self.seed + index)
        d = self.cfg.dataset
        views = []
        if self.modality == "video":
            duration, fps, crop = float(d.clip_duration), float(d.video_fps), int(d.crop_size)
            with VideoReader(path) as reader:
                info = reader.info
                stamps = reader.frame_timestamps() - info.start_time
                for start in self._starts(info.duration, duration, rng):
                    frames = reader.get_frames(clip_frame_indices(stamps, start, int(round(duration * fps)), fps))
                    if self.train:
                        views.append(self._train_video(frames, rng))
                    else:
                        views.extend(randaug3crop_eval(frames, crop).unbind(0))  # three crops per clip
        else:
            seconds = float(d.audio_clip_duration)
            wave, _ = read_audio(path, sample_rate=self.front.sample_rate, mono=True, sample_format="s16")
            for start in self._starts(wave.shape[-1] / self.front.sample_rate, seconds, rng):
                piece = self.front.prepare(wave[:, int(round(start * self.front.sample_rate)) :], seconds)
                lms = self._train_audio(piece, rng) if self.train else self.front(piece)
                views.append(lms[..., : lms.shape[-1] // self.patch_time * self.patch_time])
        target = target if isinstance(target, torch.Tensor) else torch.tensor(int(target))
        return (views[0] if self.train else torch.stack(views)), target


def hold_out(samples: Sequence[tuple], fraction: float, seed: int) -> tuple[list, list]:
    """Class-stratified split of the training list: ``(fit, held_out)``; every class with >= 2 samples
    gives at least one."""
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[int]] = {}
    for i, (_, label) in enumerate(samples):
        by_class.setdefault(int(label), []).append(i)
    held: set[int] = set()
    for idx in by_class.values():
        if len(idx) >= 2:
            k = max(1, int(math.floor(len(idx) * fraction)))
            held.update(int(i) for i in rng.permutation(idx)[:k])
    return [s for i, s in enumerate(samples) if i not in held], [s for i, s in enumerate(samples) if i in held]


@torch.no_grad()
def evaluate(model: nn.Module, samples, cfg, *, modality: str, multilabel: bool, device, batch: int, dist,
             precision=None) -> dict[str, float]:  # fmt: skip
    """Every view of every file; rank ``r`` of ``W`` scores files ``r, r + W, ...`` and the scores are
    gathered. Single-label: softmax averaged, top-1 / top-5; multi-label: logits averaged, mAP, mean AUC."""
    model.eval()
    ds = FinetuneClips(samples, cfg, modality=modality, train=False)
    local = []
    for i in range(dist.rank, len(ds), dist.world_size):
        views, target = ds[i]
        chunks = []
        for c in views.split(max(1, batch)):
            ctx = precision.autocast() if precision is not None else torch.autocast("cpu", enabled=False)
            with ctx:
                chunks.append(model(c.to(device)).float().cpu())
        logits = torch.cat(chunks)
        local.append((i, (logits.mean(0) if multilabel else logits.softmax(-1).mean(0)), target))
    rows = sorted((r for part in all_gather_objects(local) for r in part), key=lambda r: r[0])
    s, t = torch.stack([r[1] for r in rows]), torch.stack([r[2] for r in rows])
    if multilabel:
        return {"mAP": 100 * mean_average_precision(s, t), "mean_auc": mean_roc_auc(s, t), "count": len(rows)}
    top5 = s.topk(min(5, s.shape[1]), dim=1).indices
    return {
        "top1": 100 * float((top5[:, 0] == t).float().mean()),
        "top5": 100 * float((top5 == t[:, None]).any(1).float().mean()),
        "count": len(rows),  # files scored (gathered over the ranks)
    }


# ----------------------------------------------------------------------------- one fold
def run_fold(cfg, state: Mapping[str, torch.Tensor], *, args, db: str, data_dir: Path, run_dir: Path, dist,
             precision: str, log) -> dict[str, Any]:  # fmt: skip
    modality, reader, _ = DATASETS[db]
    multilabel = db == "fsd50k"
    fold = int(cfg.dataset.get("fold", 1))
    split = reader(data_dir, fold)
    for name in ("train", "test"):
        if not split.get(name):
            raise DataError(f"{data_dir}: the {db} fold {fold} {name} list is empty")
    n_classes = split["train"][0][1].numel() if multilabel else 1 + max(int(lab) for _, lab in split["train"])
    if int(cfg.model.classifier.num_classes) != n_classes:
        log(f"[xkd] {db}: {n_classes} classes in the data (the config says {cfg.model.classifier.num_classes})")
    hp = cfg.hyperparams
    if args.select_on_test:
        fit, select = split["train"], split["test"]
    elif multilabel:
        fit, select = split["train"], split.get("val", [])
    else:
        fit, select = hold_out(split["train"], float(cfg.model.selection.held_out_fraction), args.seed)
    if not select:
        raise DataError(
            f"{data_dir}: no samples to choose the epoch on (use --select_on_test for the original protocol)"
        )
    select_name = "test" if args.select_on_test else "val"

    torch.manual_seed(args.seed)
    backbone = build_eval_backbone(cfg.model.backbone, modality=modality)
    load_state_strict(backbone, state, source=str(args.weight_path))
    head, l2 = build_head(backbone.embed_dim, n_classes, cfg.model.classifier, modality=modality)
    model = FinetuneModel(backbone, head, l2_norm=l2)

    batch = max(1, int(cfg.dataset.batch_size) // dist.world_size)
    train_section = cfg.dataset.train
    workers = args.num_workers
    if workers is None:
        workers = (
            -(-int(cfg.get("num_workers", 0)) // max(torch.cuda.device_count(), 1)) if dist.device.type == "cuda" else 0
        )
    loader = build_train_loader(
        RobustDataset(FinetuneClips(fit, cfg, modality=modality, train=True), train=True),
        batch_size=batch, seed=args.seed, drop_last=bool(train_section.get("drop_last", True)) and len(fit) >= batch * dist.world_size,
        num_workers=workers, dist_info=dist,
    )  # fmt: skip
    epochs = int(hp.num_epochs)
    steps_per_epoch = (
        len(loader) if args.max_batches_per_epoch is None else min(len(loader), args.max_batches_per_epoch)
    )
    lr = cosine_from_cfg(hp.lr, epochs, max(1, steps_per_epoch))
    # the audio configs keep the weight decay under optimizer: (the original engine read hyperparams.weight_decay: KeyError)
    wd = float(hp.get("weight_decay", hp.optimizer.get("weight_decay", 0.0)))
    groups = finetune_param_groups(model, weight_decay=wd, layer_decay=float(hp.get("layer_decay", 1.0)))
    if str(hp.optimizer.get("name", "adamw")) != "adamw":
        raise ConfigError(f"hyperparams.optimizer.name {hp.optimizer.name!r}: the XKD finetune configs use adamw")
    opt = torch.optim.AdamW(groups, lr=float(lr[0]), betas=tuple(float(b) for b in hp.optimizer.betas))
    # the audio configs have no mixup / cutmix / label_smoothing keys (the original engine: KeyError) -> off
    mixup = Mixup(
        mixup_alpha=float(hp.get("mixup", 0.0) or 0.0), cutmix_alpha=float(hp.get("cutmix", 0.0) or 0.0),
        cutmix_minmax=hp.get("cutmix_minmax"), prob=float(hp.get("mixup_prob", 1.0)),
        switch_prob=float(hp.get("mixup_switch_prob", 0.5)), mode=str(hp.get("mixup_mode", "batch")),
        label_smoothing=float(hp.get("label_smoothing", 0.0) or 0.0), num_classes=n_classes,
        original_axes=bool(hp.get("cutmix_original_axes", False)),
    )  # fmt: skip
    smoothing = float(hp.get("label_smoothing", 0.0) or 0.0)
    if multilabel and mixup.active:
        raise ConfigError("hyperparams.mixup / cutmix with the multi-label FSD50K are not supported")

    def step_fn(m, b):
        x, y = b
        if multilabel:
            return {"loss": F.binary_cross_entropy_with_logits(m(x).float(), y.float())}
        if mixup.active:
            x, soft = mixup(x, y)
            return {"loss": soft_target_cross_entropy(m(x).float(), soft)}
        if smoothing > 0:
            return {"loss": label_smoothing_cross_entropy(m(x).float(), y, smoothing=smoothing)}
        return {"loss": F.cross_entropy(m(x).float(), y)}

    trainer_ref: dict[str, Trainer] = {}

    def eval_fn(m):
        res = evaluate(m, select, cfg, modality=modality, multilabel=multilabel, device=dist.device, batch=batch,
                       dist=dist, precision=trainer_ref["t"].precision)  # fmt: skip
        return {f"{select_name}/{k}": v for k, v in res.items()}

    metric = "mAP" if multilabel else "top1"
    best_file = run_dir / "best_model.pt"

    def on_best(trainer, metrics):
        if dist.is_main:
            torch.save(trainer.raw_model.state_dict(), best_file)

    trainer = Trainer(
        model, opt, loader, step_fn, eval_fn=eval_fn, on_best=on_best, dist=dist,
        schedulers=[ParamScheduler(opt, lr, key="lr")],
        config=TrainConfig(
            epochs=epochs, out_dir=str(run_dir), monitor=f"{select_name}/{metric}", monitor_mode="max",
            eval_every_epochs=int(cfg.get("eval_freq", 1)), progress=not args.quiet, tensorboard=False,
            precision=precision, max_batches_per_epoch=args.max_batches_per_epoch, log_every=10,
        ),
    )  # fmt: skip
    trainer_ref["t"] = trainer
    t0 = time.time()
    with videokd.cli.run_dir_guard(run_dir, enabled=dist.is_main) as guard:
        guard.keep()
        summary = trainer.fit()
    from videokd.engine.distributed import barrier

    barrier()
    model.load_state_dict(torch.load(best_file, map_location="cpu", weights_only=True))
    model.to(dist.device)
    selected = {"epoch": summary["best"]["epoch"], f"{select_name}_{metric}": summary["best"]["value"]}
    # one test evaluation of the chosen epoch's model (with --select_on_test: the best test value, evaluated again)
    test = evaluate(model, split["test"], cfg, modality=modality, multilabel=multilabel, device=dist.device,
                    batch=batch, dist=dist, precision=trainer.precision)  # fmt: skip
    return {
        "db": db, "fold": fold, "metric": metric, "test": test, "selected": selected,
        "selection": "test (original protocol)" if args.select_on_test else (
            "FSD50K val rows of dev.csv" if multilabel else "held-out training videos"),
        "train_samples": len(fit), "selection_samples": len(select), "test_samples": len(split["test"]),
        "chance": None if multilabel else 100.0 / n_classes, "classes": n_classes,
        "seconds": round(time.time() - t0, 2), "run_dir": str(run_dir),
    }  # fmt: skip


# ----------------------------------------------------------------------------- entry
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="finetune", description="full fine-tuning of an XKD backbone (Trainer)")
    p.add_argument(
        "--db", required=True, choices=sorted(DATASETS) + ["fsd50"], help="fsd50 (the original name) = fsd50k"
    )
    p.add_argument("-c", "--config-file", action="append", default=None,
                   help="config name(s) under codes/eval/configs/finetune/<db>/ (default: every config_f*, else config)")  # fmt: skip
    p.add_argument("--weight_path", default=None,
                   help="a pre-training backbone file (*vid_student for video, *aud_student for audio) or a checkpoint")  # fmt: skip
    p.add_argument("--which", default="student", choices=("student", "teacher"), help="backbone of a full checkpoint")
    p.add_argument("--data_dir", default=None, help="dataset root (default $VIDEOKD_DATA/<db>)")
    p.add_argument("--output_dir", default=None, help="default $VIDEOKD_OUTPUT or <repo>/OUTPUTS")
    p.add_argument("--job_id", default=None)
    p.add_argument("--sub_dir", default="finetune")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument("--precision", default=None, choices=("fp32", "bf16", "fp16"),
                   help="default: fp16 on CUDA when apex: true, else fp32")  # fmt: skip
    p.add_argument("--num_workers", type=int, default=None,
                   help="DataLoader workers per process (default: yaml num_workers / GPUs on CUDA, 0 on the CPU)")  # fmt: skip
    p.add_argument("--max_batches_per_epoch", type=int, default=None, help="cap every epoch (smoke runs)")
    p.add_argument("--select_on_test", action="store_true",
                   help="the original protocol: evaluate the test split every eval_freq epochs and report the best")  # fmt: skip
    p.add_argument("--quiet", action="store_true")
    for flag in ("--server", "--world-size", "--rank", "--gpu", "--dist-url", "--dist-backend"):
        p.add_argument(flag, default=None, help=argparse.SUPPRESS)
    p.add_argument("--multiprocessing-distributed", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    args.db = "fsd50k" if args.db == "fsd50" else args.db
    modality, _, folder = DATASETS[args.db]
    bad = [o for o in args.overrides if "=" not in o]
    if bad:
        raise ConfigError(f"overrides must be KEY=VALUE, got {bad}")
    cfg_dir = PACKAGE_ROOT / "codes" / "eval" / "configs" / args.sub_dir / args.db
    names = args.config_file or sorted(p.stem for p in cfg_dir.glob("config_f*.yaml")) or ["config"]
    cfgs = [
        (
            n,
            load_config(
                resolve_config_path(n, kind="eval", sub_dir=args.sub_dir, db=args.db), overrides=args.overrides
            ),
        )
        for n in names
    ]
    data_dir = (
        Path(args.data_dir) if args.data_dir else Path(os.environ.get("VIDEOKD_DATA", REPO_ROOT / "data")) / folder
    )
    if not data_dir.is_dir():
        raise DataError(
            f"{data_dir}: no {args.db} data. Pass --data_dir or set VIDEOKD_DATA, or make a synthetic stand-in: "
            f"python datasets/make_synthetic.py {args.db} {data_dir}"
        )
    if not args.weight_path:
        raise UserError(
            "--weight_path FILE is required (a backbone file of codes/train/src/xkd.sh); WEIGHT_PATH=FILE works too"
        )
    state = load_backbone_file(args.weight_path, modality=modality, which=args.which)
    probe = build_eval_backbone(cfgs[0][1].model.backbone, modality=modality)
    load_state_strict(probe, state, source=str(args.weight_path))  # a wrong file fails before any training
    del probe
    device, precision = _device_precision(args, cfgs[0][1])
    output = Path(args.output_dir or os.environ.get("VIDEOKD_OUTPUT", REPO_ROOT / "OUTPUTS"))
    job = args.job_id or time.strftime("%Y%m%d-%H%M%S")
    out = output / "Transformer" / args.sub_dir / args.db / job
    log = (lambda *_: None) if args.quiet else (lambda msg: print(msg, flush=True))
    with distributed_session(device) as dist:
        if dist.is_main:
            print(
                f"[xkd] finetune {args.db}: launcher {dist.launcher}, rank {dist.rank}/{dist.world_size}, "
                f"local rank {dist.local_rank}, master {dist.master_addr}:{dist.master_port}, {dist.device}, {precision}",
                flush=True,
            )
        results = []
        for name, cfg in cfgs:
            fold = int(cfg.dataset.get("fold", 1))
            res = run_fold(cfg, state, args=args, db=args.db, data_dir=data_dir, run_dir=out / f"fold{fold}",
                           dist=dist, precision=precision, log=log)  # fmt: skip
            res["config"] = name
            results.append(res)
            if dist.is_main:
                m = res["metric"]
                shown = ", ".join(f"{k} {v:.2f}" for k, v in res["test"].items() if k != "count")
                chance = f"; chance {res['chance']:.1f}%" if res["chance"] is not None else ""
                print(f"[xkd] finetune {args.db} fold {fold}: {m} {res['test'][m]:.2f}% ({shown}; epoch "
                      f"{res['selected']['epoch']} chosen on {res['selection']}{chance})", flush=True)  # fmt: skip
        summary: dict[str, Any] = {
            "db": args.db, "weight_path": str(args.weight_path), "folds": results, "precision": precision,
            "dist": {"launcher": dist.launcher, "rank": dist.rank, "world_size": dist.world_size,
                     "local_rank": dist.local_rank, "master_addr": dist.master_addr, "master_port": dist.master_port},
        }  # fmt: skip
        metric = results[0]["metric"]
        if len(results) > 1:
            summary[f"mean_{metric}"] = float(np.mean([r["test"][metric] for r in results]))
            if dist.is_main:
                print(f"[xkd] finetune {args.db} mean over {len(results)} folds: {metric} {summary[f'mean_{metric}']:.2f}%",
                      flush=True)  # fmt: skip
        if dist.is_main:
            out.mkdir(parents=True, exist_ok=True)
            (out / "finetune_results.json").write_text(json.dumps(summary, indent=2, default=float))
            log(f"[xkd] results: {out / 'finetune_results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(videokd.cli.run_main(main, prog="finetune"))
