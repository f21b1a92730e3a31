"""The TDS-CLIP config: the original YAML keys, typed and checked, plus a few new ones.

A run's config is :data:`DEFAULTS`, updated from the YAML file and then from ``KEY.SUB=value``
overrides; unknown keys are errors naming the nearest valid key (the original's DotMap turned
every typo into a silent ``False``). Keys the original read but ignored are accepted only with
the values that match what the code does (or are honoured, ``network.sync_bn``); everything else
is rejected with a message.

New keys (all optional):

* ``network.clip_path`` - the OpenAI CLIP file (default ``<data root>/clip_pretrain/<arch>.pt``,
  e.g. ``ViT-B-16.pt``), TorchScript archive or state dict;
* ``data.scale_size`` - resize before cropping: ``[H, W]`` exact or an int short side (default:
  Something-Something ``[256, 320]``, Kinetics 256, or ``input_size`` when it is not 224);
* ``data.flip_pairs`` - left/right class pairs swapped by the training flip (default: SS's
  86/87, 93/94, 166/167 for Something-Something, none for Kinetics);
* ``data.window_wrap`` - the original decord behaviour on videos (windows at the start wrap to
  the end of the video); default off;
* ``data.video_backend`` - ``pyav`` (default) or ``decord`` / ``torchcodec`` when installed;
* ``solver.original_lr_stepping`` - the original's lr update at the first and every 10th
  iteration only (0 for the first 9); default off (per-iteration);
* ``solver.max_batches_per_epoch`` - cap batches per epoch (smoke runs).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from videokd.config import Config, ConfigError, load_config

__all__ = [
    "DEFAULTS",
    "load_run_config",
    "validate",
    "ConfigError",
    "clip_file_name",
    "clip_path",
    "data_root",
    "resolve",
    "check_label_list",
]

DEFAULTS: dict[str, Any] = {
    "resume": None,
    "pretrain": None,
    "seed": 1024,
    "data": {
        "dataset": "somethingv1",
        "modality": "RGB",
        "num_segments": 8,
        "seg_length": 1,
        "num_diff": 5,
        "batch_size": 16,
        "workers": 4,
        "num_classes": 174,
        "image_tmpl": "{:05d}.jpg",
        "train_root": None,
        "train_list": None,
        "val_root": None,
        "val_list": None,
        "label_list": None,
        "input_size": 224,
        "random_shift": True,
        "num_sample": 2,
        "rand_aug": True,
        "rand_erase": False,
        "dense": False,
        "shot": None,
        # new
        "scale_size": None,
        "flip_pairs": None,
        "window_wrap": False,
        "video_backend": "pyav",
    },
    "network": {
        "arch": "ViT-B/16",
        "init": True,
        "tm": False,
        "drop_out": 0.0,
        "emb_dropout": 0.0,
        "type": "clip_sth",
        "sim_header": "None",
        "joint_st": False,
        "drop_fc": 0.0,
        "n_emb": 320,
        "side_dim": 320,
        "fix_clip": False,
        "my_fix_clip": True,
        "sync_bn": False,
        # new
        "clip_path": None,
    },
    "solver": {
        "type": "cosine",
        "epochs": 30,
        "start_epoch": 0,
        "epoch_offset": 0,
        "optim": "adamw",
        "lr": 1.0e-3,
        "lr_warmup_step": 4,
        "weight_decay": 0.15,
        "betas": [0.9, 0.999],
        "loss_type": "CE",
        "evaluate": False,
        "clip_ratio": 1.0,
        "grad_accumulation_steps": 1,
        "mixup": None,
        "smoothing": 0.1,
        "layer_decay": 1.0,
        # new
        "original_lr_stepping": False,
        "max_batches_per_epoch": None,
    },
    "logging": {"print_freq": 10, "eval_freq": 1, "skip_epoch": []},
}

# original keys that the original code ignored, with the only values that describe what it does
_FIXED = {
    "data.seg_length": (1, "frames per segment beyond the 5-frame window are not supported (the original ignored it)"),
    "network.tm": (False, "the in-backbone temporal module is not part of TDS-CLIP"),
    "network.joint_st": (False, "joint space-time attention is not part of TDS-CLIP"),
    "network.fix_clip": (False, "the freezing rule is network.my_fix_clip"),
    "network.my_fix_clip": (True, "the CLIP trunk is always frozen (side-network training)"),
    "solver.optim": ("adamw", "the original always used AdamW"),
    "solver.type": ("cosine", "the original always used warm-up + cosine"),
    "solver.loss_type": ("CE", "the loss is label-smoothed cross-entropy (solver.smoothing)"),
    "solver.layer_decay": (1.0, "layer-wise lr decay is not implemented (the original ignored it)"),
    "solver.epoch_offset": (0, "the original ignored it"),
    "network.emb_dropout": (0.0, "embedding dropout is not implemented (0 in every TDS-CLIP config)"),
    "network.drop_out": (0.0, "backbone dropout is not implemented (0 in every TDS-CLIP config)"),
}


def _get(cfg: Config, dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def validate(cfg: Config) -> Config:
    """Reject combinations the code cannot run; returns ``cfg``."""
    for key, (value, why) in _FIXED.items():
        got = _get(cfg, key)
        if got != value and not (isinstance(value, float) and isinstance(got, (int, float)) and float(got) == value):
            raise ConfigError(f"{key}: {got!r} is not supported ({why}); use {value!r}")
    d, n, s = cfg.data, cfg.network, cfg.solver
    if d.num_diff != 5:
        raise ConfigError(f"data.num_diff: {d.num_diff}: the SME-Adapter takes exactly 5 frames per segment; use 5")
    if n.n_emb != n.side_dim:
        raise ConfigError(
            f"network.n_emb ({n.n_emb}) must equal network.side_dim ({n.side_dim}): fc reads the side features"
        )
    if n.sim_header not in ("None", None):
        raise ConfigError(f"network.sim_header: {n.sim_header!r}: only 'None' (no temporal head) is implemented")
    if s.mixup:
        raise ConfigError(
            "solver.mixup cannot be combined with TDS-CLIP's 5-frame windows and repeated augmentation "
            "(the original mixed the wrong axis and misaligned the labels); remove solver.mixup"
        )
    if d.shot:
        raise ConfigError("data.shot (few-shot subsets) is not implemented; remove it")
    if d.modality not in ("RGB", "video"):
        raise ConfigError(f"data.modality: {d.modality!r}; use 'RGB' (frame folders) or 'video'")
    if d.video_backend not in ("pyav", "decord", "torchcodec"):
        raise ConfigError(f"data.video_backend: {d.video_backend!r}; use pyav, decord or torchcodec")
    if d.num_sample < 1 or d.batch_size < 1 or s.grad_accumulation_steps < 1:
        raise ConfigError("data.num_sample, data.batch_size and solver.grad_accumulation_steps must be >= 1")
    if s.epochs <= s.lr_warmup_step:
        raise ConfigError(f"solver.epochs ({s.epochs}) must exceed solver.lr_warmup_step ({s.lr_warmup_step})")
    if d.flip_pairs is not None:
        bad = [p for p in d.flip_pairs if len(p) != 2 or not all(0 <= int(c) < d.num_classes for c in p)]
        if bad:
            raise ConfigError(f"data.flip_pairs: {bad} are not pairs of class ids < data.num_classes ({d.num_classes})")
    return cfg


def resolve(path: Optional[str], data_root: Path) -> Optional[Path]:
    """A config path: absolute as given, relative to the data root otherwise."""
    if path in (None, ""):
        return None
    p = Path(os.path.expanduser(str(path)))
    return p if p.is_absolute() else data_root / p


def clip_file_name(arch: str) -> str:
    """``ViT-B/16`` -> ``ViT-B-16.pt`` (OpenAI's file names)."""
    return arch.replace("/", "-") + ".pt"


def check_label_list(cfg: Config, data_root: Path) -> Optional[list[str]]:
    """The class names of ``data.label_list`` (``id,name`` CSV), checked against ``data.num_classes``.

    The original K400 configs point at the Something-Something label file; with 174 rows against
    400 classes that is an error here, not a silent mismatch.
    """
    path = resolve(cfg.data.label_list, data_root)
    if path is None:
        return None
    if not path.is_file():
        raise ConfigError(f"data.label_list: {path} not found (an 'id,name' CSV of the class names; or set it to null)")
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r]
    names = [r[1] if len(r) > 1 else r[0] for r in rows[1:]]  # header "id,name"
    if len(names) != cfg.data.num_classes:
        raise ConfigError(
            f"data.label_list: {path} has {len(names)} classes but data.num_classes is {cfg.data.num_classes} "
            "(the original K400 configs pointed at the Something-Something label file)"
        )
    return names


def data_root(arg: Optional[str] = None) -> Path:
    """``arg``, else ``$VIDEOKD_DATA``, else ``./data`` (absolute)."""
    return Path(arg or os.environ.get("VIDEOKD_DATA") or "data").expanduser().resolve()


def clip_path(cfg: Config, root: Path) -> Path:
    """``network.clip_path`` (relative to the data root), default ``<root>/clip_pretrain/<arch>.pt``."""
    given = resolve(cfg.network.clip_path, root)
    return given if given is not None else root / "clip_pretrain" / clip_file_name(cfg.network.arch)


def load_run_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> Config:
    """DEFAULTS <- YAML file <- overrides, then :func:`validate`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    return validate(load_config(path, defaults=DEFAULTS, overrides=list(overrides)))
