"""fp32 / bf16 / fp16(+GradScaler) on the CPU."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from videokd.engine import Precision


def _setup() -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


def test_fp16_gradscaler_skips_the_step_with_inf_gradients() -> None:
    model, opt = _setup()
    prec = Precision("fp16", "cpu", init_scale=1024.0)
    with prec.autocast():
        out = model(torch.randn(3, 4))
    assert out.dtype == torch.float16
    prec.backward(out.float().sum())
    model.weight.grad[0, 0] = float("inf")
    before = [p.detach().clone() for p in model.parameters()]
    prec.unscale_(opt)
    assert prec.step(opt) is False
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # nothing moved
    assert prec.loss_scale == 512.0  # backed off

    opt.zero_grad()
    with prec.autocast():
        loss = model(torch.randn(3, 4)).float().sum()
    prec.backward(loss)
    # the scaled gradient is the real one times the scale, undone by unscale_
    prec.unscale_(opt)
    assert prec.step(opt) is True
    assert not torch.equal(before[0], model.weight)


def test_bf16_autocast_runs_on_cpu_and_fp32_is_plain() -> None:
    model, opt = _setup()
    prec = Precision("bf16", "cpu")
    assert prec.scaler is None
    with prec.autocast():
        out = model(torch.randn(3, 4))
    assert out.dtype == torch.bfloat16
    prec.backward(out.float().sum())
    assert model.weight.grad.dtype == torch.float32  # master weights stay fp32
    assert prec.step(opt) is True
    with Precision("fp32", "cpu").autocast():
        assert model(torch.randn(3, 4)).dtype == torch.float32


def test_precision_names_and_state() -> None:
    assert Precision("bfloat16").precision == "bf16" and Precision("amp").precision == "fp16"
    with pytest.raises(ValueError, match="precision must be one of"):
        Precision("fp8")
    a = Precision("fp16", init_scale=8.0)
    b = Precision("fp16")
    b.load_state_dict(a.state_dict())
    assert b.loss_scale == 8.0
