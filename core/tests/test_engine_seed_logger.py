"""Seeding, RNG state capture (plain data) and the metric logger's resume behaviour."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import torch

from videokd.engine import (
    MetricLogger,
    derive_seed,
    rng_state,
    save_checkpoint,
    seed_everything,
    set_rng_state,
    worker_init_fn,
)


def _draw() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), torch.rand(()).item()


def test_seed_everything_seeds_all_three_rngs() -> None:
    seed_everything(11)
    a = _draw()
    seed_everything(11)
    assert _draw() == a
    seed_everything(12)
    assert _draw() != a


def test_rng_state_roundtrip_through_a_weights_only_checkpoint(tmp_path: Path) -> None:
    seed_everything(3)
    _draw()
    path = save_checkpoint(tmp_path / "rng.pt", {"rng": rng_state()})
    expected = [_draw() for _ in range(3)]
    _draw()
    set_rng_state(torch.load(path, weights_only=True)["rng"])
    assert [_draw() for _ in range(3)] == expected


class WorkerDraws(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.tensor([float(np.random.rand()), random.random()])


def test_worker_init_fn_gives_each_worker_its_own_numpy_and_random_streams() -> None:
    loader = torch.utils.data.DataLoader(
        WorkerDraws(),
        batch_size=1,
        num_workers=2,
        worker_init_fn=worker_init_fn,
        generator=torch.Generator().manual_seed(0),
    )
    rows = torch.cat(list(loader))
    # items 0/1 are the first draw of worker 0/1: without per-worker seeding they would be equal
    assert rows[0, 0] != rows[1, 0] and rows[0, 1] != rows[1, 1]
    loader2 = torch.utils.data.DataLoader(
        WorkerDraws(),
        batch_size=1,
        num_workers=2,
        worker_init_fn=worker_init_fn,
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.equal(torch.cat(list(loader2)), rows)  # and it is reproducible


def test_derive_seed_is_stable_and_mixes_keys() -> None:
    assert derive_seed(1, "a", 2) == derive_seed(1, "a", 2)
    assert len({derive_seed(1, k) for k in range(100)}) == 100
    assert 0 <= derive_seed(2**62, "x") < 2**63


def test_metric_logger_resume_drops_records_after_the_checkpoint(tmp_path: Path) -> None:
    with MetricLogger(tmp_path) as log:
        for step in range(1, 7):
            log.log({"train/loss": 1.0 / step, "note": "ignored", "inf": float("inf")}, step=step, epoch=0)
    with open(tmp_path / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 7, "train/lo')  # a line cut by a hard kill
    with MetricLogger(tmp_path, resume_step=4) as log:
        log.log({"train/loss": 0.0}, step=5)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5]
    assert records[0]["inf"] == "inf" and "note" not in records[0]
    assert records[-1]["train/loss"] == 0.0
    # TensorBoard: the resumed writer purges the stale steps 5, 6 of the first run
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("train/loss")][-2:] == [(4, 0.25), (5, 0.0)]
    # a disabled logger (non-main rank) writes nothing
    MetricLogger(tmp_path / "rank1", enabled=False).log({"a": 1.0}, step=1)
    assert not (tmp_path / "rank1").exists()


def test_resumed_tensorboard_purge_holds_when_event_file_names_sort_badly(tmp_path: Path) -> None:
    """Event files are named <second>.<host>.<pid>.<counter>; within one second ``...99`` sorts
    after ``...100``. Push the per-process counter to such a boundary, then log and resume at once:
    the stale steps must still be purged."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    def uid_of(folder: Path) -> int:
        (name,) = [f.name for f in folder.glob("events.out.tfevents.*")]
        return int(name.rsplit(".", 1)[1])

    i = 0
    while True:  # throwaway writers until the next counter value is 9, 99, 999...
        folder = tmp_path / f"warm{i}"
        SummaryWriter(log_dir=str(folder)).close()
        nxt = uid_of(folder) + 1
        if set(str(nxt)) == {"9"}:
            break
        i += 1
    run = tmp_path / "run"
    with MetricLogger(run) as log:
        for step in range(1, 7):
            log.log({"train/loss": float(step)}, step=step)
    with MetricLogger(run, resume_step=4) as log:
        log.log({"train/loss": 0.0}, step=5)
    acc = EventAccumulator(str(run))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("train/loss")] == [(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0), (5, 0.0)]
