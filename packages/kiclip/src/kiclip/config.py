"""KICLIP's config: the original SlowFast key names, validated (unknown keys name the nearest valid key).

``--cfg FILE [FILE ...] --opts KEY VALUE ...`` as the original scripts pass them: the defaults below
(the KICLIP yaml values), updated from each yaml file, then from the ``KEY VALUE`` pairs. Only keys the
re-implementation reads are live; the "accepted, ignored" ones are kept so the original command lines
run (they are listed in :data:`IGNORED_KEYS` and in the README).

New keys (hard-coded upstream): ``KICLIP.*`` (injection on/off, mix 0.5, head residual 0.1, aux CE
weight 0, aux head, share the frozen blocks with the teacher), ``MODEL.CLIP_PATH`` (the OpenAI CLIP
file), ``TRAIN.PRECISION`` (``auto``: bf16 autocast on a GPU when ``TRAIN.MIXED_PRECISION`` is set,
else fp32; ``fp32`` restores upstream's effective behaviour), ``TRAIN.MAX_BATCHES`` (smoke runs),
``TRAIN.MAX_STEPS`` (stop after N optimizer steps with the schedule unchanged; running the same command
again resumes), ``KICLIP.AUX_INIT`` (a local file with the ImageNet ViT-B/16 head for the aux classifier),
``TEST.DROP_LAST`` (upstream's dropped test clips, for comparisons), and ``TEST.{BASE,NOVEL}_FILE`` /
``TEST.{BASE,NOVEL}_LABEL_FILE`` (both B2N parts in one run, printed with their harmonic mean).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from videokd.config import Config, ConfigError, apply_overrides, load_yaml, merge_config

__all__ = ["DEFAULTS", "IGNORED_KEYS", "build_config", "check_config"]

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

DEFAULTS: dict = {
    "TRAIN": {
        "ENABLE": True,
        "DATASET": "kinetics",
        "BATCH_SIZE": 64,
        "MIXED_PRECISION": False,
        "PRECISION": "auto",
        "MAX_BATCHES": None,
        "MAX_STEPS": None,
        "CHECKPOINT_PERIOD": 1,
        "EVAL_PERIOD": 1,
        "AUTO_RESUME": True,
        "CLIP_ORI_PATH": "",
        "LINEAR_CONNECT_CLIMB": False,
        "LINEAR_CONNECT_LOSS_RATIO": 0.0,
    },
    "TEST": {
        "ENABLE": False,
        "DATASET": "kinetics",
        "BATCH_SIZE": 64,
        "NUM_ENSEMBLE_VIEWS": 3,
        "NUM_SPATIAL_CROPS": 1,
        "CUSTOM_LOAD": False,
        "CUSTOM_LOAD_FILE": "",
        "SAVE_RESULTS_PATH": "",
        "PATCHING_MODEL": False,
        "CLIP_ORI_PATH": "",
        "OPENSET": False,
        "DROP_LAST": False,
        "BASE_FILE": "",
        "BASE_LABEL_FILE": "",
        "NOVEL_FILE": "",
        "NOVEL_LABEL_FILE": "",
    },
    "DATA": {
        "PATH_TO_DATA_DIR": "",
        "PATH_PREFIX": "",
        "PATH_LABEL_SEPARATOR": ",",
        "INDEX_LABEL_MAPPING_FILE": "",
        "DECODING_BACKEND": "pyav",
        "NUM_FRAMES": 8,
        "SAMPLING_RATE": 16,
        "TARGET_FPS": 30,
        "USE_OFFSET_SAMPLING": True,
        "TRAIN_JITTER_SCALES": [224, 256],
        "TRAIN_CROP_SIZE": 224,
        "TEST_CROP_SIZE": 224,
        "MEAN": CLIP_MEAN,
        "STD": CLIP_STD,
        "RANDOM_FLIP": True,
        "ENSEMBLE_METHOD": "sum",
        "MULTI_LABEL": False,
        "INPUT_CHANNEL_NUM": [3],
    },
    "TRAIN_FILE": "train.csv",
    "VAL_FILE": "val.csv",
    "TEST_FILE": "test.csv",
    "SOLVER": {
        "BASE_LR": 3.33e-6,
        "WARMUP_START_LR": 1e-7,
        "COSINE_END_LR": 1e-7,
        "WARMUP_EPOCHS": 2.0,
        "COSINE_AFTER_WARMUP": True,
        "LR_POLICY": "cosine",
        "MAX_EPOCH": 22,
        "WEIGHT_DECAY": 0.01,
        "ZERO_WD_1D_PARAM": True,
        "CLIP_GRAD_L2NORM": 1.0,
        "BETAS": [0.9, 0.999],
        "OPTIMIZING_METHOD": "adamw",
        "MOMENTUM": 0.9,
    },
    "MODEL": {
        "MODEL_NAME": "KICLIP",
        "ARCH": "vitb16",
        "NUM_CLASSES": 400,
        "LOSS_FUNC": "soft_cross_entropy",
        "TEMPORAL_MODELING_TYPE": "expand_temporal_view",
        "KEEP_RAW_MODEL": False,
        "RAW_MODEL_DISTILLATION": False,
        "DISTILLATION_RATIO": 2.0,
        "CONTEXT_LENGTH": 77,
        "USE_CHECKPOINT": False,
        "DROPOUT_RATE": 0.0,
        "CLIP_PATH": "",
    },
    "KICLIP": {
        "INJECTION": True,
        "INJECTION_MIX": 0.5,
        "DISTILL_ALPHA": 0.1,
        "AUX_HEAD": False,
        "AUX_CE_WEIGHT": 0.0,
        "AUX_INIT": "",
        "SHARE_FROZEN": True,
    },
    "MIXUP": {"ENABLE": False},
    "AUG": {"ENABLE": False, "NUM_SAMPLE": 1},
    "DATA_LOADER": {"NUM_WORKERS": 8, "PIN_MEMORY": True},
    "NUM_GPUS": 1,
    "NUM_SHARDS": 1,
    "SHARD_ID": 0,
    "RNG_SEED": 42,
    "LOG_PERIOD": 10,
    "OUTPUT_DIR": "./basetraining/KICLIP",
}

#: accepted for the original command lines, read by nothing (see the README)
IGNORED_KEYS = (
    "TRAIN.CHECKPOINT_PERIOD",
    "TRAIN.EVAL_PERIOD",
    "TRAIN.CLIP_ORI_PATH",
    "TRAIN.LINEAR_CONNECT_CLIMB",
    "TRAIN.LINEAR_CONNECT_LOSS_RATIO",
    "TEST.PATCHING_MODEL",
    "TEST.CLIP_ORI_PATH",
    "TEST.SAVE_RESULTS_PATH",
    "TEST.OPENSET",
    "VAL_FILE",
    "NUM_GPUS",
    "NUM_SHARDS",
    "SHARD_ID",
    "SOLVER.OPTIMIZING_METHOD",
    "SOLVER.MOMENTUM",
    "MODEL.DROPOUT_RATE",
    "MODEL.ARCH",
    "DATA.DECODING_BACKEND",
    "DATA.INPUT_CHANNEL_NUM",
)


def build_config(cfg_files: Sequence[str | os.PathLike] = (), opts: Sequence[str] = ()) -> Config:
    """Defaults, then each yaml file, then the ``KEY VALUE`` overrides; checked by :func:`check_config`."""
    cfg = Config(DEFAULTS)
    cfg = Config(cfg.to_dict())  # a private deep copy
    for path in cfg_files:
        try:
            merge_config(cfg, load_yaml(path))
        except ConfigError as err:
            raise ConfigError(f"{os.fspath(path)}: {err}") from None
    if opts:
        apply_overrides(cfg, list(opts))
    check_config(cfg)
    return cfg


def check_config(cfg: Config) -> None:
    """Reject values this implementation does not support (instead of silently ignoring them)."""
    if cfg.MODEL.MODEL_NAME != "KICLIP":
        raise ConfigError(f"MODEL.MODEL_NAME {cfg.MODEL.MODEL_NAME!r}: only 'KICLIP' is implemented")
    if cfg.MODEL.TEMPORAL_MODELING_TYPE != "expand_temporal_view":
        raise ConfigError(
            f"MODEL.TEMPORAL_MODELING_TYPE {cfg.MODEL.TEMPORAL_MODELING_TYPE!r}: only 'expand_temporal_view' is implemented"
        )
    if cfg.MODEL.LOSS_FUNC not in ("soft_cross_entropy", "cross_entropy"):
        raise ConfigError(f"MODEL.LOSS_FUNC {cfg.MODEL.LOSS_FUNC!r}: use soft_cross_entropy (= cross_entropy here)")
    if isinstance(cfg.AUG.NUM_SAMPLE, bool) or not isinstance(cfg.AUG.NUM_SAMPLE, int) or cfg.AUG.NUM_SAMPLE < 1:
        raise ConfigError(
            f"AUG.NUM_SAMPLE {cfg.AUG.NUM_SAMPLE!r}: the number of augmented copies of each training video, "
            "an integer >= 1 (the KICLIP scripts pass 1)"
        )
    if cfg.TRAIN.MAX_STEPS is not None and (
        isinstance(cfg.TRAIN.MAX_STEPS, bool) or not isinstance(cfg.TRAIN.MAX_STEPS, int) or cfg.TRAIN.MAX_STEPS < 1
    ):
        raise ConfigError(f"TRAIN.MAX_STEPS {cfg.TRAIN.MAX_STEPS!r}: an integer >= 1, or None for no limit")
    if cfg.KICLIP.AUX_INIT and not cfg.KICLIP.AUX_HEAD:
        raise ConfigError("KICLIP.AUX_INIT initialises the aux classifier: it needs KICLIP.AUX_HEAD True")
    if cfg.MIXUP.ENABLE or cfg.AUG.ENABLE:
        raise ConfigError("MIXUP.ENABLE / AUG.ENABLE: the KICLIP scripts use neither and they are not implemented")
    if cfg.SOLVER.LR_POLICY != "cosine":
        raise ConfigError(f"SOLVER.LR_POLICY {cfg.SOLVER.LR_POLICY!r}: only 'cosine' is implemented")
    if cfg.DATA.ENSEMBLE_METHOD not in ("sum", "max"):
        raise ConfigError(f"DATA.ENSEMBLE_METHOD {cfg.DATA.ENSEMBLE_METHOD!r}: use 'sum' or 'max'")
    if cfg.TRAIN.PRECISION not in ("auto", "fp32", "bf16", "fp16"):
        raise ConfigError(f"TRAIN.PRECISION {cfg.TRAIN.PRECISION!r}: use auto, fp32, bf16 or fp16")
    if cfg.TEST.NUM_SPATIAL_CROPS != 1:
        raise ConfigError("TEST.NUM_SPATIAL_CROPS: only 1 (a centre crop, as the KICLIP scripts) is implemented")
