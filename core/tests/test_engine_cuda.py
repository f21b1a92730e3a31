"""The Trainer on a CUDA GPU: bf16 autocast, fp16 with GradScaler (a step with inf gradients is
skipped), exact resume. Skipped without a GPU; scripts/gpu_check.sh runs them on one."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from videokd import engine

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (scripts/gpu_check.sh)"),
]


class Pairs(torch.utils.data.Dataset):
    def __init__(self, n: int = 64) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 16, generator=g)
        self.y = (self.x[:, 0] > 0).long()

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


def make(tmp=None, *, step_fn=None, **cfg: Any) -> engine.Trainer:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 64), nn.GELU(), nn.Linear(64, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    loader = engine.build_train_loader(Pairs(), batch_size=8, seed=1)

    def default_step(m: nn.Module, batch: Any) -> dict:
        x, y = batch
        return {"loss": F.cross_entropy(m(x), y)}

    config = engine.TrainConfig(out_dir=str(tmp) if tmp else None, progress=False, **cfg)
    dist = engine.DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cuda"))
    return engine.Trainer(model, opt, loader, step_fn or default_step, config=config, dist=dist)


@pytest.mark.parametrize("precision", ["bf16", "fp16", "fp32"])
def test_training_on_the_gpu_learns_in_every_precision(precision: str) -> None:
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    t = make(epochs=4, precision=precision)
    first = None

    def loss_of(m: nn.Module) -> float:
        x, y = Pairs().x.cuda(), Pairs().y.cuda()
        with torch.no_grad():
            return float(F.cross_entropy(m(x), y))

    first = loss_of(t.raw_model.cuda())
    t.fit()
    assert next(t.raw_model.parameters()).is_cuda and next(t.raw_model.parameters()).dtype == torch.float32
    assert loss_of(t.raw_model) < 0.5 * first


def test_fp16_step_with_inf_gradients_is_skipped() -> None:
    calls = {"n": 0}

    def step_fn(m: nn.Module, batch: Any) -> dict:
        x, y = batch
        calls["n"] += 1
        loss = F.cross_entropy(m(x), y)
        return {"loss": loss * float("inf") if calls["n"] == 2 else loss}

    t = make(epochs=1, precision="fp16", max_batches_per_epoch=3, step_fn=step_fn, stop_on_nonfinite=False)
    snapshots = []
    t.on_step_end = lambda tr: snapshots.append(
        (tr.last_step_taken, [p.detach().clone() for p in tr.raw_model.parameters()])
    )
    t.fit()
    taken = [s[0] for s in snapshots]
    assert taken == [True, False, True]
    for a, b in zip(snapshots[0][1], snapshots[1][1]):
        assert torch.equal(a, b)  # the inf step changed nothing
    assert t.precision.loss_scale < 2.0**16  # and the scale backed off


def test_resume_on_the_gpu_is_exact(tmp_path) -> None:
    full = make(tmp_path / "a", epochs=3, precision="bf16" if torch.cuda.is_bf16_supported() else "fp32")
    full.fit()
    part = make(tmp_path / "b", epochs=3, max_steps=10, precision=full.cfg.precision)
    part.fit()
    rest = make(tmp_path / "b", epochs=3, precision=full.cfg.precision)
    rest.fit()
    for a, b in zip(full.raw_model.parameters(), rest.raw_model.parameters()):
        assert torch.equal(a, b)
