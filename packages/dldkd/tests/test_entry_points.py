"""The launch scripts and entry modules as a user meets them: --help, the data root variables,
expected failures as one message with exit code 2 (no traceback, no half-written run dir), and
evaluating a released checkpoint that has no opt.json."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from easydict import EasyDict

from dldkd.checkpoint import to_original_state_dict
from dldkd.data import collection_paths, read_captions
from dldkd.model import build_model

PKG = Path(__file__).resolve().parents[1]
SCRIPTS = ("do_tvr.sh", "do_activitynet.sh", "do_charades.sh", "do_test.sh")
TINY = ["--B_hidden_size", "8", "--A_hidden_size", "8", "--n_heads", "2", "--q_feat_size", "12"]
TINY += ["--bsz", "4", "--hard_pool_size", "4", "--num_workers", "0", "--device", "cpu", "--n_epoch", "1"]


def _env(**extra: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", DLDKD_PYTHON=sys.executable, **extra)
    for key in ("NPROC", "VIDEOKD_DATA", "DLDKD_DATA", "VIDEOKD_DEBUG"):
        if key not in extra:
            env.pop(key, None)
    return env


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=_env(**env), capture_output=True, text=True, timeout=300, cwd="/")


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_answers_help(script: str) -> None:
    out = _run(["bash", str(PKG / script), "--help"])
    assert out.returncode == 0 and out.stdout.startswith(("DL-DKD", "Evaluate")) and "Usage:" in out.stdout
    assert out.stderr == ""


@pytest.mark.parametrize("module", ["dldkd.train", "dldkd.test"])
def test_entry_modules_answer_help(module: str) -> None:
    out = _run([sys.executable, "-m", module, "--help"])
    assert out.returncode == 0 and "--root_path" in out.stdout


@pytest.mark.parametrize("var", ["VIDEOKD_DATA", "DLDKD_DATA"])
def test_data_root_from_the_environment(var: str, tmp_path: Path) -> None:
    out = _run(["bash", str(PKG / "do_tvr.sh"), "--device", "cpu"], **{var: str(tmp_path / "elsewhere")})
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"the tvr data is not under {tmp_path / 'elsewhere'}" in out.stderr
    assert "make_synthetic.py tvr" in out.stderr


def test_data_error_is_a_message_and_leaves_no_run_dir(prvr_copy: Path, tmp_path: Path) -> None:
    paths = collection_paths(prvr_copy, "tvr", "i3d_resnet")
    vid = read_captions(paths.captions("train"))[0][0].split("#")[0]
    with h5py.File(paths.clip_video, "a") as f:
        arr = f[vid][()]
        del f[vid]
        f.create_dataset(vid, data=np.concatenate([arr, arr[:1]]))
    results = tmp_path / "results"
    out = _run(["bash", str(PKG / "do_tvr.sh"), str(prvr_copy), *TINY, "--results_root", str(results)])
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith(f"dldkd.train: error: video '{vid}': teacher features")
    assert "Traceback" not in out.stderr and "--debug" in out.stderr
    assert not results.exists() or not list(results.iterdir()), "a failed start left a run dir"
    # --debug shows the traceback (and still writes nothing)
    out = _run(
        ["bash", str(PKG / "do_tvr.sh"), str(prvr_copy), *TINY, "--results_root", str(results)], VIDEOKD_DEBUG="1"
    )
    assert out.returncode == 1 and "Traceback" in out.stderr and "DataError" in out.stderr
    assert not results.exists() or not list(results.iterdir())


def test_truncated_checkpoint_is_named_by_do_test(tiny_prvr: Path, tmp_path: Path) -> None:
    ckpt = tmp_path / "released" / "model.ckpt"
    ckpt.parent.mkdir()
    torch.save({"model": _tiny_model().state_dict()}, ckpt)
    ckpt.write_bytes(ckpt.read_bytes()[:300])
    out = _run(["bash", str(PKG / "do_test.sh"), "tvr", "i3d_resnet", str(tiny_prvr), str(ckpt), "--device", "cpu"])
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{ckpt} (300 bytes) is truncated or corrupt" in out.stderr


def _tiny_model(share: bool = True):
    torch.manual_seed(0)
    return build_model(
        visual_input_size=16,
        query_input_size=12,
        inheritance_hidden=8,
        exploration_hidden=8,
        n_heads=2,
        max_ctx_l=32,
        max_desc_l=12,
        share_query_input_proj=share,
    ).eval()


@pytest.mark.parametrize("as_file", [True, False])
def test_released_original_checkpoint_without_opt_json(tiny_prvr: Path, tmp_path: Path, as_file: bool) -> None:
    """An ICCV model.ckpt (DataParallel names, EasyDict config, no opt.json), given as the file or its
    folder: do_test.sh takes the sizes from the checkpoint and prints the table next to it."""
    model = _tiny_model()
    original = to_original_state_dict(model.state_dict(), "iccv")
    folder = tmp_path / "checkpoint_tvr"
    folder.mkdir()
    cfg = EasyDict({"n_heads": 2, "max_ctx_l": 32, "max_desc_l": 12, "query_input_size": 12, "hidden_size": 8})
    torch.save(
        {"model": OrderedDict((f"module.{k}", v) for k, v in original.items()), "model_cfg": cfg, "epoch": 3},
        folder / "model.ckpt",
    )
    target = folder / "model.ckpt" if as_file else folder
    out = _run(["bash", str(PKG / "do_test.sh"), "tvr", "i3d_resnet", str(tiny_prvr), str(target), "--device", "cpu"])
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "fused" in out.stdout and "R@1" in out.stdout
    assert (folder / "eval_test_metrics.json").is_file() and (folder / "eval_test_ranks.tsv").is_file()
