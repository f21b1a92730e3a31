"""Atomic plain-data checkpoints, clear errors on bad files, last/best/periodic, weights-only loading."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from videokd.config import Config
from videokd.engine import (
    CheckpointError,
    CheckpointManager,
    load_checkpoint,
    load_weights,
    remap_keys,
    save_checkpoint,
)
from videokd.engine import checkpoint as ckpt_mod


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))


def test_saved_checkpoint_loads_with_weights_only(tmp_path: Path) -> None:
    model = _model()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    state = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "config": Config({"SOLVER": {"BASE_LR": 0.1}, "paths": [Path("/a/b")]}),
        "epoch": 3,
        "rng": torch.get_rng_state(),
    }
    path = save_checkpoint(tmp_path / "sub" / "ck.pt", state)
    loaded = torch.load(path, weights_only=True)  # the real requirement, not our wrapper
    assert loaded["config"] == {"SOLVER": {"BASE_LR": 0.1}, "paths": ["/a/b"]}
    assert type(loaded["config"]) is dict
    assert torch.equal(loaded["model"]["0.weight"], model[0].weight)
    assert loaded["optimizer"]["param_groups"][0]["lr"] == 1e-3


def test_non_plain_value_is_rejected_with_its_key_path(tmp_path: Path) -> None:
    class Opaque:
        pass

    with pytest.raises(CheckpointError, match=r"\['extra'\]\['bad'\].*Opaque"):
        save_checkpoint(tmp_path / "x.pt", {"extra": {"bad": Opaque()}})
    assert not (tmp_path / "x.pt").exists()


def test_truncated_file_gives_clear_error_naming_it(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "last.pt", {"w": torch.randn(1000)})
    data = path.read_bytes()
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"truncated\.pt.*truncated or corrupt"):
        load_checkpoint(bad)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="garbage.pt"):
        load_checkpoint(garbage)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_interrupted_write_keeps_previous_last_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manager = CheckpointManager(tmp_path)
    manager.save({"version": 1, "w": torch.ones(10)})
    real_save = torch.save

    def dying_save(obj, f, *args, **kwargs):  # writes part of the file, then the "process dies"
        f.write(b"PK\x03\x04 partial zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt_mod.torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        manager.save({"version": 2, "w": torch.zeros(10)})
    monkeypatch.setattr(ckpt_mod.torch, "save", real_save)
    state = manager.load_last()
    assert state["version"] == 1 and torch.equal(state["w"], torch.ones(10))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temp file left behind


def test_unsafe_pickle_needs_trusted(tmp_path: Path) -> None:
    path = tmp_path / "legacy.pt"
    torch.save({"model": {"w": torch.ones(2)}, "cfg": Path("x")}, path)  # a pickled class, as old scripts did
    with pytest.raises(CheckpointError, match="trusted=True"):
        load_checkpoint(path)
    assert load_checkpoint(path, trusted=True)["cfg"] == Path("x")


def test_manager_last_best_periodic(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path / "ck", every_epochs=2, keep_periodic=2)
    for epoch in range(1, 7):
        manager.save({"epoch": epoch}, is_best=epoch == 3, epoch=epoch)
    names = sorted(p.name for p in (tmp_path / "ck").iterdir())
    assert names == ["best.pt", "epoch_0004.pt", "epoch_0006.pt", "last.pt"]
    assert manager.load_last()["epoch"] == 6
    assert manager.load_best()["epoch"] == 3  # untouched by later writes of `last`
    assert load_checkpoint(manager.periodic_path(4))["epoch"] == 4
    # non-main ranks never write
    other = CheckpointManager(tmp_path / "rank1", enabled=False)
    assert other.save({"epoch": 1}) is None and not (tmp_path / "rank1").exists()


def test_load_weights_strips_prefix_and_maps_keys(tmp_path: Path) -> None:
    src = _model()
    # a DataParallel-style file with the weights under "state_dict" and old layer names
    state = {
        f"module.{k.replace('0.', 'fc_in.', 1) if k.startswith('0.') else k}": v for k, v in src.state_dict().items()
    }
    save_checkpoint(tmp_path / "dp.pt", {"epoch": 1, "arch": "x", "state_dict": state})
    dst = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    result = load_weights(dst, tmp_path / "dp.pt", key_map=[(r"^fc_in\.", "0.")])
    assert result.missing == [] and result.unexpected == []
    assert result.renamed["module.fc_in.weight"] == "0.weight"
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v)


def test_load_weights_mismatch_errors_name_file_and_keys(tmp_path: Path) -> None:
    src = _model()
    save_checkpoint(tmp_path / "m.pt", {"model": src.state_dict()})
    wrong_shape = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 5))
    with pytest.raises(
        CheckpointError, match=r"m\.pt.*\n.*shape mismatch.*2\.weight: checkpoint \(2, 3\) vs model \(5, 3\)"
    ):
        load_weights(wrong_shape, tmp_path / "m.pt")
    extra = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2), nn.Linear(2, 2))
    with pytest.raises(CheckpointError, match=r"missing key\(s\).*'3\.weight'"):
        load_weights(extra, tmp_path / "m.pt")
    # a replaced head is fine when declared
    res = load_weights(extra, tmp_path / "m.pt", ignore_missing=[r"^3\."])
    assert res.missing == ["3.weight", "3.bias"]
    smaller = nn.Sequential(nn.Linear(4, 3))
    with pytest.raises(CheckpointError, match=r"unexpected key\(s\)"):
        load_weights(smaller, tmp_path / "m.pt")
    assert load_weights(smaller, tmp_path / "m.pt", strict=False).unexpected[0] == "1.weight"
    with pytest.raises(CheckpointError, match="no state dict found"):
        load_weights(smaller, {"epoch": 1, "notes": "nothing"})
    with pytest.raises(CheckpointError, match=r"no entry 'model.student' \(missing 'student'"):
        load_weights(smaller, {"model": {}}, state_key="model.student")


def test_remap_keys_only_strips_a_prefix_every_key_has() -> None:
    state = {"module.a": torch.zeros(1), "module.b": torch.zeros(1)}
    assert list(remap_keys(state)[0]) == ["a", "b"]
    mixed = {"module.a": torch.zeros(1), "b": torch.zeros(1)}
    assert list(remap_keys(mixed)[0]) == ["module.a", "b"]
    dropped, renamed = remap_keys(state, key_map=lambda k: None if k == "b" else k)
    assert list(dropped) == ["a"] and renamed["module.b"] == "<dropped>"
    with pytest.raises(CheckpointError, match="two keys"):
        remap_keys(state, key_map={"a": "b"})


def test_checkpoint_file_is_replaced_atomically(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "a.pt", {"v": 1})
    inode = os.stat(path).st_ino
    save_checkpoint(tmp_path / "a.pt", {"v": 2})
    assert os.stat(path).st_ino != inode  # a new file renamed over the old one, not rewritten in place
    assert load_checkpoint(path)["v"] == 2
