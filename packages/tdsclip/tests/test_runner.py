"""The runner through the Python API: engine checkpoints without the frozen CLIP, exact resume, guards."""

from __future__ import annotations

from pathlib import Path

import pytest

from tdsclip import checkpoint as CK
from tdsclip.runner import run_train
from tdsclip.tools.random_clip import write_random_clip
from videokd import engine
from videokd.data.synthetic import make_dataset

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny" / "sthv1_tiny.yaml"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    r = tmp_path_factory.mktemp("runner")
    make_dataset("sthv1", r / "sthv1", classes=6, videos_per_class=5, frames=16, size=40, seed=0)
    write_random_clip(r / "clip_pretrain" / "tiny.pt", width=64, layers=1, patch=8, resolution=32)
    return r


def _args(root: Path, exp: Path, *over: str) -> list[str]:
    return ["--config", str(TINY), "--data_root", str(root), "--device", "cpu", "--exp_dir", str(exp),
            "solver.max_batches_per_epoch=2", *over]  # fmt: skip


def test_engine_checkpoint_has_no_frozen_clip_and_resume_continues(root: Path, tmp_path: Path) -> None:
    assert run_train(_args(root, tmp_path, "solver.epochs=1")) == 0
    (run,) = list(tmp_path.glob("*/tiny/*"))
    last = engine.load_checkpoint(run / "checkpoints" / "last.pt")
    assert last["model"] and all(CK.is_trainable_name(k) for k in last["model"])
    assert last["epoch"] == 1 and last["step"] == 2
    # resume: <run folder> continues the same run to 2 epochs
    assert run_train(_args(root, tmp_path / "other", "solver.epochs=2", f"resume={run}")) == 0
    last = engine.load_checkpoint(run / "checkpoints" / "last.pt")
    assert last["epoch"] == 2 and last["step"] == 4
    assert not (tmp_path / "other").exists()


def test_resume_with_another_clip_is_refused(root: Path, tmp_path: Path) -> None:
    assert run_train(_args(root, tmp_path, "solver.epochs=1")) == 0
    (run,) = list(tmp_path.glob("*/tiny/*"))
    other = write_random_clip(tmp_path / "other_clip.pt", width=64, layers=1, patch=8, resolution=32, seed=5)
    with pytest.raises(CK.TDSCheckpointError, match="another CLIP backbone"):
        run_train(_args(root, tmp_path, "solver.epochs=2", f"resume={run}", f"network.clip_path={other}"))


def test_a_failed_start_leaves_no_run_folder(root: Path, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="CLIP weights not found"):
        run_train(_args(root, tmp_path, "network.clip_path=missing.pt"))
    assert not list(tmp_path.glob("*/tiny/*"))


def test_evaluate_only_with_pretrained_weights(root: Path, tmp_path: Path, capsys) -> None:
    assert run_train(_args(root, tmp_path / "a", "solver.epochs=1")) == 0
    (run,) = list((tmp_path / "a").glob("*/tiny/*"))
    best = run / "model_best.pt"
    assert run_train(_args(root, tmp_path / "b", "solver.evaluate=True", f"pretrain={best}")) == 0
    out = capsys.readouterr().out
    assert "pretrain" in out and "evaluate: top1" in out and "over 6 videos" in out
