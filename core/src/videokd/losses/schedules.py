"""Dynamic distillation-weight schedules (per epoch), as the papers' training loops set them.

All functions take a 0-based epoch ``e`` and return a Python float (float64 math), so they can be
called once at the start of each epoch like the originals. LR / optimizer schedules live in
``videokd.engine``; these are only loss-weight schedules.

DL-DKD (ICCV, ``--decay_way``), w(e):

=====  ==================================================
0      1
1      k^e, k = ``exponential_k`` (0.95 in the scripts)
2      max(linear_k * e + linear_b, 0.05)
3      s / (s + exp(100 e / s)), s = ``sigmoid_k``
4-6    1 - (the value for 1, 2, 3)
7      min(0.001 * 1.05^e, 0.1)
8      clamp(0.1 * (1 - k^e), 0.001, 0.1)
=====  ==================================================

and the KD coefficient is ``loss_scale_weight * w(e)`` plus ``loss_init_weight`` for 4-6 only.
With the shipped scripts (decay_way 1, scale 0.1) that is 0.1 * 0.95^e.

DL-DKD++ (``--distill_loss_decay`` exp/linear/sigmoid/None) reuses ways 1/2/3/0, and its
soft-NCE ``alpha`` / ``belta`` ratios decay from a start value to a floor
(exp/linear/sigmoid/cosine/None), see :func:`ratio_schedule`.
"""

from __future__ import annotations

import math
from typing import Optional, Union

__all__ = [
    "kd_weight_schedule",
    "kd_coefficient",
    "distill_weight_schedule",
    "ratio_schedule",
    "DECAY_WAYS",
]

DECAY_WAYS = tuple(range(9))

_PP_DISTILL = {"exp": 1, "linear": 2, "sigmoid": 3, "None": 0, None: 0}


def _sigmoid_decay(e: float, s: float) -> float:
    return s / (s + math.exp(100.0 * e / s))


def kd_weight_schedule(
    decay_way: int,
    epoch: int,
    *,
    exponential_k: float = 0.95,
    linear_k: float = -0.01,
    linear_b: float = 1.0,
    sigmoid_k: float = 800.0,
) -> float:
    """DL-DKD KD weight w(e) for ``decay_way`` 0..8 at 0-based ``epoch`` (see the module table)."""
    e = float(epoch)
    if decay_way == 0:
        return 1.0
    if decay_way == 1:
        return exponential_k**e
    if decay_way == 2:
        return max(linear_k * e + linear_b, 0.05)
    if decay_way == 3:
        return _sigmoid_decay(e, sigmoid_k)
    if decay_way in (4, 5, 6):
        return 1.0 - kd_weight_schedule(
            decay_way - 3, epoch, exponential_k=exponential_k, linear_k=linear_k, linear_b=linear_b, sigmoid_k=sigmoid_k
        )
    if decay_way == 7:
        return min(0.001 * 1.05**e, 0.1)
    if decay_way == 8:
        return min(max(0.1 * (1.0 - exponential_k**e), 0.001), 0.1)
    raise ValueError(f"decay_way must be one of {DECAY_WAYS}, got {decay_way!r}")


def kd_coefficient(decay_way: int, weight: float, *, loss_scale_weight: float, loss_init_weight: float = 0.0) -> float:
    """DL-DKD KD-loss coefficient: ``loss_scale_weight * w`` (+ ``loss_init_weight`` when 3 < decay_way < 7)."""
    coef = loss_scale_weight * weight
    if 3 < decay_way < 7:
        coef += loss_init_weight
    return coef


def distill_weight_schedule(
    decay: Optional[str],
    epoch: int,
    *,
    exponential_k: float = 0.95,
    linear_k: float = -0.01,
    linear_b: float = 1.0,
    sigmoid_k: float = 800.0,
) -> float:
    """DL-DKD++ ``--distill_loss_decay`` weight: ``exp`` k^e, ``linear`` max(k e + b, 0.05),
    ``sigmoid`` s/(s + exp(100 e/s)), ``None``/"None" 1."""
    if decay not in _PP_DISTILL:
        raise ValueError(f"distill_loss_decay must be one of exp, linear, sigmoid, None; got {decay!r}")
    return kd_weight_schedule(
        _PP_DISTILL[decay],
        epoch,
        exponential_k=exponential_k,
        linear_k=linear_k,
        linear_b=linear_b,
        sigmoid_k=sigmoid_k,
    )


def ratio_schedule(
    decay: Optional[str],
    epoch: int,
    *,
    start: float,
    n_epoch: int,
    floor: Union[float, None] = None,
    exponential_k: float = 0.95,
    sigmoid_k: float = 800.0,
) -> float:
    """DL-DKD++ ``alpha`` / ``belta`` schedule (``--alpha_decay`` / ``--belta_decay``).

    From ``start`` (a0) towards ``floor`` f, clamped below at f:
    ``exp`` a0 k^e; ``linear`` a0 + (f - a0)/n_epoch * e; ``sigmoid`` a0 s/(s + exp(100 e/s)) with
    s = ``selfDistil_sigmoid_k``; ``cosine`` f + (a0 - f)(1 + cos(pi e / n_epoch))/2; ``None`` a0.
    ``floor`` defaults to the original's rule: 0.5 when ``start >= 0.5`` else 0 (that is belta's
    rule; alpha always uses floor 0, so pass ``floor=0.0`` for alpha).
    """
    if floor is None:
        floor = 0.5 if start >= 0.5 else 0.0
    e = float(epoch)
    if decay in (None, "None"):
        value = start
    elif decay == "exp":
        value = start * exponential_k**e
    elif decay == "linear":
        value = start + (floor - start) / n_epoch * e
    elif decay == "sigmoid":
        value = start * _sigmoid_decay(e, sigmoid_k)
    elif decay == "cosine":
        value = floor + 0.5 * (start - floor) * (1.0 + math.cos(math.pi * e / n_epoch))
    else:
        raise ValueError(f"ratio decay must be one of exp, linear, sigmoid, cosine, None; got {decay!r}")
    return max(value, floor)
