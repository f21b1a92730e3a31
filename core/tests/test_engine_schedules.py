"""Schedule functions and the ParamScheduler that applies them (the curves themselves are pinned by
test_parity_schedules.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from videokd.engine import ParamScheduler, cosine_schedule, held_every, step_decay, teacher_temp_schedule, warmup_cosine


def _opt(*lrs: float) -> torch.optim.Optimizer:
    return torch.optim.AdamW([{"params": [nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs])


def test_warmup_cosine_endpoints_and_clamp() -> None:
    kw = dict(base=1.0, final=0.1, total=10.0, warmup=2.0, warmup_start=0.0)
    assert warmup_cosine(0.0, **kw) == 0.0
    assert warmup_cosine(1.0, **kw) == pytest.approx(0.5)
    assert warmup_cosine(2.0, **kw) == pytest.approx(1.0)
    assert warmup_cosine(6.0, **kw) == pytest.approx(0.55)
    assert warmup_cosine(10.0, **kw) == pytest.approx(0.1) == warmup_cosine(25.0, **kw)  # stays at final
    with pytest.raises(ValueError, match="must exceed"):
        warmup_cosine(1.0, base=1.0, total=2.0, warmup=2.0)


def test_step_decay_and_held_every() -> None:
    assert [step_decay(t, base=1.0, milestones=[2, 4]) for t in (0, 2, 3, 4)] == pytest.approx([1.0, 0.1, 0.1, 0.01])
    f = held_every(lambda e: e, iters_per_epoch=25, every=10)
    assert [f(g) for g in (0, 8, 9, 18, 19, 24, 25, 34)] == pytest.approx(
        [0, 0, 9 / 25, 9 / 25, 19 / 25, 19 / 25, 1.0, 1 + 9 / 25]
    )


def test_cosine_and_teacher_temp_arrays() -> None:
    s = cosine_schedule(1.0, 0.0, epochs=4, niter_per_ep=5, warmup_epochs=1, start_warmup_value=0.5)
    assert s.dtype == torch.float64 and s.shape == (20,)
    assert s[:5].tolist() == pytest.approx([0.5, 0.625, 0.75, 0.875, 1.0]) and s[5].item() == 1.0
    t = teacher_temp_schedule(0.04, 0.07, 3, 5)
    assert t.tolist() == pytest.approx([0.04, 0.055, 0.07, 0.07, 0.07])
    with pytest.raises(ValueError, match="warm-up epochs exceed"):
        cosine_schedule(1.0, 0.0, epochs=1, niter_per_ep=5, warmup_epochs=2)


def test_param_scheduler_absolute_factor_groups_and_state() -> None:
    opt = _opt(0.1, 0.2)
    opt.param_groups[1]["lr_mult"] = 0.5
    sched = ParamScheduler(opt, [1.0, 2.0, 3.0])
    sched.step(1)
    assert [g["lr"] for g in opt.param_groups] == [2.0, 1.0]  # absolute value times the group's lr_mult
    sched.step(99)  # past the array: its last value
    assert opt.param_groups[0]["lr"] == 3.0

    opt = _opt(0.1, 0.2)
    factor = ParamScheduler(opt, lambda g: 0.5**g, mode="factor")
    factor.step(2)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.025, 0.05])
    # resume into a fresh optimizer: the base values and the last step come back
    opt2 = _opt(7.0, 7.0)
    again = ParamScheduler(opt2, lambda g: 0.5**g, mode="factor")
    again.load_state_dict(factor.state_dict())
    assert [g["lr"] for g in opt2.param_groups] == pytest.approx([0.025, 0.05])

    wd = ParamScheduler(opt, [0.3], key="weight_decay", groups=[1])
    wd.step(0)
    assert opt.param_groups[0]["weight_decay"] == 0.01 and opt.param_groups[1]["weight_decay"] == 0.3
    with pytest.raises(ValueError, match="out of range"):
        ParamScheduler(opt, [1.0], groups=[2])
    with pytest.raises(KeyError, match="'momentum'"):
        ParamScheduler(opt, [1.0], key="momentum")
    with pytest.raises(ValueError, match="does not fit"):
        wd.load_state_dict(factor.state_dict())
