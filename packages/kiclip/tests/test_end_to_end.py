"""End to end through the shell scripts on synthetic data with a tiny CLIP file written here.

train_b2n_k400.sh (2 epochs) -> weight_average_tool.py -> test_b2n_k400.sh (base / novel / HM table),
plus the error conventions: --help on every script, missing data / weights / checkpoint -> rc 2 and a
short message naming the file, no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kiclip.tiny_clip import write_tiny_clip
from videokd.data.synthetic.kiclip_b2n import write_kiclip_k400

PKG = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in PKG.glob("*.sh") if not p.name.startswith("_"))
TINY = [
    "DATA.TRAIN_JITTER_SCALES", "[32,40]", "DATA.TRAIN_CROP_SIZE", "32", "DATA.TEST_CROP_SIZE", "32",
    "DATA.SAMPLING_RATE", "2", "DATA_LOADER.NUM_WORKERS", "0",
]  # fmt: skip
TRAIN = [
    "SOLVER.MAX_EPOCH", "2", "SOLVER.BASE_LR", "0.0001", "SOLVER.WARMUP_EPOCHS", "0.0",
    "SOLVER.WARMUP_START_LR", "0.0001", "SOLVER.COSINE_END_LR", "0.00001", "TRAIN.BATCH_SIZE", "2",
]  # fmt: skip


def _env(tmp: Path, **extra: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", KICLIP_PYTHON=sys.executable, KICLIP_OUTPUT=str(tmp / "runs"))
    env.update(KICLIP_CLIP=str(tmp / "clip.pt"))
    env.update(extra)
    return env


def _run(args: list[str], env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("kiclip_e2e")
    write_kiclip_k400(tmp / "data", classes=6, videos_per_class=8, frames=24, size=40)
    # a tiny CLIP briefly fitted to the synthetic classes, so that it starts like a pretrained one
    write_tiny_clip(tmp / "clip.pt", classes=6)
    return tmp


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_answers_help(script):
    out = subprocess.run(["bash", str(PKG / script), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Usage" in out.stdout, out.stdout + out.stderr


@pytest.fixture(scope="module")
def trained(tiny) -> Path:
    """train_b2n_k400.sh for 2 epochs, then weight_average_tool.py over epochs 1..2; the run folder."""
    env = _env(tiny)
    out = _run(
        ["bash", str(PKG / "train_b2n_k400.sh"), str(tiny / "data"), "--device", "cpu", "--opts", *TINY, *TRAIN], env
    )
    assert out.returncode == 0, out.stdout + out.stderr
    run = tiny / "runs" / "B2N_k400_KICLIP"
    out = _run([sys.executable, str(PKG / "weight_average_tool.py"), str(run / "checkpoints"), "--start", "1",
                "--end", "2", "--clip", str(tiny / "clip.pt")], env)  # fmt: skip
    assert out.returncode == 0 and (run / "wa_checkpoints" / "swa_1_2.pth").is_file(), out.stdout + out.stderr
    return run


@pytest.fixture(scope="module")
def tested(tiny, trained) -> tuple[str, dict]:
    """test_b2n_k400.sh (one process) on the averaged weights: its stdout and b2n_results.json."""
    env = dict(_env(tiny), CKPT=str(trained / "wa_checkpoints" / "swa_1_2.pth"))
    out = _run(["bash", str(PKG / "test_b2n_k400.sh"), str(tiny / "data"), "--device", "cpu", "--opts", *TINY], env)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout, json.loads((trained / "b2n_results.json").read_text())


@pytest.mark.slow
def test_train_average_test_through_the_scripts(trained, tested):
    run = trained
    ckpts = sorted((run / "checkpoints").glob("checkpoint_epoch_*.pyth"))
    assert [p.name for p in ckpts] == ["checkpoint_epoch_00001.pyth", "checkpoint_epoch_00002.pyth"]
    state = torch.load(ckpts[-1], weights_only=True)["model_state"]
    # the CLIP file rebuilds the teacher and the frozen stream: not in the checkpoint
    assert not any(k.startswith("raw_model.") or ".resblocks_f." in k for k in state)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("train/img_distill" in r for r in records) and list(run.glob("events.out.tfevents.*"))
    stdout, results = tested
    assert "base top-1" in stdout and "novel top-1" in stdout and "HM" in stdout
    # every video tested (3 views each, every clip counted once): 4 held-out videos x 3 base classes, 8 x 3 novel
    assert results["base"]["videos"] == 12 and results["novel"]["videos"] == 24
    # above chance on the learnable synthetic classes, base (trained) and novel (zero-shot) alike
    assert results["base"]["top1"] > 100.0 / results["base"]["classes"], results
    assert results["novel"]["top1"] > 100.0 / results["novel"]["classes"], results
    assert results["hm"] > 100.0 / 3


@pytest.mark.slow
def test_two_process_test_equals_one_process(tiny, trained, tested, tmp_path):
    """NPROC=2 (torchrun, gloo): the clips are sharded, the video sums reduced exactly across ranks."""
    env = dict(_env(tiny), NPROC="2", CKPT=str(trained / "wa_checkpoints" / "swa_1_2.pth"))
    cmd = ["bash", str(PKG / "test_b2n_k400.sh"), str(tiny / "data"), "--device", "cpu", "--opts", *TINY]
    out = _run([*cmd, "OUTPUT_DIR", str(tmp_path)], env)
    assert out.returncode == 0, out.stdout + out.stderr
    two, one = json.loads((tmp_path / "b2n_results.json").read_text()), tested[1]
    for part in ("base", "novel"):
        assert two[part]["videos"] == one[part]["videos"]
        assert two[part]["top1"] == pytest.approx(one[part]["top1"])
    assert two["hm"] == pytest.approx(one["hm"])


@pytest.mark.slow
def test_two_process_training_stops_resumes_and_equals_one_process(tiny, trained, tmp_path):
    """NPROC=2 (torchrun, gloo) through train_b2n_k400.sh: stopped after 3 of 12 steps (TRAIN.MAX_STEPS),
    resumed by running the same command again, then the same weights as the one-process run.

    Global batch 2 = 1 clip per rank; the sampler interleaves one shared permutation over the ranks and
    seeds every clip by its global position, the template draw is seeded alike on every rank, and DDP
    averages the per-rank gradients: each step is the one-process step up to float summation order.
    """
    env = dict(_env(tiny), NPROC="2", KICLIP_OUTPUT=str(tmp_path / "runs"))
    cmd = ["bash", str(PKG / "train_b2n_k400.sh"), str(tiny / "data"), "--device", "cpu", "--opts", *TINY, *TRAIN]
    out = _run([*cmd, "TRAIN.MAX_STEPS", "3"], env)
    assert out.returncode == 0, out.stdout + out.stderr
    run = tmp_path / "runs" / "B2N_k400_KICLIP"
    ckpts = run / "checkpoints"
    assert (ckpts / "last.pt").is_file() and not list(ckpts.glob("checkpoint_epoch_*"))  # stopped inside epoch 1
    assert torch.load(ckpts / "last.pt", weights_only=True)["step"] == 3
    out = _run(cmd, env)  # the same command again: resumes at step 3
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 processes: the trained weights agree on every rank" in out.stdout
    # only rank 0 writes: each file once, each epoch logged once
    assert sorted(p.name for p in ckpts.iterdir()) == [
        "checkpoint_epoch_00001.pyth", "checkpoint_epoch_00002.pyth", "last.pt",
    ]  # fmt: skip
    assert [line.split(":")[0] for line in (run / "log.txt").read_text().splitlines()] == ["epoch 1", "epoch 2"]
    # Equal up to float summation order, which AdamW amplifies only where a gradient is numerically zero
    # (the key part of the attention in_proj_bias: softmax ignores it, its gradient is rounding noise that
    # Adam normalises to LR-sized steps). Measured: difference 0.3 % of the training update's norm, at
    # most 1.1e-4 in one element (LR 1e-4, 12 steps); a wrong batch or template would move it by ~100 %.
    clip_init = torch.load(tiny / "clip.pt", weights_only=True)
    for name in ("checkpoint_epoch_00001.pyth", "checkpoint_epoch_00002.pyth"):
        two = torch.load(ckpts / name, weights_only=True)["model_state"]
        one = torch.load(trained / "checkpoints" / name, weights_only=True)["model_state"]
        assert two.keys() == one.keys()
        diff = sum(float((two[k].float() - one[k].float()).pow(2).sum()) for k in one) ** 0.5
        update = (
            sum(
                float((one[k].float() - clip_init[k[len("model.") :]].float()).pow(2).sum())
                for k in one
                if k.startswith("model.") and k[len("model.") :] in clip_init
            )
            ** 0.5
        )
        worst = max(float((two[k].float() - one[k].float()).abs().max()) for k in one)
        assert diff < 0.01 * update and worst < 1e-3, (name, diff, update, worst)


def test_missing_data_weights_and_checkpoint_are_clear_errors(tiny, tmp_path):
    env = _env(tiny)
    out = _run(["bash", str(PKG / "train_b2n_ucf101.sh"), str(tmp_path / "nowhere")], env)
    assert out.returncode == 2 and "missing input" in out.stderr and "train_s1.csv" in out.stderr
    assert "Traceback" not in out.stderr and "kiclip_ucf101" in out.stderr
    out = _run(
        ["bash", str(PKG / "train_b2n_k400.sh"), str(tiny / "data")], dict(env, KICLIP_CLIP=str(tmp_path / "x.pt"))
    )
    assert out.returncode == 2 and "CLIP weights not found" in out.stderr and "x.pt" in out.stderr
    out = _run(["bash", str(PKG / "test_b2n_k400.sh"), str(tiny / "data")], dict(env, CKPT=str(tmp_path / "none.pth")))
    assert out.returncode == 2 and "none.pth" in out.stderr and "Traceback" not in out.stderr
    # a file that is not a KICLIP checkpoint: rc 2 from Python, naming the file
    bad = tmp_path / "bad.pth"
    torch.save({"model_state": {"foo.weight": torch.zeros(2)}}, bad)
    out = _run(["bash", str(PKG / "test_b2n_k400.sh"), str(tiny / "data"), "--device", "cpu", "--opts", *TINY],
               dict(env, CKPT=str(bad)))  # fmt: skip
    assert out.returncode == 2 and "bad.pth" in out.stderr and "Traceback" not in out.stderr, out.stderr
    # a config typo names the nearest key
    out = _run(["bash", str(PKG / "train_b2n_k400.sh"), str(tiny / "data"), "--opts", "SOLVER.BASE_LRR", "1"], env)
    assert out.returncode == 2 and "SOLVER.BASE_LR" in out.stderr and "Traceback" not in out.stderr
