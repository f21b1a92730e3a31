"""Model, checkpoint and config behaviour beyond the fixtures: original checkpoint layouts, weight
averaging with raw CLIP, state dicts without the frozen parts, list parsing, config validation."""

from __future__ import annotations

import random

import pytest
import torch

from kiclip.config import build_config
from kiclip.data import ListFileError, read_list_file
from kiclip.layers import neighbor_frame_attention
from kiclip.model import KICLIP
from kiclip.tiny_clip import TINY_CONFIG
from kiclip.weights import average_checkpoints, load_kiclip_weights, weight_average
from videokd.clip import create_model
from videokd.config import ConfigError
from videokd.engine.checkpoint import CheckpointError

TEXTS = ["Red square: a red square moving left", "Blue square: a blue square moving up", "Cyan: cyan"]


def _clip_state(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    return create_model(TINY_CONFIG).state_dict()


def _model(teacher: bool, **kw) -> KICLIP:
    m = KICLIP(TINY_CONFIG, num_frames=2, class_texts=TEXTS, keep_teacher=teacher, **kw)
    m.init_from_clip(_clip_state())
    return m


def _video(b: int = 2) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(b, 3, 2, 32, 32)


def test_frozen_stream_and_teacher_share_the_clip_blocks_and_stay_out_of_state_dicts():
    m = _model(True)
    assert m.model.visual.transformer.resblocks_f is m.raw_model.visual.transformer.resblocks
    sd = m.state_dict()
    assert not any(k.startswith("raw_model.") or ".resblocks_f." in k for k in sd)
    full = m.full_state_dict()
    assert any(k.startswith("raw_model.") for k in full) and any(".resblocks_f." in k for k in full)
    # a fresh model from the CLIP file + the saved state dict gives the same outputs
    with torch.no_grad():
        for p in m.model.visual.transformer.resblocks.parameters():
            p.add_(0.01)
    other = _model(True)
    other.load_state_dict(sd)
    m.eval(), other.eval()
    with torch.no_grad():
        torch.testing.assert_close(other(_video())["pred"], m(_video())["pred"])


def test_original_full_checkpoint_and_swa_file_load_into_a_test_model(tmp_path):
    trained = _model(True, aux_head=True)
    with torch.no_grad():
        trained.projector_v[2].weight.normal_()
        trained.model.logit_scale.add_(0.3)
    full = {f"module.{k}": v for k, v in trained.full_state_dict().items()}
    ckpt = tmp_path / "checkpoint_epoch_00003.pyth"
    torch.save({"epoch": 3, "model_state": full, "optimizer_state": {}, "cfg": "x: 1", "scaler_state": {}}, ckpt)
    test_model = _model(False)
    info = load_kiclip_weights(test_model, ckpt)
    assert not info["kept_from_clip"]
    torch.testing.assert_close(test_model.model.logit_scale, trained.model.logit_scale)
    # swa file: only model.* and projector_*; the frozen blocks come from the CLIP file
    swa = {k: v for k, v in trained.full_state_dict().items() if not k.startswith(("raw_model.", "res_classifier."))}
    swa = {k: v for k, v in swa.items() if ".resblocks_f." not in k}
    path = tmp_path / "swa_2_22.pth"
    torch.save({"model_state": swa}, path)
    test_model = _model(False)
    info = load_kiclip_weights(test_model, path)
    assert all(".resblocks_f." in k for k in info["kept_from_clip"]) and info["kept_from_clip"]
    # a foreign file names itself and what is wrong
    bad = tmp_path / "bad.pth"
    torch.save({"model_state": {"foo.weight": torch.zeros(1)}}, bad)
    with pytest.raises(CheckpointError, match="bad.pth.*missing.*unexpected"):
        load_kiclip_weights(_model(False), bad)


def test_weight_average_window_from_zero_includes_raw_clip(tmp_path):
    raw = _clip_state(0)
    ckpts = []
    for e in (1, 2):
        m = _model(True)
        with torch.no_grad():
            m.model.logit_scale.fill_(float(e))
        ckpts.append((f"checkpoint_epoch_{e:05d}.pyth", m.state_dict()))
    with_raw = average_checkpoints(raw, ckpts, start=0, end=2)
    assert with_raw["checkpoint_ids_used"] == [0, 1, 2]
    expected = (raw["logit_scale"] + 1.0 + 2.0) / 3
    torch.testing.assert_close(with_raw["model_state"]["model.logit_scale"], expected)
    without = average_checkpoints(raw, ckpts, start=2, end=22)
    assert without["checkpoint_ids_used"] == [2]
    assert float(without["model_state"]["model.logit_scale"]) == 2.0
    # the file tool: a run folder of per-epoch checkpoints -> {"model_state": ...}
    run = tmp_path / "checkpoints"
    run.mkdir()
    for name, state in ckpts:
        torch.save({"epoch": int(name[-10:-5]), "model_state": state}, run / name)
    clip_file = tmp_path / "clip.pt"
    torch.save(raw, clip_file)
    out = tmp_path / "wa" / "swa_0_2.pth"
    weight_average(run, start=0, end=2, output=out, raw_clip=clip_file)
    saved = torch.load(out, weights_only=True)["model_state"]
    torch.testing.assert_close(saved["model.logit_scale"], expected)
    with pytest.raises(CheckpointError, match="no checkpoint epoch"):
        weight_average(run, start=5, end=9, output=out, raw_clip=clip_file)


def test_injection_off_and_eval_classifier_cache():
    m = _model(True)
    m.eval()
    with torch.no_grad():
        pred = m(_video())["pred"]
        cached = m(_video(), classifier=m.text_classifier())["pred"]
    torch.testing.assert_close(cached, pred)
    plain = _model(True, injection=False)
    assert plain.model.visual.transformer.resblocks_f is None
    random.seed(0)
    plain.train()
    out = plain(_video())
    assert set(out) >= {"pred", "img_encode_proj", "raw_text_classifier"}


def test_neighbour_attention_works_in_float64():
    q = torch.randn(4, 2, 5, 8, dtype=torch.float64)
    out, probs = neighbor_frame_attention(q, q, q, 2, return_probs=True)
    assert out.dtype == torch.float64 and torch.allclose(probs.sum(-1), torch.ones_like(probs[..., 0]))


def test_list_files_space_and_comma_and_errors(tmp_path):
    f = tmp_path / "test_1.csv"
    f.write_text("train/a.mp4 3\ntrain/b.mp4 0\n")
    items = read_list_file(f, prefix="/v", num_classes=5)
    assert [(i.path, i.label) for i in items] == [("/v/train/a.mp4", 3), ("/v/train/b.mp4", 0)]
    f.write_text("a.avi,1\nno_label_here\n")
    with pytest.raises(ListFileError, match=r"test_1.csv:2"):
        read_list_file(f)
    f.write_text("a.avi,7\n")
    with pytest.raises(ListFileError, match="outside the 5 classes"):
        read_list_file(f, num_classes=5)


def test_config_original_yaml_and_typos(tmp_path):
    from pathlib import Path

    yaml = Path(__file__).resolve().parents[1] / "configs" / "Kinetics" / "KICLIP_vitb16_8x16_STAdapter_K400.yaml"
    cfg = build_config(
        [yaml], ["SOLVER.BASE_LR", "3.33e-6", "DATA.PATH_LABEL_SEPARATOR", ",", "TEST.NUM_ENSEMBLE_VIEWS", "3"]
    )
    assert cfg.MODEL.NUM_CLASSES == 200 and cfg.SOLVER.BASE_LR == pytest.approx(3.33e-6) and cfg.RNG_SEED == 42
    with pytest.raises(ConfigError, match="SOLVER.BASE_LR"):
        build_config([], ["SOLVER.BASE_LRR", "1"])
    with pytest.raises(ConfigError, match="MIXUP"):
        build_config([], ["MIXUP.ENABLE", "True"])


def test_plain_class_names_when_the_descriptions_are_missing(tmp_path):
    import json

    from kiclip.prompts import load_class_texts, prompt_strings

    (tmp_path / "raw_train_idx2cls.json").write_text(json.dumps({"0": "pour", "1": "kick ball"}))
    texts, used = load_class_texts(tmp_path / "train_rephrased.json")
    assert texts == ["pour", "kick ball"] and used.name == "raw_train_idx2cls.json"
    assert prompt_strings(texts)[0] == ["a photo of pour. pour", "a photo of kick ball. kick ball"]
    (tmp_path / "train_rephrased.json").write_text(
        json.dumps({"0": "Pour: water into a glass", "1": "Kick ball: a kick"})
    )
    assert load_class_texts(tmp_path / "train_rephrased.json")[0][0] == "Pour: water into a glass"
    with pytest.raises(FileNotFoundError, match="raw_test_idx2cls.json"):
        load_class_texts(tmp_path / "test_rephrased.json")


def test_train_step_under_bf16_autocast():
    m = _model(True)
    m.train()
    random.seed(0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        from kiclip.losses import kiclip_loss

        terms = kiclip_loss(m(_video()), torch.tensor([0, 2]))
    terms["loss"].backward()
    assert torch.isfinite(terms["loss"]) and m.model.visual.conv1.weight.grad is not None
    assert all(p.grad is None for p in m.raw_model.parameters())
