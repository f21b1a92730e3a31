"""End to end on the synthetic PRVR dataset (core generator, TVR layout): the entry scripts
do_tvr.sh (train with early stopping) and do_test.sh (table, ranks, metrics JSON), and a
DL-DKD++ (--label_style soft) run through the Python API."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from videokd.data.synthetic import make_prvr_dataset

PKG = Path(__file__).resolve().parents[1]
SMALL = [
    "--B_hidden_size",
    "32",
    "--A_hidden_size",
    "32",
    "--bsz",
    "16",
    "--lr",
    "0.001",
    "--num_workers",
    "0",
    "--device",
    "cpu",
    "--max_es_cnt",
    "1",
    "--n_epoch",
    "8",
]


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="2", DLDKD_PYTHON=sys.executable)
    env.pop("NPROC", None)
    return env


@pytest.fixture(scope="module")
def prvr_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("e2e")
    # real TVR text width (768) so do_tvr.sh's --q_feat_size 768 applies unchanged
    make_prvr_dataset(root, name="tvr", n_videos=(60, 20, 20), v_dim=32, clip_dim=32, seed=0)
    return root


@pytest.mark.slow
def test_do_tvr_then_do_test(prvr_root: Path, tmp_path: Path) -> None:
    run = subprocess.run(
        ["bash", str(PKG / "do_tvr.sh"), str(prvr_root), *SMALL],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    runs = list((prvr_root / "tvr" / "results").iterdir())
    assert len(runs) == 1 and runs[0].name.startswith("tvr-double_kl_exponential_decay_k0.95_loss_scale_weight0.1-")
    rd = runs[0]
    for name in (
        "opt.json",
        "model.ckpt",
        "train.log.txt",
        "performance.log",
        "metrics.jsonl",
        "eval_test_metrics.json",
    ):
        assert (rd / name).is_file(), name
    assert list(rd.glob("events.out.tfevents.*")) and list((rd / "eval").glob("val_epoch_*.json"))
    opt = json.loads((rd / "opt.json").read_text())
    assert opt["q_feat_size"] == 768 and opt["margin"] == 0.1 and opt["decay_way"] == 1 and opt["use_clip"] is True
    ckpt = torch.load(rd / "model.ckpt", weights_only=True)  # plain data
    epochs = (rd / "train.log.txt").read_text().count("[Epoch]")
    assert 1 <= epochs <= 8 and ckpt["epoch"] < epochs
    if epochs < 8:  # early stopping: patience 1 means two non-improving epochs after the best
        assert "Early Stop" in (rd / "train.log.txt").read_text() and epochs == ckpt["epoch"] + 3
    # the dynamic KD coefficient of every epoch is a curve in metrics.jsonl (what `videokd plot` draws)
    from dldkd.losses import kd_coefficient_for_epoch

    records = [json.loads(line) for line in (rd / "metrics.jsonl").read_text().splitlines()]
    coef = {r["epoch"]: r["schedule/kd_coefficient"] for r in records if "schedule/kd_coefficient" in r}
    assert sorted(coef) == list(range(epochs))
    assert coef == pytest.approx({e: kd_coefficient_for_epoch(opt, e) for e in range(epochs)})
    assert coef[0] > coef[epochs - 1] if epochs > 1 else True  # decay_way 1 decays

    # do_test.sh on a renamed run dir, from another working directory
    renamed = rd.with_name("my_model")
    rd.rename(renamed)
    test = subprocess.run(
        ["bash", str(PKG / "do_test.sh"), "tvr", "i3d_resnet", str(prvr_root), "my_model", "--device", "cpu"],
        cwd="/",
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert test.returncode == 0, test.stdout[-3000:] + test.stderr[-3000:]
    row = re.search(r"^fused\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", test.stdout, re.M)
    assert row, test.stdout
    sumr = float(row.group(5))
    # a random ranking of 20 videos gives 100 * (1 + 5 + 10 + 20) / 20 = 180 in expectation
    assert sumr > 230, test.stdout
    metrics = json.loads((renamed / "eval_test_metrics.json").read_text())
    assert metrics["metrics"]["fused"]["sumr"] == pytest.approx(sumr, abs=0.05)
    ranks = (renamed / "eval_test_ranks.tsv").read_text().splitlines()
    assert len(ranks) == 1 + metrics["n_queries"]


@pytest.mark.slow
def test_missing_data_gives_a_message_not_a_traceback(tmp_path: Path) -> None:
    run = subprocess.run(
        ["bash", str(PKG / "do_activitynet.sh"), str(tmp_path)], env=_env(), capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 2
    assert "activitynet data is not under" in run.stderr and "make_synthetic.py activitynet-prvr" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.slow
def test_dldkd_pp_soft_labels_train(prvr_root: Path, tmp_path: Path) -> None:
    from dldkd.config import parse_train_options
    from dldkd.runner import run_training

    opt = parse_train_options(
        [
            "--root_path",
            str(prvr_root),
            "--collection",
            "tvr",
            "--visual_feature",
            "i3d_resnet",
            "--q_feat_size",
            "768",
            "--results_root",
            str(tmp_path),
            "--exp_id",
            "pp",
            "--label_style",
            "soft",
            "--distill_loss_decay",
            "exp",
            "--use_clip",
            "--double_branch",
            *SMALL[:-4],
            "--n_epoch",
            "2",
            "--max_es_cnt",
            "-1",
        ]
    )
    out = run_training(opt)
    assert out["epochs_done"] == 2 and out["test_metrics"]["fused"]["sumr"] > 0
    ckpt = torch.load(Path(out["results_dir"]) / "model.ckpt", weights_only=True)
    assert ckpt["model_cfg"]["share_query_input_proj"] is False


def _kill_after_epoch(cmd: list[str], run_root: Path, epoch: int, timeout: float = 600) -> Path:
    """Start ``cmd`` and SIGKILL its process group once a run's ``last.pt`` has finished ``epoch``."""
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            lasts = list(run_root.glob("*/checkpoints/last.pt")) if run_root.is_dir() else []
            if lasts and torch.load(lasts[0], weights_only=True)["epoch"] >= epoch:
                return lasts[0].parents[1]
            if proc.poll() is not None:
                raise AssertionError(f"finished before being killed:\n{proc.stdout.read().decode()[-3000:]}")
            time.sleep(0.05)
        raise AssertionError("no checkpoint in time")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.slow
def test_resume_continues_an_interrupted_run(prvr_root: Path, tmp_path: Path) -> None:
    """A run killed after epoch 2 of 4 continues with --resume RUN_DIR in the same run dir: every step
    trained and every train.log line written exactly once, "resumed at epoch 2" in the log. A resume
    whose options differ from the run's is refused before anything is written."""
    root = tmp_path / "runs"
    base = [*SMALL, "--max_es_cnt", "-1", "--results_root", str(root), "--exp_id", "resume", "--n_epoch", "4"]
    rd = _kill_after_epoch(["bash", str(PKG / "do_tvr.sh"), str(prvr_root), *base], root, epoch=2)
    killed_at = torch.load(rd / "checkpoints" / "last.pt", weights_only=True)["epoch"]
    assert killed_at in (2, 3)
    opt_before = (rd / "opt.json").read_bytes()

    # a different learning rate (and hidden size) on resume: an error listing both, nothing written
    wrong = subprocess.run(
        ["bash", str(PKG / "do_tvr.sh"), str(prvr_root), *base, "--lr", "0.01", "--B_hidden_size", "16"]
        + ["--resume", rd.name],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr, wrong.stderr
    assert "--lr 0.01 (the run has 0.001)" in wrong.stderr and "--B_hidden_size 16" in wrong.stderr
    assert (rd / "opt.json").read_bytes() == opt_before

    again = subprocess.run(
        ["bash", str(PKG / "do_tvr.sh"), str(prvr_root), *base, "--resume", rd.name],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert f"resumed at epoch {killed_at}, step" in again.stdout
    assert list(root.iterdir()) == [rd], "resume must not start a new run dir"
    assert torch.load(rd / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 4
    records = [json.loads(line) for line in (rd / "metrics.jsonl").read_text().splitlines()]
    train_steps = [r["step"] for r in records if any(k.startswith("train/") for k in r)]
    assert len(train_steps) == len(set(train_steps)), "a step was trained twice"
    epochs_logged = re.findall(r"\[Epoch\] (\d+)", (rd / "train.log.txt").read_text())
    assert epochs_logged == ["000", "001", "002", "003"]

    missing = subprocess.run(
        ["bash", str(PKG / "do_tvr.sh"), str(prvr_root), *base, "--resume", "nope"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "no checkpoint to resume from" in missing.stderr


@pytest.mark.slow
def test_ddp_two_processes_through_do_tvr(prvr_root: Path, tmp_path: Path) -> None:
    """NPROC=2 runs do_tvr.sh under torchrun (gloo on the CPU): one run dir written by rank 0,
    a plain-data checkpoint, validation every epoch, and the final test table."""
    root = tmp_path / "ddp_runs"
    env = dict(_env(), NPROC="2", OMP_NUM_THREADS="1")
    run = subprocess.run(
        [
            "bash",
            str(PKG / "do_tvr.sh"),
            str(prvr_root),
            *SMALL,
            "--n_epoch",
            "2",
            "--max_es_cnt",
            "-1",
            "--results_root",
            str(root),
            "--exp_id",
            "ddp",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (rd,) = list(root.iterdir())
    ckpt = torch.load(rd / "model.ckpt", weights_only=True)
    assert ckpt["epoch"] in (0, 1)
    assert len(list((rd / "eval").glob("val_epoch_*.json"))) == 2
    assert (rd / "train.log.txt").read_text().count("[Epoch]") == 2
    assert json.loads((rd / "eval_test_metrics.json").read_text())["metrics"]["fused"]["sumr"] > 0
    assert "device cpu x2" in run.stdout + run.stderr + (rd / "performance.log").read_text(), "not 2 processes"
