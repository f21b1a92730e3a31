"""The 2D teacher and the distillation terms: closed-form cases and the input mapping."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
import torchvision

from kd2d3d.models import build_model
from kd2d3d.opts import default_config, norm_method, resolve
from kd2d3d.teacher import Distiller, DistillStudent, Teacher2D, TeacherError, build_teacher
from videokd.data.transforms import IMAGENET_MEAN, IMAGENET_STD


def _kd(**kw):
    base = {"type": "logits", "alpha": 0.5, "temperature": 4.0, "beta": 1.0, "at_weight": 0.0}
    return Distiller({**base, **kw})


def test_identical_logits_give_zero_kd_and_the_ce_share():
    logits = torch.randn(5, 7)
    y = torch.randint(0, 7, (5,))
    terms = _kd(alpha=0.3)({"logits": logits}, y, {"logits": logits.clone()})
    assert terms["kd_logits"].abs() < 1e-6
    assert torch.allclose(terms["loss"], 0.7 * F.cross_entropy(logits, y))


def test_kd_term_is_t2_scaled_kl_of_softened_distributions():
    s, t = torch.randn(4, 6), torch.randn(4, 6)
    y = torch.zeros(4, dtype=torch.long)
    for temp in (1.0, 4.0):
        terms = _kd(alpha=1.0, temperature=temp)({"logits": s}, y, {"logits": t})
        p = F.softmax(t / temp, -1)
        ref = (p * (p.log() - F.log_softmax(s / temp, -1))).sum(-1).mean() * temp**2
        assert torch.allclose(terms["kd_logits"], ref, atol=1e-6)
        assert torch.allclose(terms["loss"], ref, atol=1e-6)  # alpha 1: no CE


def test_uniform_teacher_kd_is_ce_against_uniform_minus_entropy():
    s = torch.randn(3, 5)
    y = torch.zeros(3, dtype=torch.long)
    terms = _kd(alpha=1.0, temperature=1.0)({"logits": s}, y, {"logits": torch.zeros(3, 5)})
    ce_uniform = -(F.log_softmax(s, -1).mean(-1)).mean()
    assert torch.allclose(terms["kd_logits"], ce_uniform - math.log(5), atol=1e-6)


def test_feature_and_attention_terms():
    d = Distiller({"type": "feature", "alpha": 0.5, "temperature": 4.0, "beta": 2.0, "at_weight": 0.5})
    student = {"logits": torch.randn(2, 3), "features": torch.ones(2, 4), "layer4": torch.rand(2, 8, 1, 2, 2)}
    teacher = {"features": torch.zeros(2, 4), "maps": torch.rand(2, 16, 3, 4, 4)}
    terms = d(student, torch.tensor([0, 1]), teacher)
    assert torch.allclose(terms["kd_feature"], torch.tensor(1.0))
    assert terms["kd_at"] >= 0
    want = terms["ce"] + 2.0 * terms["kd_feature"] + 0.5 * terms["kd_at"]
    assert torch.allclose(terms["loss"], want)


def test_teacher_sees_imagenet_normalised_frames_and_averages_over_time():
    cfg = default_config()
    cfg.update({"norm_value": 1, "mean_dataset": "kinetics", "std_norm": True})
    opts = resolve(cfg)
    mean, std = norm_method(opts)
    net = torchvision.models.resnet18(num_classes=4).eval()
    teacher = Teacher2D(net, student_mean=mean, student_std=std, norm_value=1).eval()
    pixels = torch.randint(0, 256, (2, 3, 3, 32, 32)).float()  # (B, 3, T, H, W) in 0..255
    student_in = (pixels - torch.tensor(mean).view(1, 3, 1, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1, 1)
    with torch.no_grad():
        out = teacher(student_in)
        frames = pixels.transpose(1, 2).reshape(6, 3, 32, 32) / 255.0
        frames = (frames - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        ref = net(frames).view(2, 3, 4).mean(1)
    assert torch.allclose(out["logits"], ref, atol=1e-4)
    assert out["features"].shape == (2, 512) and out["maps"].shape[:3] == (2, 512, 3)


def test_build_teacher_loads_a_weights_file_and_names_a_missing_one(tmp_path):
    cfg = default_config()
    cfg["kd"]["type"] = "logits"
    with pytest.raises(TeacherError, match="no teacher weights"):
        build_teacher(cfg, n_classes=3, mean=[0, 0, 0], std=[1, 1, 1], norm_value=1)
    cfg["kd"]["type"] = "feature"
    with pytest.raises(TeacherError, match="no teacher weights"):
        build_teacher(cfg, n_classes=3, mean=[0, 0, 0], std=[1, 1, 1], norm_value=1)
    assert build_teacher(cfg, n_classes=3, mean=[0, 0, 0], std=[1, 1, 1], norm_value=1, allow_random=True)
    cfg["teacher"]["weights"] = str(tmp_path / "missing.pth")
    with pytest.raises(TeacherError, match="missing.pth"):
        build_teacher(cfg, n_classes=3, mean=[0, 0, 0], std=[1, 1, 1], norm_value=1)
    net = torchvision.models.resnet18(num_classes=3)
    torch.save({"module." + k: v for k, v in net.state_dict().items()}, tmp_path / "t.pth")
    cfg["teacher"]["weights"] = str(tmp_path / "t.pth")
    teacher = build_teacher(cfg, n_classes=3, mean=[0, 0, 0], std=[1, 1, 1], norm_value=1)
    assert torch.equal(teacher.net.fc.weight, net.fc.weight)


def test_student_wrapper_keeps_the_lineage_state_dict_of_its_net():
    net = build_model(model_depth=10, n_classes=3, base_width=8)
    student = DistillStudent(net, teacher_features=16, with_maps=True)
    out = student(torch.randn(2, 3, 4, 32, 32))
    assert out["logits"].shape == (2, 3) and out["features"].shape == (2, 16) and out["layer4"].dim() == 5
    assert list(student.net.state_dict())[0] == "conv1.weight"
