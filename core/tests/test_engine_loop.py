"""The Trainer in one process: accumulation, resume, best/early stopping, schedules, logs, precision."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

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
        return self.x[i] + 0.05 * torch.randn(5), self.y[i]  # random augmentation


def step_fn(model: nn.Module, batch: Any) -> dict:
    x, y = batch
    ce = F.cross_entropy(model(x), y)
    return {"loss": ce, "ce": ce}


def make(
    tmp: Optional[Path],
    *,
    batch_size: int = 4,
    dropout: float = 0.0,
    optimizer: str = "adamw",
    eval_fn=None,
    schedulers=None,
    on_epoch_start=None,
    **cfg: Any,
) -> engine.Trainer:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Dropout(dropout), nn.Linear(8, 3))
    opt = engine.build_optimizer(optimizer, engine.param_groups(model, weight_decay=0.01, lr=0.05), lr=0.05)
    loader = engine.build_train_loader(Pairs(), batch_size=batch_size, seed=3)
    sched = (
        [engine.ParamScheduler(opt, lambda g: engine.warmup_cosine(g, base=0.05, total=40, warmup=3))]
        if schedulers is None
        else schedulers(opt)
    )
    config = engine.TrainConfig(out_dir=str(tmp) if tmp else None, progress=False, **cfg)
    return engine.Trainer(
        model, opt, loader, step_fn, config=config, schedulers=sched, eval_fn=eval_fn, on_epoch_start=on_epoch_start
    )


def _weights(trainer: engine.Trainer) -> list[torch.Tensor]:
    return [p.detach().clone() for p in trainer.raw_model.parameters()]


def test_gradient_accumulation_equals_the_large_batch() -> None:
    big = make(None, batch_size=8, epochs=2, optimizer="sgd")
    big.fit()
    small = make(None, batch_size=4, grad_accum=2, epochs=2, optimizer="sgd")
    small.fit()
    assert big.step == small.step == 6
    for a, b in zip(_weights(big), _weights(small)):
        assert torch.allclose(a, b, atol=1e-6, rtol=0)


def test_partial_accumulation_group_at_epoch_end_is_stepped() -> None:
    t = make(None, batch_size=4, grad_accum=4, epochs=1)  # 6 batches: groups of 4 and 2
    t.fit()
    assert t.step == 2
    assert [engine.is_step_boundary(i, 4, 6) for i in range(6)] == [False, False, False, True, False, True]


def test_resume_after_max_steps_is_bitwise_identical(tmp_path: Path) -> None:
    epochs_seen: list[int] = []
    ref = make(tmp_path / "ref", epochs=3, dropout=0.3, on_epoch_start=lambda t, e: epochs_seen.append(e))
    ref.fit()
    assert epochs_seen == [0, 1, 2]
    first = make(tmp_path / "run", epochs=3, dropout=0.3, max_steps=8)  # stops inside epoch 2 (6 steps/epoch)
    summary = first.fit()
    assert summary["steps"] == 8 and first.batch_in_epoch == 2
    seen: list[int] = []
    second = make(tmp_path / "run", epochs=3, dropout=0.3, on_epoch_start=lambda t, e: seen.append(e))
    second.fit()
    assert seen == [1, 2]  # the resumed partial epoch gets its hook call too
    assert second.step == ref.step == 18
    for a, b in zip(_weights(ref), _weights(second)):
        assert torch.equal(a, b)
    state = engine.load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["epoch"] == 3 and state["batch_in_epoch"] == 0
    # a finished run resumes to "nothing to do"
    again = make(tmp_path / "run", epochs=3, dropout=0.3)
    assert again.fit()["steps"] == 18


def test_best_checkpoint_and_early_stopping(tmp_path: Path) -> None:
    scores = iter([1.0, 2.0, 2.0, 1.5, 3.0])
    t = make(
        tmp_path,
        epochs=5,
        eval_fn=lambda m: {"val/score": next(scores)},
        monitor="val/score",
        monitor_mode="max",
        patience=1,
    )
    summary = t.fit()
    assert summary["stopped_early"] and summary["epochs_done"] == 4  # epochs 2 and 3 did not improve (> patience 1)
    assert summary["best"] == {"metric": "val/score", "value": 2.0, "epoch": 1}
    best = engine.load_checkpoint(tmp_path / "checkpoints" / "best.pt")
    assert best["epoch"] == 2 and best["best"]["value"] == 2.0  # written right after epoch index 1
    # the stopped run stays stopped when restarted
    assert (
        make(tmp_path, epochs=5, eval_fn=lambda m: {"val/score": 9.0}, monitor="val/score", patience=1).fit()[
            "epochs_done"
        ]
        == 4
    )
    with pytest.raises(ValueError, match="monitor"):
        engine.TrainConfig(patience=3)


def test_plateau_scheduler_reduces_lr_from_eval_metric() -> None:
    t = make(
        None,
        epochs=4,
        eval_fn=lambda m: {"val/loss": 1.0},
        schedulers=lambda opt: [engine.PlateauScheduler(opt, monitor="val/loss", mode="min", patience=1, factor=0.5)],
    )
    t.fit()
    assert [g["lr"] for g in t.optimizer.param_groups] == [0.025, 0.025]  # 3 bad epochs after the first: one cut


def test_logs_metrics_jsonl_tensorboard_and_plain_progress(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    t = make(tmp_path, epochs=2, log_every=2, eval_fn=lambda m: {"val/acc": 0.5})
    t.cfg.progress = True
    t.fit()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if "train/loss" in r]
    assert [r["step"] for r in train] == [2, 4, 6, 8, 10, 12]
    assert all({"train/ce", "train/lr_group0", "epoch"} <= r.keys() for r in train)
    epochs = [r for r in records if "val/acc" in r]
    assert [r["epoch"] for r in epochs] == [0, 1] and "epoch/train_loss" in epochs[0]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert [e.step for e in acc.Scalars("train/loss")] == [2, 4, 6, 8, 10, 12]
    assert [e.value for e in acc.Scalars("train/loss")] == pytest.approx([r["train/loss"] for r in train])
    err = capsys.readouterr().err  # not a TTY: periodic plain lines with rate and ETA
    assert "epoch 1/2 6/6 (100%)" in err and "it/s" in err and "eta" in err and "loss=" in err


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_training_runs_on_cpu(precision: str) -> None:
    t = make(None, epochs=1, precision=precision)
    before = _weights(t)
    t.fit()
    assert t.step == 6 and any(not torch.equal(a, b) for a, b in zip(before, _weights(t)))


def test_step_fn_contract_and_nonfinite_loss() -> None:
    t = make(None, epochs=1)
    t.step_fn = lambda m, b: {"ce": m(b[0]).sum()}
    with pytest.raises(KeyError, match="'loss'"):
        t.fit()
    t = make(None, epochs=1, log_every=1)
    t.step_fn = lambda m, b: m(b[0]).sum() * float("nan")
    with pytest.raises(FloatingPointError, match="non-finite training loss"):
        t.fit()


def test_progress_plain_lines(capsys: pytest.CaptureFixture) -> None:
    import sys

    p = engine.Progress(10, desc="demo", every=5, tty=False, stream=sys.stdout)
    for _ in range(10):
        p.update(1, loss=0.5)
    p.close()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("demo 5/10 (50%)") and lines[1].startswith("demo 10/10 (100%)")
    assert lines[1].endswith("loss=0.5")
