"""Checkpoints: trained tensors only + backbone identity; the original full format still loads."""

from __future__ import annotations

import pytest
import torch

from tdsclip import checkpoint as CK
from tdsclip.optim import build_adamw
from tdsclip.tools.random_clip import write_random_clip


def _model(path, seed=0):
    clip_file = write_random_clip(path, width=64, layers=1, patch=8, resolution=16, seed=seed)
    model, report = CK.model_from_clip_file(clip_file, side_dim=32, num_classes=3, num_segments=2)
    return model, report


def test_clip_file_loads_the_trunk_and_reports_the_rest(tmp_path):
    model, report = _model(tmp_path / "c.pt")
    assert all(not CK.is_trainable_name(k) for k in report.loaded)
    assert set(report.not_in_checkpoint) == {k for k in model.state_dict() if CK.is_trainable_name(k)}
    assert "visual.proj" in report.unused and "text_projection" in report.unused
    assert model.config.vision_width == 64 and model.config.image_resolution == 16


def test_trainable_only_round_trip_and_backbone_check(tmp_path):
    model, _ = _model(tmp_path / "c.pt")
    with torch.no_grad():
        model.fc.weight.add_(1.0)
    state, ident = model.trainable_state_dict(), CK.backbone_identity(model)
    assert all(CK.is_trainable_name(k) for k in state)
    fresh, _ = _model(tmp_path / "c.pt")
    assert CK.load_model_weights(fresh, state, check_backbone=ident) == "trainable"
    assert torch.equal(fresh.fc.weight, model.fc.weight)
    other, _ = _model(tmp_path / "d.pt", seed=1)
    with pytest.raises(CK.TDSCheckpointError, match="another CLIP backbone"):
        CK.load_model_weights(other, state, check_backbone=ident, source="x.pt")


def test_original_full_checkpoint_with_module_prefix_loads(tmp_path):
    model, _ = _model(tmp_path / "c.pt")
    opt = build_adamw(model, lr=1e-3, weight_decay=0.15)
    orig = CK.original_checkpoint(model, opt, epoch=3)
    assert set(orig) == {"epoch", "model_state_dict", "optimizer_state_dict"}
    assert len(orig["optimizer_state_dict"]["param_groups"]) == 3
    prefixed = {"module." + k: v for k, v in orig["model_state_dict"].items()}
    fresh, _ = _model(tmp_path / "c2.pt", seed=2)
    assert CK.load_model_weights(fresh, prefixed) == "full"
    for k, v in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v), k


def test_mismatched_checkpoint_names_the_keys(tmp_path):
    model, _ = _model(tmp_path / "c.pt")
    with pytest.raises(CK.TDSCheckpointError, match="missing keys"):
        CK.load_model_weights(model, {"fc.weight": torch.zeros(3, 32)}, source="bad.pt")
