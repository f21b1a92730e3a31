"""Exact resume after a hard kill, and atomic checkpoints under SIGKILL (real processes)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from engine_scripts.helpers import SCRIPTS, finish, jsonl, kill_when, last_state, start, train_tiny

from videokd.engine import load_checkpoint


def _assert_same_tensors(a: dict, b: dict, where: str) -> None:
    assert a.keys() == b.keys(), f"{where}: keys differ"
    for k in a:
        if isinstance(a[k], torch.Tensor):
            assert torch.equal(a[k], b[k]), (
                f"{where}.{k} differs (max |diff| {(a[k].float() - b[k].float()).abs().max():.3g})"
            )
        elif isinstance(a[k], dict):
            _assert_same_tensors(a[k], b[k], f"{where}.{k}")
        else:
            assert a[k] == b[k], f"{where}.{k}: {a[k]!r} != {b[k]!r}"


@pytest.mark.slow
def test_sigkill_then_resume_gives_bitwise_identical_weights(tmp_path: Path) -> None:
    # shuffling loader with 2 worker processes, random per-sample noise (torch + numpy), dropout,
    # an lr schedule, an EMA teacher, gradient clipping and `last` written after every step
    common = ["--epochs", "2", "--workers", "2", "--dropout", "0.2", "--ckpt-every-steps", "1", "--print-steps"]
    ref = start(train_tiny(tmp_path / "ref", *common))
    victim = start(train_tiny(tmp_path / "run", *common, "--step-delay", "0.3"))
    # 10 steps per epoch: kill during epoch 1, after `last` holds step >= 7 (it is written before step 8 runs)
    killed_output = kill_when(victim, "step 8")
    finish(ref)
    interrupted = last_state(tmp_path / "run")
    assert 7 <= interrupted["step"] < 20, interrupted["step"]
    assert interrupted["epoch"] == 0 and 0 < interrupted["batch_in_epoch"] < 10, "the kill should land mid-epoch"
    assert "SUMMARY" not in killed_output

    resumed_output = finish(start(train_tiny(tmp_path / "run", *common)))
    assert "SUMMARY" in resumed_output
    a, b = last_state(tmp_path / "ref"), last_state(tmp_path / "run")
    assert a["step"] == b["step"] == 20
    _assert_same_tensors(a["model"], b["model"], "model")
    _assert_same_tensors(a["extra"]["teacher"], b["extra"]["teacher"], "teacher (EMA)")
    _assert_same_tensors(a["optimizer"]["state"], b["optimizer"]["state"], "optimizer.state")
    assert [g["lr"] for g in a["optimizer"]["param_groups"]] == [g["lr"] for g in b["optimizer"]["param_groups"]]
    assert a["best"] == b["best"]
    # the logs continue exactly: same records at the same steps, none duplicated by the resume
    assert jsonl(tmp_path / "run") == jsonl(tmp_path / "ref")


@pytest.mark.slow
def test_sigkill_during_checkpoint_writes_leaves_last_loadable(tmp_path: Path) -> None:
    # ~8 MB per write, rewritten as fast as possible: the kill usually lands inside a write
    proc = start([sys.executable, str(SCRIPTS / "crash_writer.py"), str(tmp_path), str(2_000_000)])
    kill_when(proc, "wrote 5")
    state = load_checkpoint(tmp_path / "last.pt")
    version = state["version"]
    assert version >= 5
    assert torch.equal(state["blob"], torch.full((2_000_000,), float(version)))
    # no half-written temp file is ever visible under a checkpoint name
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["last.pt"]
