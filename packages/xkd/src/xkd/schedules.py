"""Per-iteration and per-epoch schedules of XKD pre-training (the yaml's ``hyperparams`` / ``*_temp_kwargs``).

lr, weight decay and both EMA momenta are DINO ``cosine_scheduler`` arrays indexed by the global
step (so a resumed run with the same epoch length continues them exactly); teacher temperatures are
per epoch (linear warm-up, then constant); student temperatures are constant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from videokd.engine.schedules import cosine_schedule, teacher_temp_schedule

__all__ = ["cosine_from_cfg", "step_schedules", "temperature_schedules"]


def cosine_from_cfg(cfg: Mapping[str, Any], epochs: int, niter_per_ep: int) -> torch.Tensor:
    """``{name: cosine, base_lr|base, final_lr|final, warmup_epochs, warmup_lr|warmup}`` -> ``(epochs*niter,)``."""
    name = cfg.get("name", "cosine")
    if name not in ("cosine", "fixed"):
        raise ValueError(f"schedule name must be 'cosine' or 'fixed', got {name!r}")
    base = float(cfg.get("base_lr", cfg.get("base", 0.0)))
    if name == "fixed":
        return torch.full((epochs * niter_per_ep,), base, dtype=torch.float64)
    return cosine_schedule(
        base,
        float(cfg.get("final_lr", cfg.get("final", base))),
        epochs,
        niter_per_ep,
        int(cfg.get("warmup_epochs", 0)),
        float(cfg.get("warmup_lr", cfg.get("warmup", 0.0))),
    )


def step_schedules(hyperparams: Mapping[str, Any], niter_per_ep: int) -> dict[str, torch.Tensor]:
    """``lr``, ``weight_decay``, ``vid_ema``, ``aud_ema``: one float64 value per iteration."""
    epochs = int(hyperparams["num_epochs"])
    return {
        key: cosine_from_cfg(hyperparams[key], epochs, niter_per_ep)
        for key in ("lr", "weight_decay", "vid_ema", "aud_ema")
    }


def temperature_schedules(model_cfg: Mapping[str, Any], num_epochs: int) -> dict[str, dict[str, torch.Tensor]]:
    """``{"teacher": {"video": (E,), "audio": (E,)}, "student": {...}}`` from ``model.{video,audio}_temp_kwargs``."""
    out: dict[str, dict[str, torch.Tensor]] = {"teacher": {}, "student": {}}
    for modality in ("video", "audio"):
        kw = model_cfg[f"{modality}_temp_kwargs"]
        out["teacher"][modality] = teacher_temp_schedule(
            float(kw["warmup_teacher_temp"]),
            float(kw["teacher_temp"]),
            int(kw["warmup_teacher_temp_epochs"]),
            int(num_epochs),
        )
        out["student"][modality] = torch.full((int(num_epochs),), float(kw["student_temp"]), dtype=torch.float64)
    return out
