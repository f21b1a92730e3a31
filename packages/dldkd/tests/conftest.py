"""Shared fixtures: small synthetic PRVR datasets written by the core generator."""

from __future__ import annotations

from pathlib import Path

import pytest

from videokd.data.synthetic import make_prvr_dataset


@pytest.fixture(scope="session")
def tiny_prvr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TVR-layout dataset (12/6/6 videos, Dv 16, Dq 12, Dc 10) shared read-only by the tests."""
    root = tmp_path_factory.mktemp("prvr")
    make_prvr_dataset(
        root, name="tvr", n_videos=(12, 6, 6), v_dim=16, q_dim=12, clip_dim=10, frames_per_video=(3, 150), seed=1
    )
    return root


@pytest.fixture()
def prvr_copy(tiny_prvr: Path, tmp_path: Path) -> Path:
    """A private copy of :func:`tiny_prvr` that a test may corrupt."""
    import shutil

    dst = tmp_path / "data"
    shutil.copytree(tiny_prvr, dst)
    return dst
