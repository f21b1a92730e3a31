"""Launcher environments (torchrun, SLURM), node lists, and the single-process collectives."""

from __future__ import annotations

import pytest
import torch

from videokd.engine import (
    expand_nodelist,
    gather_exact,
    get_dist_info,
    init_distributed,
    launcher_env,
    reduce_metrics,
    shutdown,
)


@pytest.mark.parametrize(
    "nodelist,hosts",
    [
        ("node01", ["node01"]),
        ("node[01-04,07]", ["node01", "node02", "node03", "node04", "node07"]),
        ("gpu[8-10],cpu3", ["gpu8", "gpu9", "gpu10", "cpu3"]),
        ("a[08-10]b", ["a08b", "a09b", "a10b"]),
        ("r[1-2]n[1-2]", ["r1n1", "r1n2", "r2n1", "r2n2"]),
        ("10.0.0.[5-6]", ["10.0.0.5", "10.0.0.6"]),
    ],
)
def test_expand_nodelist(nodelist: str, hosts: list[str]) -> None:
    assert expand_nodelist(nodelist) == hosts


@pytest.mark.parametrize("bad", ["node[01-", "node]1[", "node[3-1]", "node[1,,2]", ""])
def test_expand_nodelist_rejects_malformed(bad: str) -> None:
    with pytest.raises(ValueError):
        expand_nodelist(bad)


def test_launcher_env_torchrun_wins_over_slurm() -> None:
    env = {
        "RANK": "3",
        "WORLD_SIZE": "8",
        "LOCAL_RANK": "1",
        "MASTER_ADDR": "h",
        "MASTER_PORT": "1234",
        "SLURM_PROCID": "0",
        "SLURM_NTASKS": "1",
    }
    assert launcher_env(env) == {
        "launcher": "torchrun",
        "rank": 3,
        "world_size": 8,
        "local_rank": 1,
        "master_addr": "h",
        "master_port": 1234,
    }


def test_launcher_env_slurm_mapping() -> None:
    env = {
        "SLURM_PROCID": "5",
        "SLURM_NTASKS": "8",
        "SLURM_LOCALID": "1",
        "SLURM_JOB_NODELIST": "node[07-08]",
        "SLURM_JOB_ID": "4242",
    }
    assert launcher_env(env) == {
        "launcher": "slurm",
        "rank": 5,
        "world_size": 8,
        "local_rank": 1,
        "master_addr": "node07",
        "master_port": 15000 + 4242,
    }
    env.update(MASTER_ADDR="head", MASTER_PORT="2999")
    got = launcher_env(env)
    assert (got["master_addr"], got["master_port"]) == ("head", 2999)
    # under srun the step's task count wins over the allocation's
    env.update(SLURM_NTASKS="16", SLURM_STEP_NUM_TASKS="8")
    assert launcher_env(env)["world_size"] == 8
    assert launcher_env({})["launcher"] == "none"
    with pytest.raises(ValueError, match="SLURM_PROCID"):
        launcher_env({"SLURM_PROCID": "x", "SLURM_NTASKS": "2"})


def test_init_distributed_from_slurm_variables_single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SLURM_PROCID", "0")
    monkeypatch.setenv("SLURM_NTASKS", "1")
    monkeypatch.setenv("SLURM_LOCALID", "0")
    monkeypatch.setenv("SLURM_NODELIST", "cn[3-4]")
    monkeypatch.delenv("SLURM_JOB_NODELIST", raising=False)
    monkeypatch.setenv("SLURM_JOB_ID", "17")
    try:
        info = init_distributed("cpu")
        assert (info.launcher, info.rank, info.world_size, info.local_rank) == ("slurm", 0, 1, 0)
        assert (info.master_addr, info.master_port) == ("cn3", 15017)
        assert info.device == torch.device("cpu") and info.backend is None and info.is_main
        assert not torch.distributed.is_initialized()  # a world of one needs no process group
        assert get_dist_info() == info
    finally:
        shutdown()
    assert get_dist_info().launcher == "none"


def test_init_distributed_warns_when_slurm_world_is_not_an_srun_step() -> None:
    env = {"SLURM_PROCID": "0", "SLURM_NTASKS": "4", "SLURM_NODELIST": "n1"}
    with pytest.warns(UserWarning, match="not started by srun"), pytest.raises(ValueError, match="rank 5"):
        init_distributed("cpu", env={**env, "SLURM_PROCID": "5"})  # checked before any process group starts


def test_init_distributed_rejects_bad_rank_and_cuda_without_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="rank 2 outside world size 2"):
        init_distributed("cpu", env={"RANK": "2", "WORLD_SIZE": "2"})
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            init_distributed("cuda", env={})


def test_single_process_collectives_are_identity() -> None:
    assert reduce_metrics({"a": 1.5, "b": torch.tensor(2.0)}) == {"a": 1.5, "b": 2.0}
    x = torch.arange(7.0)
    assert torch.equal(gather_exact(x, 7), x)
    with pytest.raises(ValueError, match="ExactDistributedSampler"):
        gather_exact(x[:6], 7)
