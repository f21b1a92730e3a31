"""The repository scripts a user runs answer --help, and the GPU check refuses a machine without a GPU."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.mark.parametrize("name", ["gpu_check.sh", "gpu_wheels.sh", "demo.sh"])
def test_scripts_answer_help(name: str) -> None:
    out = subprocess.run(["bash", str(SCRIPTS / name), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Usage: bash scripts/" in out.stdout, out.stdout + out.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_check_without_a_gpu_is_a_clear_error(tmp_path: Path) -> None:
    import sys

    out = subprocess.run(
        ["bash", str(SCRIPTS / "gpu_check.sh"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
    )
    assert out.returncode == 2 and "no torch with a usable CUDA GPU" in out.stderr
    assert "Traceback" not in out.stderr


def test_gpu_check_unknown_option() -> None:
    out = subprocess.run(["bash", str(SCRIPTS / "gpu_check.sh"), "--nope"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "unknown option --nope" in out.stderr
