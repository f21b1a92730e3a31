"""The Trainer's hooks and epoch options: order, arguments, what each one can change."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from videokd import engine


class Pairs(torch.utils.data.Dataset):
    def __init__(self, n: int = 24) -> None:
        g = torch.Generator().manual_seed(0)
        self.x, self.y = torch.randn(n, 5, generator=g), torch.randint(0, 3, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


def step_fn(model: nn.Module, batch: Any) -> dict:
    x, y = batch
    return {"loss": F.cross_entropy(model(x), y)}


def make(tmp=None, *, lr: float = 0.05, **kwargs: Any) -> engine.Trainer:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loader = engine.build_train_loader(Pairs(), batch_size=4, seed=3)  # 6 batches per epoch
    cfg_keys = {f.name for f in engine.TrainConfig.__dataclass_fields__.values()}
    cfg = engine.TrainConfig(
        out_dir=str(tmp) if tmp else None, progress=False, **{k: v for k, v in kwargs.items() if k in cfg_keys}
    )
    hooks = {k: v for k, v in kwargs.items() if k not in cfg_keys}
    return engine.Trainer(model, opt, loader, step_fn, config=cfg, **hooks)


def test_before_optimizer_step_sees_gradients_before_clipping_and_can_change_the_update() -> None:
    seen: list[float] = []

    def zero_first_layer(trainer: engine.Trainer) -> None:
        w = trainer.raw_model[0].weight
        seen.append(float(w.grad.norm()))  # unclipped: clip_grad_norm=1e-3 would make it ~1e-3
        w.grad.zero_()

    t = make(epochs=1, clip_grad_norm=1e-3, before_optimizer_step=zero_first_layer)
    before = t.raw_model[0].weight.detach().clone()
    t.fit()
    assert len(seen) == 6 and all(n > 1e-2 for n in seen)
    assert torch.equal(t.raw_model[0].weight, before)  # its gradient was cancelled every step


def test_before_optimizer_step_runs_after_fp16_unscaling() -> None:
    norms: dict[str, list[float]] = {"fp32": [], "fp16": []}
    for precision in ("fp32", "fp16"):
        if precision == "fp16":
            try:
                engine.Precision("fp16", torch.device("cpu"))
            except Exception:
                pytest.skip("fp16 GradScaler unavailable on this CPU build")

        def record(trainer: engine.Trainer, p=precision) -> None:
            norms[p].append(float(trainer.raw_model[2].weight.grad.norm()))

        make(epochs=1, precision=precision, max_batches_per_epoch=1, before_optimizer_step=record).fit()
    # the scaled gradient would be 2**16 times larger; after unscaling it matches fp32 closely
    assert norms["fp16"][0] == pytest.approx(norms["fp32"][0], rel=0.05)


def test_on_best_and_on_epoch_end_get_the_metrics_in_order() -> None:
    scores = iter([0.5, 0.7, 0.6, 0.9])
    calls: list[tuple] = []

    def eval_fn(model: nn.Module) -> dict:
        return {"val/acc": next(scores)}

    t = make(
        epochs=4,
        monitor="val/acc",
        eval_fn=eval_fn,
        on_best=lambda tr, m: calls.append(("best", tr.eval_epoch, tr.best, m["val/acc"])),
        on_epoch_end=lambda tr, m: calls.append(("end", tr.epoch, sorted(m))),
    )
    t.fit()
    assert [c for c in calls if c[0] == "best"] == [
        ("best", 0, 0.5, 0.5),
        ("best", 1, 0.7, 0.7),
        ("best", 3, 0.9, 0.9),
    ]
    ends = [c for c in calls if c[0] == "end"]
    assert [c[1] for c in ends] == [0, 1, 2, 3]
    assert ends[0][2] == ["epoch/train_loss", "val/acc"]
    # on_best of an epoch comes before its on_epoch_end
    assert calls.index(("best", 1, 0.7, 0.7)) < calls.index(ends[1])


def test_max_batches_per_epoch_caps_every_epoch_and_the_step_count() -> None:
    t = make(epochs=3, max_batches_per_epoch=2)
    assert t.batches_per_epoch == 2
    t.fit()
    assert t.step == 6
    with pytest.raises(ValueError, match="max_batches_per_epoch"):
        engine.TrainConfig(max_batches_per_epoch=0)


def test_eval_before_training_evaluates_the_untrained_model_once(tmp_path) -> None:
    evaluated: list[int] = []
    weights: list[torch.Tensor] = []

    def eval_fn(model: nn.Module) -> dict:
        evaluated.append(t.eval_epoch)
        weights.append(model[0].weight.detach().clone())
        return {"val/acc": 1.0 if t.eval_epoch == -1 else 0.5}

    bests: list[int] = []
    t = make(
        tmp_path,
        epochs=2,
        monitor="val/acc",
        patience=0,
        eval_before_training=True,
        eval_fn=eval_fn,
        on_best=lambda tr, m: bests.append(tr.eval_epoch),
    )
    untrained = t.raw_model[0].weight.detach().clone()
    t.fit()
    # epoch 0 does not beat the untrained score and patience is 0: early stop after it
    assert evaluated == [-1, 0] and t.stopped_early
    assert torch.equal(weights[0], untrained)
    assert bests == [-1] and t.best == 1.0 and t.best_epoch == -1
    assert t.history[0]["epoch"] == -1
    # a resumed run does not evaluate before training again
    evaluated.clear()
    t2 = make(tmp_path, epochs=3, monitor="val/acc", eval_before_training=True, eval_fn=eval_fn)
    t = t2
    t2.fit()
    assert -1 not in evaluated


def test_logged_learning_rate_is_the_effective_one_of_a_self_scheduling_optimizer(tmp_path) -> None:
    import json

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = engine.build_optimizer("bertadam", model.parameters(), lr=0.1, warmup=0.5, t_total=12)
    loader = engine.build_train_loader(Pairs(), batch_size=4, seed=3)
    cfg = engine.TrainConfig(out_dir=str(tmp_path), progress=False, epochs=2, log_every=1, tensorboard=False)
    engine.Trainer(model, opt, loader, step_fn, config=cfg).fit()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    lrs = [r["train/lr_group0"] for r in records if "train/lr_group0" in r]
    # warmup-linear: rises from 0 to the base LR over the first half, then falls; never flat at 0.1
    assert len(lrs) == 12 and max(lrs) <= 0.1 + 1e-12 and lrs[0] < 0.05 and len(set(round(v, 9) for v in lrs)) > 6
