"""The run configuration: every option of the lineage's ``opts.py`` (same names, same defaults),
the distillation block (``kd``, ``teacher``) and this implementation's switches (``run``,
``compat``), as one YAML schema checked by :mod:`videokd.config`.

``resolve(cfg)`` derives what the lineage's ``main.py`` derived at start-up (``scales``, ``arch``,
``mean``, ``std``, ``root_path``-joined paths) and returns the flat dict the lineage dumped to
``opts.json``. Lineage command lines translate 1:1 with :func:`lineage_argv_to_overrides`.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from videokd.config import Config, ConfigError, apply_overrides, load_config
from videokd.data.transforms import multiscale_scales, resnet3d_norm
from videokd.engine import PlateauScheduler, build_optimizer

from .models import arch_name

__all__ = [
    "LINEAGE_DEFAULTS",
    "DEFAULTS",
    "default_config",
    "load_options",
    "lineage_argv_to_overrides",
    "resolve",
    "norm_method",
    "describe_datasets",
    "fine_tuning_lr",
    "sgd_param_groups",
    "build_sgd",
    "build_plateau",
]

# opts.py of the lineage, in its order (the order of opts.json)
LINEAGE_DEFAULTS: dict[str, Any] = {
    # the lineage's default was /root/data/ActivityNet; here the data root of the repository
    # convention: $VIDEOKD_DATA, else <repo>/data (see expand_root)
    "root_path": "${VIDEOKD_DATA}",
    "video_path": "video_kinetics_jpg",
    "annotation_path": "kinetics.json",
    "result_path": "results",
    "dataset": "kinetics",
    "n_classes": 400,
    "n_finetune_classes": 400,
    "sample_size": 112,
    "sample_duration": 16,
    "initial_scale": 1.0,
    "n_scales": 5,
    "scale_step": 0.84089641525,
    "train_crop": "corner",
    "learning_rate": 0.1,
    "momentum": 0.9,
    "dampening": 0.9,
    "weight_decay": 1e-3,
    "mean_dataset": "activitynet",
    "no_mean_norm": False,
    "std_norm": False,
    "nesterov": False,
    "optimizer": "sgd",
    "lr_patience": 10,
    "batch_size": 128,
    "n_epochs": 200,
    "begin_epoch": 1,
    "n_val_samples": 3,
    "resume_path": "",
    "pretrain_path": "",
    "ft_begin_index": 0,
    "no_train": False,
    "no_val": False,
    "test": False,
    "test_subset": "val",
    "scale_in_test": 1.0,
    "crop_position_in_test": "c",
    "no_softmax_in_test": False,
    "no_cuda": False,
    "n_threads": 4,
    "checkpoint": 10,
    "no_hflip": False,
    "norm_value": 1,
    "model": "resnet",
    "model_depth": 18,
    "resnet_shortcut": "B",
    "wide_resnet_k": 2,
    "resnext_cardinality": 32,
    "manual_seed": 1,
}

DEFAULTS: dict[str, Any] = {
    **LINEAGE_DEFAULTS,
    # 2D -> 3D distillation (this package's design; the paper's own code is not public)
    "kd": {
        "type": "none",  # none | logits | feature | both
        "alpha": 0.5,  # logits: (1 - alpha) * CE + alpha * T^2 * KL(teacher || student)
        "temperature": 4.0,
        "beta": 1.0,  # feature: beta * MSE(P(student feature), mean-over-time teacher feature)
        "at_weight": 0.0,  # attention transfer between student layer4 and teacher layer4 (0: off)
    },
    "teacher": {
        "arch": "resnet18",  # a torchvision classification network with an ``fc`` head
        "weights": "",  # state-dict file of the 2D teacher (over the target classes for logit KD)
        "torchvision_weights": "",  # e.g. IMAGENET1K_V1: torchvision's weights API (downloads once)
        "n_classes": 0,  # teacher head width; 0: the student's class count
        "frame_stride": 1,  # feed every k-th frame of the clip to the teacher
    },
    "run": {
        "device": "",  # "" = cuda when available (unless no_cuda), else cpu
        "precision": "fp32",  # fp32 | bf16 | fp16
        "channels_last": False,  # channels_last_3d memory format (GPU)
        "max_batches_per_epoch": 0,  # 0 = all (smoke runs)
        "log_every": 10,
        "progress": True,
    },
    "student": {
        "base_width": 64,  # stem width (stages scale with it); 64 in every lineage network, less = tiny variants
    },
    "compat": {
        # the lineage's behaviour where it differs from the fixed default
        "pooling": "adaptive",  # fixed: AvgPool built for sample_size/sample_duration
        "detach_shortcut_a": False,  # True: shortcut A carries no gradient (lineage)
        "drop_last_test_video": False,  # True: the test json misses the last video (lineage)
        "test_top_k": 10,  # classes stored per video (clamped to the class count)
    },
}


def default_config() -> Config:
    return Config(copy.deepcopy(DEFAULTS))


def load_options(path: Optional[str | os.PathLike] = None, overrides: Sequence[str] = ()) -> Config:
    """Defaults <- YAML file <- ``KEY=VALUE`` overrides (unknown keys rejected with the nearest)."""
    cfg = load_config(path, defaults=DEFAULTS, overrides=list(overrides))
    validate(cfg)
    return cfg


_CHOICES = {
    "dataset": ("kinetics", "activitynet", "ucf101", "hmdb51"),
    "train_crop": ("random", "corner", "center"),
    "mean_dataset": ("activitynet", "kinetics"),
    "test_subset": ("val", "test"),
    "crop_position_in_test": ("c", "tl", "tr", "bl", "br"),
    "model": ("resnet", "preresnet", "wideresnet", "resnext", "densenet"),
    "resnet_shortcut": ("A", "B"),
    "kd.type": ("none", "logits", "feature", "both"),
    "compat.pooling": ("adaptive", "fixed"),
    "run.precision": ("fp32", "bf16", "fp16"),
}


def validate(cfg: Mapping[str, Any]) -> None:
    for dotted, choices in _CHOICES.items():
        node: Any = cfg
        for part in dotted.split("."):
            node = node[part]
        if node not in choices:
            raise ConfigError(f"{dotted} must be one of {list(choices)}, got {node!r}")


def lineage_argv_to_overrides(argv: Sequence[str]) -> list[str]:
    """The lineage's ``main.py`` flags as ``KEY=VALUE`` overrides: ``--sample_size 96`` ->
    ``sample_size=96``; store-true flags (``--nesterov``) -> ``nesterov=true``."""
    out, i = [], 0
    args = list(argv)
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise ConfigError(f"expected a --flag of the lineage's main.py, got {arg!r}")
        key = arg[2:]
        if key not in LINEAGE_DEFAULTS:
            apply_overrides(Config(LINEAGE_DEFAULTS), [(key, None)])  # raises with the nearest key
        if isinstance(LINEAGE_DEFAULTS[key], bool):
            out.append(f"{key}=true")
            i += 1
        else:
            value = args[i + 1] if i + 1 < len(args) else ""
            out.append(f"{key}={value}" if value != "" else f"{key}=''")
            i += 2
    return out


DATA_ROOT_VAR = "${VIDEOKD_DATA}"


def default_data_root() -> str:
    """``$VIDEOKD_DATA``, else ``<repo>/data`` (this file lives in ``<repo>/packages/kd2d3d/src/kd2d3d``),
    else ``./data``."""
    if os.environ.get("VIDEOKD_DATA"):
        return os.environ["VIDEOKD_DATA"]
    here = Path(__file__).resolve()
    repo = here.parents[4] if len(here.parents) > 4 else None
    if repo is not None and (repo / "core").is_dir() and (repo / "packages").is_dir():
        return str(repo / "data")
    return "data"


def expand_root(root: str) -> str:
    """``${VIDEOKD_DATA}`` (or ``$VIDEOKD_DATA``) in ``root_path`` -> the data root."""
    for token in (DATA_ROOT_VAR, "$VIDEOKD_DATA"):
        if token in root:
            root = root.replace(token, default_data_root())
    return root


def _join(root: str, path: str) -> str:
    return os.path.join(root, path) if root else path


def resolve(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The lineage's derived options: the flat ``opts.json`` dict (every lineage key, paths joined
    onto a non-empty ``root_path``, plus ``scales``, ``arch``, ``mean``, ``std``)."""
    opts = {k: cfg[k] for k in LINEAGE_DEFAULTS}
    opts["root_path"] = expand_root(opts["root_path"])
    if opts["root_path"]:
        for key in ("video_path", "annotation_path", "result_path"):
            opts[key] = _join(opts["root_path"], opts[key])
        for key in ("resume_path", "pretrain_path"):
            if opts[key]:
                opts[key] = _join(opts["root_path"], opts[key])
    opts["scales"] = multiscale_scales(opts["initial_scale"], opts["n_scales"], opts["scale_step"])
    opts["arch"] = arch_name(opts["model"], opts["model_depth"])
    mean, _ = resnet3d_norm(mean_dataset=opts["mean_dataset"], norm_value=opts["norm_value"])
    _, std = resnet3d_norm(mean_dataset=opts["mean_dataset"], norm_value=opts["norm_value"], std_norm=True)
    opts["mean"], opts["std"] = mean, std
    return opts


def norm_method(opts: Mapping[str, Any]) -> tuple[list[float], list[float]]:
    """(mean, std) of the input normalisation (``std_norm`` wins over ``no_mean_norm``)."""
    return resnet3d_norm(
        mean_dataset=opts["mean_dataset"],
        norm_value=opts["norm_value"],
        no_mean_norm=opts["no_mean_norm"],
        std_norm=opts["std_norm"],
    )


_DATASET_CLASS = {"kinetics": "Kinetics", "activitynet": "ActivityNet", "ucf101": "UCF101", "hmdb51": "HMDB51"}


def describe_datasets(opts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The datasets a run builds, phase by phase (training, validation, test), in the lineage's
    terms: class, positional arguments and transforms with their parameters. The data pipeline
    (:mod:`kd2d3d.data`) is driven by the same values."""
    mean, std = norm_method(opts)
    s, t = opts["sample_size"], opts["sample_duration"]
    norm = [{"class": "ToTensor", "norm_value": opts["norm_value"]}, {"class": "Normalize", "mean": mean, "std": std}]
    cls = _DATASET_CLASS[opts["dataset"]]
    out = []
    if not opts["no_train"]:
        if opts["train_crop"] == "random":
            crop = {"class": "MultiScaleRandomCrop", "interpolation": 2, "scales": opts["scales"], "size": s}
        else:
            positions = ["c"] if opts["train_crop"] == "center" else ["c", "tl", "tr", "bl", "br"]
            crop = {
                "class": "MultiScaleCornerCrop",
                "crop_positions": positions,
                "interpolation": 2,
                "scales": opts["scales"],
                "size": s,
            }
        spatial = {"class": "Compose", "transforms": [crop, {"class": "RandomHorizontalFlip"}, *norm]}
        out.append(
            {
                "class": cls,
                "args": [opts["video_path"], opts["annotation_path"], "training"],
                "kwargs": {
                    "spatial_transform": spatial,
                    "temporal_transform": {"class": "TemporalRandomCrop", "size": t},
                    "target_transform": {"class": "ClassLabel"},
                },
            }
        )
    if not opts["no_val"]:
        spatial = {
            "class": "Compose",
            "transforms": [
                {"class": "Scale", "interpolation": 2, "size": s},
                {"class": "CenterCrop", "size": [s, s]},
                *norm,
            ],
        }
        out.append(
            {
                "class": cls,
                "args": [
                    opts["video_path"],
                    opts["annotation_path"],
                    "validation",
                    opts["n_val_samples"],
                    spatial,
                    {"class": "LoopPadding", "size": t},
                    {"class": "ClassLabel"},
                ],
                "kwargs": {"sample_duration": t},
            }
        )
    if opts["test"]:
        spatial = {
            "class": "Compose",
            "transforms": [
                {"class": "Scale", "interpolation": 2, "size": int(s / opts["scale_in_test"])},
                {
                    "class": "CornerCrop",
                    "crop_position": opts["crop_position_in_test"],
                    "crop_positions": ["c", "tl", "tr", "bl", "br"],
                    "randomize": False,
                    "size": s,
                },
                *norm,
            ],
        }
        subset = "validation" if opts["test_subset"] == "val" else "testing"
        out.append(
            {
                "class": cls,
                "args": [
                    opts["video_path"],
                    opts["annotation_path"],
                    subset,
                    0,
                    spatial,
                    {"class": "LoopPadding", "size": t},
                    {"class": "VideoID"},
                ],
                "kwargs": {"sample_duration": t},
            }
        )
    return out


def fine_tuning_lr(name: str, ft_begin_index: int) -> Optional[float]:
    """The lineage's fine-tuning split: ``None`` (the optimizer's lr) for parameters whose name
    contains ``layer{k}`` ... ``layer4`` or ``fc`` (substring test), ``0.0`` for the rest; every
    parameter is trainable (``None``) when ``ft_begin_index == 0``."""
    if ft_begin_index == 0:
        return None
    keys = [f"layer{i}" for i in range(ft_begin_index, 5)] + ["fc"]
    return None if any(k in name for k in keys) else 0.0


def sgd_param_groups(named: Iterable[tuple[str, nn.Parameter]], opts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One group of every parameter, or (fine-tuning from ``pretrain_path`` with
    ``ft_begin_index > 0``) one group per parameter with lr 0 for the frozen ones (they still get
    weight decay into their momentum buffers, and their BN statistics still update)."""
    named = list(named)
    k = opts["ft_begin_index"] if opts["pretrain_path"] else 0
    if k == 0:
        return [{"params": [p for _, p in named], "param_names": [n for n, _ in named]}]
    groups = []
    for n, p in named:
        lr = fine_tuning_lr(n, k)
        group = {"params": [p], "param_names": [n]}
        if lr is not None:
            group["lr"] = lr
        groups.append(group)
    return groups


def build_sgd(named: Iterable[tuple[str, nn.Parameter]], opts: Mapping[str, Any]) -> torch.optim.Optimizer:
    """SGD as the lineage builds it (dampening default 0.9, forced to 0 by nesterov; weight decay
    on every parameter)."""
    return build_optimizer(
        "sgd",
        sgd_param_groups(named, opts),
        lr=opts["learning_rate"],
        momentum=opts["momentum"],
        dampening=opts["dampening"],
        weight_decay=opts["weight_decay"],
        nesterov=opts["nesterov"],
    )


def build_plateau(optimizer: torch.optim.Optimizer, opts: Mapping[str, Any], monitor: str = "val/loss"):
    """``ReduceLROnPlateau('min', patience=lr_patience)`` on the validation loss."""
    return PlateauScheduler(optimizer, monitor=monitor, mode="min", patience=opts["lr_patience"])
