"""Real multi-process training on the CPU: 2 gloo ranks (torchrun, and SLURM variables) must give
the weights of 1 process with the same global batch; evaluation counts every sample once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from engine_scripts.helpers import (
    finish,
    free_port,
    jsonl,
    last_state,
    parse_prefixed_json,
    script_env,
    start,
    train_tiny,
)

COMMON = ["--epochs", "2", "--n-train", "36", "--n-eval", "7"]


def _assert_close_state(a: dict, b: dict, atol: float) -> None:
    assert a.keys() == b.keys()
    for k in a:
        diff = (a[k].double() - b[k].double()).abs().max().item()
        assert diff <= atol, f"{k}: max |diff| {diff:.3g} > {atol}"


def _val_records(out: Path) -> list[dict]:
    return [r for r in jsonl(out) if "val/count" in r]


@pytest.mark.slow
def test_two_ranks_match_one_process_torchrun_and_slurm(tmp_path: Path) -> None:
    single = start(train_tiny(tmp_path / "single", *COMMON, "--batch-size", "6"))
    torchrun = start(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            str(free_port()),
            *train_tiny(tmp_path / "torchrun", *COMMON, "--batch-size", "3")[1:],
        ]
    )
    out_single, out_torchrun = finish(single), finish(torchrun)

    port = free_port()
    slurm = [
        start(
            train_tiny(tmp_path / "slurm", *COMMON, "--batch-size", "3"),
            env=script_env(
                SLURM_PROCID=str(r),
                SLURM_NTASKS="2",
                SLURM_LOCALID=str(r),
                SLURM_STEP_ID="0",
                SLURM_JOB_NODELIST="127.0.0.[1-2]",
                MASTER_PORT=str(port),
            ),
        )
        for r in (0, 1)
    ]
    out_slurm = [finish(p) for p in slurm][0]

    info = parse_prefixed_json(out_torchrun, "DIST")
    assert (info["launcher"], info["world_size"], info["backend"]) == ("torchrun", 2, "gloo")
    info = parse_prefixed_json(out_slurm, "DIST")
    assert (info["launcher"], info["world_size"], info["backend"], info["master_addr"]) == (
        "slurm",
        2,
        "gloo",
        "127.0.0.1",
    )
    assert parse_prefixed_json(out_single, "DIST")["world_size"] == 1

    ref = last_state(tmp_path / "single")
    for name in ("torchrun", "slurm"):
        got = last_state(tmp_path / name)
        assert got["step"] == ref["step"] == 12 and got["world_size"] == 2 and len(got["rng"]) == 2
        _assert_close_state(got["model"], ref["model"], atol=1e-6)
        _assert_close_state(got["extra"]["teacher"], ref["extra"]["teacher"], atol=1e-6)
        # exact-count evaluation: 7 samples over 2 ranks are 7 rows, never 8
        vals, ref_vals = _val_records(tmp_path / name), _val_records(tmp_path / "single")
        assert [r["val/count"] for r in vals] == [7.0, 7.0]
        assert [r["val/loss"] for r in vals] == pytest.approx([r["val/loss"] for r in ref_vals], abs=1e-6)
        # rank-averaged training terms equal the single process's global-batch values
        tr = [r for r in jsonl(tmp_path / name) if "train/loss" in r]
        ref_tr = [r for r in jsonl(tmp_path / "single") if "train/loss" in r]
        assert [r["step"] for r in tr] == [r["step"] for r in ref_tr]
        assert [r["train/loss"] for r in tr] == pytest.approx([r["train/loss"] for r in ref_tr], abs=1e-6)
        # only rank 0 wrote: one event file, one metrics file, the checkpoints
        names = sorted(p.name for p in (tmp_path / name).iterdir())
        assert (
            len(names) == 3
            and names[0] == "checkpoints"
            and names[1].startswith("events.out.tfevents.")
            and names[2] == "metrics.jsonl"
        ), names
        assert sorted(p.name for p in (tmp_path / name / "checkpoints").iterdir()) == ["best.pt", "last.pt"]
