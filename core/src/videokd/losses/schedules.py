"""Loss-weight schedules over epochs (named, paper-independent).

All functions take a 0-based epoch ``e`` and return a Python float (float64 math), so they can be
called once at the start of each epoch like the originals. LR / optimizer schedules live in
``videokd.engine``; these are only loss-weight schedules. A paper package maps its own option
values (integer codes, flag strings) onto these names.

:func:`weight_schedule` ``(name, e)``:

======================  ==================================================
``constant``            1
``exp_decay``           k^e, k = ``exponential_k``
``linear_decay``        max(linear_k * e + linear_b, ``linear_floor``)
``sigmoid_decay``       s / (s + exp(100 e / s)), s = ``sigmoid_k``
``exp_rise``            1 - exp_decay (likewise ``linear_rise``, ``sigmoid_rise``)
``exp_growth_capped``   min(growth_start * growth_rate^e, growth_cap)
``exp_saturating``      clamp(saturating_scale * (1 - k^e), saturating_min, saturating_max)
======================  ==================================================

:func:`ratio_schedule` moves a ratio from a start value towards a floor (exp/linear/sigmoid/cosine,
or ``None``/"None" for constant).
"""

from __future__ import annotations

import math
from typing import Optional

__all__ = ["weight_schedule", "ratio_schedule", "WEIGHT_SCHEDULES", "RATIO_SCHEDULES"]

WEIGHT_SCHEDULES = (
    "constant",
    "exp_decay",
    "linear_decay",
    "sigmoid_decay",
    "exp_rise",
    "linear_rise",
    "sigmoid_rise",
    "exp_growth_capped",
    "exp_saturating",
)
RATIO_SCHEDULES = ("exp", "linear", "sigmoid", "cosine", "None")


def _sigmoid_decay(e: float, s: float) -> float:
    return s / (s + math.exp(100.0 * e / s))


def weight_schedule(
    name: str,
    epoch: int,
    *,
    exponential_k: float = 0.95,
    linear_k: float = -0.01,
    linear_b: float = 1.0,
    linear_floor: float = 0.05,
    sigmoid_k: float = 800.0,
    growth_start: float = 0.001,
    growth_rate: float = 1.05,
    growth_cap: float = 0.1,
    saturating_scale: float = 0.1,
    saturating_min: float = 0.001,
    saturating_max: float = 0.1,
) -> float:
    """The weight w(e) of schedule ``name`` at 0-based ``epoch`` (see the module table)."""
    e = float(epoch)
    if name == "constant":
        return 1.0
    if name == "exp_decay":
        return exponential_k**e
    if name == "linear_decay":
        return max(linear_k * e + linear_b, linear_floor)
    if name == "sigmoid_decay":
        return _sigmoid_decay(e, sigmoid_k)
    if name in ("exp_rise", "linear_rise", "sigmoid_rise"):
        decay = name.replace("_rise", "_decay")
        return 1.0 - weight_schedule(
            decay,
            epoch,
            exponential_k=exponential_k,
            linear_k=linear_k,
            linear_b=linear_b,
            linear_floor=linear_floor,
            sigmoid_k=sigmoid_k,
        )
    if name == "exp_growth_capped":
        return min(growth_start * growth_rate**e, growth_cap)
    if name == "exp_saturating":
        return min(max(saturating_scale * (1.0 - exponential_k**e), saturating_min), saturating_max)
    raise ValueError(f"unknown weight schedule {name!r}; one of {', '.join(WEIGHT_SCHEDULES)}")


def ratio_schedule(
    decay: Optional[str],
    epoch: int,
    *,
    start: float,
    n_epoch: int,
    floor: float = 0.0,
    exponential_k: float = 0.95,
    sigmoid_k: float = 800.0,
) -> float:
    """A ratio moving from ``start`` (a0) towards ``floor`` f, clamped below at f.

    ``exp`` a0 k^e; ``linear`` a0 + (f - a0)/n_epoch * e; ``sigmoid`` a0 s/(s + exp(100 e/s));
    ``cosine`` f + (a0 - f)(1 + cos(pi e / n_epoch))/2; ``None`` (or "None") a0.
    """
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
        raise ValueError(f"ratio decay must be one of {', '.join(RATIO_SCHEDULES)}; got {decay!r}")
    return max(value, floor)
