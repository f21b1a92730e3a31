"""End to end through the shell scripts on synthetic data with a tiny random CLIP.

Something-Something v1 frame folders (run with ``sh``) and Kinetics-style H.264 videos (run with
``bash``): train 2 epochs, then the 3-crop x 2-clip test of the best checkpoint, accuracy above
chance. And the failures a user meets first: ``--help``, missing data, a config typo, a wrong
checkpoint - each a short message and exit code 2, never a traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tdsclip.tools.random_clip import write_random_clip
from videokd.data.synthetic import make_dataset

PKG = Path(__file__).resolve().parents[1]
TRAIN = PKG / "scripts" / "run_train_vision.sh"
TEST = PKG / "scripts" / "run_test_vision.sh"
TINY_SS = PKG / "configs" / "tiny" / "sthv1_tiny.yaml"
TINY_K400 = PKG / "configs" / "tiny" / "k400_tiny.yaml"
CHANCE = 100.0 / 6  # six synthetic classes (the tiny configs' data.num_classes)


def _env(data: Path) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", TDSCLIP_PYTHON=sys.executable, NPROC="1", VIDEOKD_DATA=str(data))
    env.pop("VIDEOKD_DEBUG", None)
    return env


def _run(cmd: list[str], data: Path, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=_env(data), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tds_data")
    make_dataset("sthv1", root / "sthv1", classes=6, videos_per_class=20, frames=24, size=48, seed=0)
    make_dataset("kinetics", root / "k400", classes=6, videos_per_class=20, frames=24, size=48, seed=1)
    write_random_clip(root / "clip_pretrain" / "tiny.pt", width=64, layers=2, patch=8, resolution=32)
    return root


def _train_then_test(shell: str, config: Path, data: Path, tmp_path: Path) -> float:
    exp = tmp_path / "exp"
    run = _run([shell, str(TRAIN), str(config), "--device", "cpu", "--exp_dir", str(exp)], data, tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (run_dir,) = [p for p in exp.glob("*/tiny/*") if p.is_dir()]
    assert "/" not in run_dir.relative_to(exp).parts[1]  # no nested "ViT-B/16" folders
    for name in ("config.yaml", "log.txt", "last_model.pt", "model_best.pt", "metrics.jsonl"):
        assert (run_dir / name).is_file(), name
    assert list(run_dir.glob("events.out.tfevents.*"))
    ck = torch.load(run_dir / "model_best.pt", weights_only=True)
    # only trained tensors + the identity of the frozen backbone
    assert ck["model_state_dict"] and all(("side" in k or k.startswith("fc.")) for k in ck["model_state_dict"])
    assert len(ck["backbone"]["frozen_sha256"]) == 64
    out_json = tmp_path / "test.json"
    test = _run(
        [shell, str(TEST), str(config), str(run_dir / "model_best.pt"), "--test_crops", "3", "--test_clips", "2",
         "--device", "cpu", "--output_json", str(out_json)],
        data,
        tmp_path,
    )  # fmt: skip
    assert test.returncode == 0, test.stdout[-3000:] + test.stderr[-3000:]
    m = re.search(r"Test \(4x3x2 views, (\d+) videos.*top1 ([\d.]+) top5 ([\d.]+)", test.stdout)
    assert m, test.stdout
    return float(m.group(2))


@pytest.mark.slow
def test_something_v1_train_and_multiview_test_with_sh(data: Path, tmp_path: Path) -> None:
    top1 = _train_then_test("sh", TINY_SS, data, tmp_path)
    assert top1 > 1.5 * CHANCE, f"top-1 {top1} is not above chance ({CHANCE:.1f} %)"


@pytest.mark.slow
def test_kinetics_videos_train_and_multiview_test_with_bash(data: Path, tmp_path: Path) -> None:
    top1 = _train_then_test("bash", TINY_K400, data, tmp_path)
    assert top1 > 1.5 * CHANCE, f"top-1 {top1} is not above chance ({CHANCE:.1f} %)"


@pytest.mark.parametrize("script", [TRAIN, TEST])
@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_help(script: Path, shell: str, tmp_path: Path) -> None:
    r = _run([shell, str(script), "--help"], tmp_path, tmp_path, timeout=60)
    assert r.returncode == 0 and "usage:" in r.stdout and "Traceback" not in r.stderr


def _assert_clean_failure(r: subprocess.CompletedProcess, *needles: str) -> None:
    text = r.stdout + r.stderr
    assert r.returncode == 2, text
    assert "Traceback" not in text, text
    for n in needles:
        assert n in text, (n, text)


def test_missing_data_names_what_is_missing(tmp_path: Path) -> None:
    empty = tmp_path / "nodata"
    empty.mkdir()
    r = _run(["sh", str(TRAIN), str(TINY_SS), "--device", "cpu"], empty, tmp_path, timeout=300)
    _assert_clean_failure(r, "train_list", str(empty / "sthv1"), "make_synthetic.py sthv1", "tiny.pt")


def test_config_typo_names_the_nearest_key(data: Path, tmp_path: Path) -> None:
    r = _run(["sh", str(TRAIN), str(TINY_SS), "solver.epoch=3"], data, tmp_path, timeout=300)
    _assert_clean_failure(r, "solver.epoch", "solver.epochs")


def test_mixup_is_rejected_with_a_reason(data: Path, tmp_path: Path) -> None:
    r = _run(["bash", str(TRAIN), str(TINY_SS), "solver.mixup=True"], data, tmp_path, timeout=300)
    _assert_clean_failure(r, "solver.mixup", "5-frame")


def test_wrong_checkpoint_is_a_message(data: Path, tmp_path: Path) -> None:
    bad = tmp_path / "not_a_checkpoint.pt"
    bad.write_bytes(b"this is not a checkpoint")
    r = _run(["sh", str(TEST), str(TINY_SS), str(bad), "--device", "cpu"], data, tmp_path, timeout=600)
    _assert_clean_failure(r, str(bad))
    # a real checkpoint of another model: the key report names the file
    other = tmp_path / "other.pt"
    torch.save({"epoch": 0, "model_state_dict": {"fc.weight": torch.zeros(3, 3)}}, other)
    r = _run(["sh", str(TEST), str(TINY_SS), str(other), "--device", "cpu"], data, tmp_path, timeout=600)
    _assert_clean_failure(r, str(other), "fc.weight")
    r = _run(["sh", str(TEST), str(TINY_SS), str(tmp_path / "missing.pt")], data, tmp_path, timeout=60)
    _assert_clean_failure(r, "missing.pt")


@pytest.mark.slow
def test_two_process_ddp_run_on_the_cpu(data: Path, tmp_path: Path) -> None:
    """NPROC=2: torchrun underneath, gloo on the CPU; one short epoch, exact validation over both ranks."""
    exp = tmp_path / "exp"
    env = _env(data)
    env["NPROC"] = "2"
    run = subprocess.run(
        ["bash", str(TRAIN), str(TINY_SS), "--device", "cpu", "--exp_dir", str(exp), "solver.epochs=1",
         "solver.max_batches_per_epoch=3"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (run_dir,) = [p for p in exp.glob("*/tiny/*") if p.is_dir()]
    log = (run_dir / "log.txt").read_text()
    assert "world 2" in log and "val/top1" in log
    assert (run_dir / "last_model.pt").is_file()
