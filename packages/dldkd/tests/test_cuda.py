"""do_tvr.sh / do_test.sh with --device cuda (fp32 and bf16). Skipped without a GPU;
scripts/gpu_check.sh runs them on one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (scripts/gpu_check.sh)"),
]

PKG = Path(__file__).resolve().parents[1]
TINY = ["--B_hidden_size", "32", "--A_hidden_size", "32", "--bsz", "16", "--hard_pool_size", "16"]
TINY += ["--num_workers", "0", "--n_epoch", "2", "--max_es_cnt", "-1", "--device", "cuda"]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_train_and_test_on_the_gpu(tiny_prvr: Path, tmp_path: Path, precision: str) -> None:
    env = dict(os.environ, DLDKD_PYTHON=sys.executable)
    results = tmp_path / "runs"
    train = subprocess.run(
        ["bash", str(PKG / "do_tvr.sh"), str(tiny_prvr), *TINY, "--q_feat_size", "12", "--n_heads", "2"]
        + ["--precision", precision, "--results_root", str(results), "--exp_id", precision],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert train.returncode == 0, train.stdout[-3000:] + train.stderr[-3000:]
    (run,) = list(results.iterdir())
    assert "device cuda" in train.stdout and (run / "model.ckpt").is_file()
    test = subprocess.run(
        ["bash", str(PKG / "do_test.sh"), "tvr", "i3d_resnet", str(tiny_prvr), str(run), "--device", "cuda"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert test.returncode == 0 and "fused" in test.stdout, test.stdout[-3000:] + test.stderr[-3000:]
