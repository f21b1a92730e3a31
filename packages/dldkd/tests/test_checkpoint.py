"""Checkpoints: original ICCV / DL-DKD++ state dicts and model.ckpt files (EasyDict), our plain files."""

from __future__ import annotations

import argparse
import pickle
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from easydict import EasyDict

from dldkd.checkpoint import (
    CheckpointError,
    detect_layout,
    from_original_state_dict,
    load_checkpoint_file,
    model_from_state_dict,
    to_original_state_dict,
)
from dldkd.model import build_model
from dldkd.runner import load_model_from_run, save_model_checkpoint


def _tiny(share: bool = True):
    torch.manual_seed(0)
    return build_model(
        visual_input_size=10,
        query_input_size=6,
        inheritance_hidden=8,
        exploration_hidden=8,
        n_heads=2,
        max_ctx_l=7,
        max_desc_l=5,
        share_query_input_proj=share,
    ).eval()


def _inputs():
    g = torch.Generator().manual_seed(1)
    v = torch.randn(3, 7, 10, generator=g)
    vm = torch.ones(3, 7)
    vm[1, 4:] = 0
    t = torch.randn(4, 5, 6, generator=g)
    tm = torch.ones(4, 5)
    tm[0, 2:] = 0
    return v, vm, t, tm


@pytest.mark.parametrize("layout, share", [("iccv", True), ("master", False)])
def test_original_model_ckpt_with_easydict_loads(tmp_path: Path, layout: str, share: bool) -> None:
    model = _tiny(share)
    original = to_original_state_dict(model.state_dict(), layout)
    assert len(original) == 74 and detect_layout(original) == layout
    if layout == "iccv":
        assert "A_query_input_proj.net.1.weight" in original and "B_mapping_linear.bias" in original
    else:
        assert "exp_visual_encoder.self.query.weight" in original and "out_mapping_linear.weight" in original
    # DataParallel prefix + the pickled EasyDict config, as the original train.py saved it
    ckpt = {
        "model": OrderedDict((f"module.{k}", v) for k, v in original.items()),
        "model_cfg": EasyDict({"n_heads": 2, "max_ctx_l": 7, "visual_input_size": 10}),
        "epoch": 5,
    }
    (tmp_path / "run").mkdir()
    torch.save(ckpt, tmp_path / "run" / "model.ckpt")
    with pytest.raises(pickle.UnpicklingError):
        torch.load(tmp_path / "run" / "model.ckpt", weights_only=True)  # why the special loader exists
    loaded = load_checkpoint_file(tmp_path / "run" / "model.ckpt")
    assert type(loaded["model_cfg"]) is dict and loaded["model_cfg"]["n_heads"] == 2 and loaded["epoch"] == 5
    restored, info = load_model_from_run(tmp_path / "run")
    assert info["layout"] == layout and restored.config.share_query_input_proj is share
    inputs = _inputs()
    for a, b in zip(model(*inputs).values(), restored(*inputs).values()):
        torch.testing.assert_close(a, b)


def test_iccv_exploration_query_path_uses_inheritance_projection() -> None:
    model = _tiny(share=True)
    v, vm, t, tm = _inputs()
    before = model.encode_query(t, tm, "exploration")
    with torch.no_grad():
        model.exploration.query_input_proj.net[1].weight.add_(1.0)  # unused in the ICCV wiring
    torch.testing.assert_close(model.encode_query(t, tm, "exploration"), before)
    with torch.no_grad():
        model.inheritance.query_input_proj.net[1].weight.add_(1.0)
    assert not torch.allclose(model.encode_query(t, tm, "exploration"), before)


def test_untrusted_pickle_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "model.ckpt"
    torch.save({"model": {}, "model_cfg": argparse.Namespace(a=1)}, path)
    with pytest.raises(CheckpointError, match="trusted=True") as err:
        load_checkpoint_file(path)
    assert "weights_only" in str(err.value) and "argparse.Namespace" in str(err.value)
    assert load_checkpoint_file(path, trusted=True)["model_cfg"].a == 1


def test_truncated_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_checkpoint_file(tmp_path / "nope.ckpt")
    path = tmp_path / "model.ckpt"
    torch.save({"model": _tiny().state_dict()}, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=r"model\.ckpt \(200 bytes\) is truncated or corrupt") as err:
        load_checkpoint_file(path)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_our_model_ckpt_is_plain_data(tmp_path: Path) -> None:
    model = _tiny()
    opt = argparse.Namespace(lr=0.1, exp_id="x", device_ids=[0])
    save_model_checkpoint(tmp_path / "model.ckpt", model, epoch=2, opt=opt, extra={"val_sumr": 123.0})
    raw = torch.load(tmp_path / "model.ckpt", weights_only=True)
    assert raw["epoch"] == 2 and raw["model_cfg"]["n_heads"] == 2 and raw["opt"]["lr"] == 0.1
    restored, info = load_model_from_run(tmp_path)
    assert info["layout"] == "native"
    inputs = _inputs()
    for a, b in zip(model(*inputs).values(), restored(*inputs).values()):
        torch.testing.assert_close(a, b)


def test_mismatched_or_foreign_state_dicts_are_named() -> None:
    sd = to_original_state_dict(_tiny().state_dict(), "iccv")
    sd["B_extra_head.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="B_extra_head.weight"):
        from_original_state_dict(sd)
    with pytest.raises(CheckpointError, match="unrecognised"):
        detect_layout({"encoder.weight": torch.zeros(1)})
    sd = to_original_state_dict(_tiny().state_dict(), "iccv")
    del sd["A_mapping_linear.weight"]
    with pytest.raises(CheckpointError, match="exploration.mapping_linear.weight"):
        model_from_state_dict(sd, n_heads=2)
