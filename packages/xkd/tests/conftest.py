"""Shared fixtures: synthetic audio-visual data from the core generator and one tiny pre-training run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1]
XKD_SH = PKG / "codes" / "train" / "src" / "xkd.sh"
EVAL_SRC = PKG / "codes" / "eval" / "src"
# in-process calls (python -m xkd.* with config names) find the configs of this checkout also when xkd is
# installed non-editable, as in tox
os.environ.setdefault("XKD_HOME", str(PKG))


def run_script(script: Path, *args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run an entry script with bash, one CPU thread, the test's python first on PATH."""
    full_env = dict(os.environ)
    full_env.update({"OMP_NUM_THREADS": "1", "XKD_PYTHON": sys.executable, "VIDEOKD_DEBUG": "", "NPROC": "1"})
    full_env.update(env or {})
    return subprocess.run(
        ["bash", str(script), *args], capture_output=True, text=True, env=full_env, timeout=timeout, check=False
    )


@pytest.fixture(scope="session")
def kinetics_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Kinetics-layout .avi clips with AAC audio: 4 classes (colour + motion, class-dependent tones), 2.4 s."""
    from videokd.data.synthetic import make_kinetics_dataset

    root = tmp_path_factory.mktemp("k400")
    make_kinetics_dataset(root, classes=4, videos_per_class=4, frames=60, size=48, ext="avi", seed=3)
    return root


@pytest.fixture(scope="session")
def ucf_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from videokd.data.synthetic import make_ucf101_dataset

    root = tmp_path_factory.mktemp("ucf")
    make_ucf101_dataset(root, classes=4, videos_per_class=24, frames=40, size=48, seed=5)
    return root


@pytest.fixture(scope="session")
def esc_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from videokd.data.synthetic import make_esc50_dataset

    root = tmp_path_factory.mktemp("esc")
    make_esc50_dataset(root, classes=4, videos_per_class=10, seconds=2.5, seed=7)
    return root


@pytest.fixture(scope="session")
def ks_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Kinetics root with Kinetics-Sound clip lists (3 of its 4 classes)."""
    from videokd.data.synthetic.audio_visual_eval import write_kinetics_sound

    root = tmp_path_factory.mktemp("ks")
    write_kinetics_sound(root, classes=4, videos_per_class=8, frames=60, size=48, seed=11)
    return root


@pytest.fixture(scope="session")
def fsd_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from videokd.data.synthetic.audio_visual_eval import write_fsd50k

    root = tmp_path_factory.mktemp("fsd")
    write_fsd50k(root, classes=6, videos_per_class=8, seconds=2.5, seed=3)
    return root


@pytest.fixture(scope="session")
def pretrained(kinetics_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run folder of a 2-epoch micro XKD pre-training through xkd.sh on the CPU."""
    out = tmp_path_factory.mktemp("out")
    res = run_script(
        XKD_SH, "xkd_tiny.yaml", "--data_dir", str(kinetics_root), "--output_dir", str(out), "--job_id", "full",
        "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return out / "Transformer" / "pretext" / "full"
