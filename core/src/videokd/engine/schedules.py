"""Learning-rate and parameter schedules, as pure functions of the step or the (fractional) epoch.

Pure functions make resume exact for free: the value at global step ``g`` never depends on how
often something was stepped before. The curves the papers use (each pinned by parity fixtures):

==========================  ==============================================================
paper                       curve
==========================  ==============================================================
DL-DKD                      :func:`warmup_linear` - BertAdam's multiplier over
                            ``t_total`` optimizer steps (inside :class:`~.optim.BertAdam`)
KICLIP                      :func:`warmup_cosine` on the fractional epoch, warm-up from
                            ``WARMUP_START_LR``; ``cosine_after_warmup`` True/False
TDS-CLIP                    :func:`warmup_cosine` (start 0, final 0) as a factor on each
                            group's base lr; upstream only re-evaluates it at the first and
                            every 10th iteration: :func:`held_every` reproduces that
XKD (DINO style)            :func:`cosine_schedule` arrays per iteration for lr, weight
                            decay (group 1) and EMA momentum; :func:`teacher_temp_schedule`
                            per epoch
kd2d3d                      :class:`PlateauScheduler` (torch ``ReduceLROnPlateau`` on the
                            validation loss, once per epoch)
==========================  ==============================================================

:class:`ParamScheduler` applies any of these to an optimizer: before optimizer step ``g`` it sets
``group[key]`` for the chosen groups, either as ``value`` (absolute, times the group's
``<key>_mult`` if present) or as ``value * initial group value`` (a factor). Its state is a couple
of plain numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Callable, Optional, Union

import numpy as np
import torch

__all__ = [
    "warmup_linear",
    "warmup_cosine",
    "step_decay",
    "held_every",
    "cosine_schedule",
    "teacher_temp_schedule",
    "ParamScheduler",
    "PlateauScheduler",
]


def warmup_linear(progress: float, warmup: float = 0.002) -> float:
    """BERT's ``warmup_linear`` multiplier at ``progress = step / t_total``.

    ``progress / warmup`` while ``progress < warmup``, else ``max((progress - 1) / (warmup - 1), 0)``:
    a linear rise to 1, then a linear fall to 0 at ``t_total`` (0 afterwards).
    """
    if progress < warmup:
        return progress / warmup
    return max((progress - 1.0) / (warmup - 1.0), 0.0)


def warmup_cosine(
    t: float,
    *,
    base: float,
    total: float,
    warmup: float = 0.0,
    final: float = 0.0,
    warmup_start: float = 0.0,
    cosine_after_warmup: bool = True,
) -> float:
    """Linear warm-up then half-cosine decay, at time ``t`` (epochs or steps, any unit).

    * ``t < warmup``: linear from ``warmup_start`` (at 0) to the cosine value at ``warmup``.
    * otherwise ``final + (base - final) * (1 + cos(pi * min(1, (t - o) / (total - o)))) / 2`` with
      ``o = warmup`` when ``cosine_after_warmup`` (the decay starts at the end of warm-up) and
      ``o = 0`` otherwise (the cosine runs over the whole schedule). Past ``total`` it stays at
      ``final``.

    KICLIP: ``base=BASE_LR, final=COSINE_END_LR, warmup=WARMUP_EPOCHS, warmup_start=WARMUP_START_LR,
    total=MAX_EPOCH`` on ``epoch + it / iters_per_epoch``. TDS-CLIP: ``base=1, final=0,
    warmup_start=0`` as a factor on each group's lr.
    """
    offset = warmup if cosine_after_warmup else 0.0
    span = total - offset
    if span <= 0:
        raise ValueError(f"warmup_cosine: total ({total}) must exceed the cosine offset ({offset})")

    def cosine(x: float) -> float:
        frac = min(1.0, max(0.0, (x - offset) / span))
        return final + (base - final) * (math.cos(math.pi * frac) + 1.0) * 0.5

    if t < warmup:
        slope = (cosine(warmup) - warmup_start) / warmup
        return t * slope + warmup_start
    return cosine(t)


def step_decay(t: float, *, base: float, milestones: Sequence[float], gamma: float = 0.1) -> float:
    """``base * gamma ** (number of milestones <= t)`` (a MultiStep schedule)."""
    return base * gamma ** sum(1 for m in milestones if t >= m)


def held_every(fn: Callable[[float], float], *, iters_per_epoch: int, every: int = 10) -> Callable[[int], float]:
    """A per-iteration schedule that, like TDS-CLIP's loop, only re-evaluates ``fn`` (a function of the
    fractional epoch) at the first iteration of each epoch and at every iteration ``i`` with
    ``(i + 1) % every == 0``, holding the value in between.

    Returns ``g -> fn(e)`` where ``g`` is the global iteration and ``e = epoch + i' / iters_per_epoch``
    for the last re-evaluation ``i' <= i`` of that epoch.
    """
    if iters_per_epoch < 1 or every < 1:
        raise ValueError(f"iters_per_epoch ({iters_per_epoch}) and every ({every}) must be >= 1")

    def value(step: int) -> float:
        epoch, i = divmod(int(step), iters_per_epoch)
        last = ((i + 1) // every) * every - 1 if i + 1 >= every else 0
        return fn(epoch + last / iters_per_epoch)

    return value


def cosine_schedule(
    base_value: float,
    final_value: float,
    epochs: int,
    niter_per_ep: int,
    warmup_epochs: int = 0,
    start_warmup_value: float = 0.0,
) -> torch.Tensor:
    """DINO/XKD ``cosine_scheduler``: one float64 value per iteration, ``(epochs * niter_per_ep,)``.

    The first ``W = warmup_epochs * niter_per_ep`` values are ``linspace(start_warmup_value,
    base_value, W)`` (both ends included); then ``final + (base - final)(1 + cos(pi i / (N - W))) / 2``
    for ``i = 0 .. N - W - 1``: the cosine restarts at ``base_value`` after the warm-up.
    """
    total = int(epochs) * int(niter_per_ep)
    warm = int(warmup_epochs) * int(niter_per_ep)
    if warm > total:
        raise ValueError(f"cosine_schedule: {warmup_epochs} warm-up epochs exceed {epochs} epochs")
    warmup = np.linspace(start_warmup_value, base_value, warm) if warm > 0 else np.zeros(0)
    iters = np.arange(total - warm)
    cos = final_value + 0.5 * (base_value - final_value) * (1 + np.cos(np.pi * iters / max(len(iters), 1)))
    return torch.from_numpy(np.concatenate([warmup, cos]).astype(np.float64))


def teacher_temp_schedule(
    warmup_teacher_temp: float, teacher_temp: float, warmup_epochs: int, epochs: int
) -> torch.Tensor:
    """DINO teacher temperature per **epoch**: ``linspace(warmup, final, warmup_epochs)`` then constant,
    ``(epochs,)`` float64."""
    if warmup_epochs > epochs:
        raise ValueError(f"teacher_temp_schedule: {warmup_epochs} warm-up epochs exceed {epochs} epochs")
    return torch.from_numpy(
        np.concatenate(
            [
                np.linspace(warmup_teacher_temp, teacher_temp, warmup_epochs),
                np.ones(epochs - warmup_epochs) * teacher_temp,
            ]
        )
    ).to(torch.float64)


ScheduleLike = Union[Callable[[int], float], Sequence[float], torch.Tensor, np.ndarray]


class ParamScheduler:
    """Set an optimizer hyper-parameter from a schedule before each optimizer step.

    Args:
        optimizer: the optimizer whose groups are updated.
        schedule: ``step -> value`` or a per-step array (steps past its end keep the last value).
        key: the group entry to set (``"lr"``, ``"weight_decay"``, ...).
        mode: ``"absolute"``: ``group[key] = value * group.get(key + "_mult", 1)``;
            ``"factor"``: ``group[key] = value * <group's value at construction>`` (per-group base lrs,
            e.g. TDS-CLIP's three groups).
        groups: indices of the groups to touch (default all), e.g. ``[1]`` for XKD's weight decay.

    The loop calls :meth:`step` with the global optimizer-step index (0 for the first step).
    """

    interval = "step"

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: ScheduleLike,
        *,
        key: str = "lr",
        mode: str = "absolute",
        groups: Optional[Sequence[int]] = None,
    ) -> None:
        if mode not in ("absolute", "factor"):
            raise ValueError(f"mode must be 'absolute' or 'factor', got {mode!r}")
        n = len(optimizer.param_groups)
        self.groups = list(range(n)) if groups is None else [int(g) for g in groups]
        bad = [g for g in self.groups if not 0 <= g < n]
        if bad:
            raise ValueError(f"ParamScheduler: group indices {bad} out of range for {n} param groups")
        for g in self.groups:
            if key not in optimizer.param_groups[g]:
                raise KeyError(
                    f"ParamScheduler: param group {g} has no {key!r} entry; keys: {sorted(optimizer.param_groups[g])}"
                )
        self.optimizer, self.key, self.mode = optimizer, key, mode
        if callable(schedule):
            self._fn: Callable[[int], float] = schedule
        else:
            values = torch.as_tensor(np.asarray(schedule, dtype=np.float64)).tolist()
            if not values:
                raise ValueError("ParamScheduler: empty schedule array")
            self._fn = lambda step: values[min(step, len(values) - 1)]
        self.base = [float(optimizer.param_groups[g][key]) for g in self.groups]
        self.last_step = -1

    def value(self, step: int) -> float:
        return float(self._fn(int(step)))

    def step(self, step: int) -> float:
        """Apply the schedule value of global step ``step``; returns it."""
        v = self.value(step)
        for g, base in zip(self.groups, self.base):
            group = self.optimizer.param_groups[g]
            group[self.key] = v * base if self.mode == "factor" else v * group.get(f"{self.key}_mult", 1.0)
        self.last_step = int(step)
        return v

    def state_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "mode": self.mode,
            "groups": list(self.groups),
            "base": list(self.base),
            "last_step": self.last_step,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("key") != self.key or list(state.get("groups", [])) != self.groups:
            raise ValueError(
                f"ParamScheduler state for key {state.get('key')!r} groups {state.get('groups')} "
                f"does not fit key {self.key!r} groups {self.groups}"
            )
        self.base = [float(b) for b in state["base"]]
        self.last_step = int(state["last_step"])
        if self.last_step >= 0:
            self.step(self.last_step)


class PlateauScheduler:
    """``ReduceLROnPlateau`` driven by a named epoch metric (kd2d3d: the validation loss).

    Stepped once per epoch by the loop with the metrics dict of that epoch; all torch arguments
    pass through (``mode``, ``factor``, ``patience``, ``threshold``, ``threshold_mode``,
    ``cooldown``, ``min_lr``, ``eps``).
    """

    interval = "epoch"

    def __init__(self, optimizer: torch.optim.Optimizer, *, monitor: str = "val/loss", **kwargs: Any) -> None:
        self.monitor = monitor
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **kwargs)

    def step_metric(self, value: float) -> None:
        self.scheduler.step(float(value))

    def step_epoch(self, metrics: dict[str, float]) -> None:
        if self.monitor not in metrics:
            raise KeyError(f"PlateauScheduler monitors {self.monitor!r} but the epoch metrics are {sorted(metrics)}")
        self.step_metric(metrics[self.monitor])

    @property
    def num_bad_epochs(self) -> int:
        return int(self.scheduler.num_bad_epochs)

    @property
    def best(self) -> float:
        return float(self.scheduler.best)

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state)
