"""Parameter groups, optimizer construction, clipping and the EMA teacher update."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from videokd.engine import (
    BertAdam,
    build_optimizer,
    clip_grad_norm,
    clip_grad_norm_per_tensor,
    ema_update,
    param_groups,
)


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.logit_scale = nn.Parameter(torch.tensor(4.6))  # 0-d
        self.pos_embed = nn.Parameter(torch.zeros(1, 5, 8))
        self.visual = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8))
        self.fc = nn.Linear(8, 3)
        self.frozen = nn.Linear(8, 8).requires_grad_(False)


def _names(groups: list[dict]) -> list[list[str]]:
    return [g["param_names"] for g in groups]


def test_1d_and_bias_rule_decays_0d_and_embeddings() -> None:
    groups = param_groups(Tiny(), weight_decay=0.01, lr=1e-3)
    assert [g["name"] for g in groups] == ["decay", "no_decay"]
    assert _names(groups) == [
        ["logit_scale", "pos_embed", "visual.0.weight", "fc.weight"],
        ["visual.0.bias", "visual.1.weight", "visual.1.bias", "fc.bias"],
    ]
    assert [g["weight_decay"] for g in groups] == [0.01, 0.0] and [g["lr"] for g in groups] == [1e-3, 1e-3]
    # XKD order: the no-decay group first
    assert [g["name"] for g in param_groups(Tiny(), weight_decay=0.3, no_decay_first=True)] == ["no_decay", "decay"]


def test_substring_rule_lr_multipliers_and_frozen() -> None:
    groups = param_groups(
        Tiny(), weight_decay=0.01, lr=0.1, no_decay=("bias", "LayerNorm"), lr_mult={r"^visual\.": 0.5, r"^fc": 10.0}
    )
    by_name = {n: g for g in groups for n in g["param_names"]}
    assert (
        by_name["visual.0.weight"]["lr"] == pytest.approx(0.05) and by_name["visual.0.weight"]["weight_decay"] == 0.01
    )
    assert by_name["visual.0.bias"]["lr"] == pytest.approx(0.05) and by_name["visual.0.bias"]["weight_decay"] == 0.0
    assert by_name["fc.weight"]["lr"] == pytest.approx(1.0) and by_name["fc.weight"]["lr_mult"] == 10.0
    assert "frozen.weight" not in by_name
    assert "frozen.weight" in {
        n for g in param_groups(Tiny(), weight_decay=0.0, include_frozen=True) for n in g["param_names"]
    }
    # every trainable parameter exactly once
    assert sorted(by_name) == sorted(n for n, p in Tiny().named_parameters() if p.requires_grad)
    layer_decay = param_groups(
        Tiny(), weight_decay=0.0, lr=1.0, no_decay=None, lr_mult=lambda n: 0.1 if n.startswith("visual") else 1.0
    )
    assert sorted(g["lr"] for g in layer_decay) == [0.1, 1.0]
    with pytest.raises(ValueError, match="unknown no_decay rule"):
        param_groups(Tiny(), weight_decay=0.1, no_decay="everything")
    with pytest.raises(ValueError, match="no trainable parameters"):
        param_groups(nn.Linear(2, 2).requires_grad_(False), weight_decay=0.1)


def test_build_optimizer_variants() -> None:
    m = Tiny()
    sgd = build_optimizer(
        "sgd", param_groups(m, weight_decay=1e-3, no_decay=None), lr=0.1, momentum=0.9, dampening=0.9, nesterov=True
    )
    assert sgd.param_groups[0]["dampening"] == 0.0 and sgd.param_groups[0]["nesterov"]  # nesterov forces dampening 0
    adamw = build_optimizer("AdamW", m.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.3)
    assert isinstance(adamw, torch.optim.AdamW) and adamw.defaults["betas"] == (0.9, 0.95)
    bert = build_optimizer("bertadam", m.parameters(), lr=1e-4, eps=1e-6, warmup=0.01, t_total=100)
    assert isinstance(bert, BertAdam) and bert.defaults["e"] == 1e-6
    with pytest.raises(ValueError, match="unknown optimizer 'lamb'"):
        build_optimizer("lamb", m.parameters(), lr=1.0)
    with pytest.raises(ValueError, match="warmup"):
        BertAdam(m.parameters(), lr=1.0, warmup=1.5)


def test_bertadam_first_update_uses_multiplier_zero_and_no_grad_keeps_counter() -> None:
    a, b = nn.Parameter(torch.ones(3)), nn.Parameter(torch.ones(3))
    opt = BertAdam([a, b], lr=0.1, warmup=0.5, t_total=4, weight_decay=0.0)
    a.grad = torch.full((3,), 0.5)
    opt.step()
    assert torch.equal(a.detach(), torch.ones(3))  # warmup_linear(0) == 0
    assert opt.state[a]["step"] == 1 and b not in opt.state
    opt.step()
    assert (a.detach() < 1).all() and opt.get_lr()[0] == pytest.approx(0.1 * (2 / 4) / 0.5)


def test_clip_grad_norm_global_and_per_tensor() -> None:
    p, q = nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(3))
    p.grad, q.grad = torch.tensor([3.0, 4.0]), torch.tensor([0.0, 0.3, 0.4])
    total = clip_grad_norm([p, q], 1.0)
    assert total.item() == pytest.approx((25 + 0.25) ** 0.5)
    assert torch.linalg.vector_norm(torch.cat([p.grad, q.grad])).item() == pytest.approx(1.0, rel=1e-5)

    p.grad, q.grad = torch.tensor([3.0, 4.0]), torch.tensor([0.0, 0.3, 0.4])
    norms = clip_grad_norm_per_tensor([p, q], 1.0)
    assert norms.tolist() == pytest.approx([5.0, 0.5])
    assert p.grad.tolist() == pytest.approx([3 / (5 + 1e-6), 4 / (5 + 1e-6)])
    assert q.grad.tolist() == pytest.approx([0.0, 0.3, 0.4])  # below the threshold: untouched


def test_ema_update_pairs_by_name_and_handles_shared_tensors() -> None:
    student, teacher = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)), nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    teacher[1].weight = teacher[0].weight  # a tensor shared inside the teacher moves once per call
    with torch.no_grad():
        for p in student.parameters():
            p.fill_(1.0)
        for p in teacher.parameters():
            p.fill_(0.0)
    ema_update(teacher, student, 0.75)
    assert teacher[0].weight.unique().tolist() == [0.25] and teacher[1].bias.unique().tolist() == [0.25]
    ema_update(teacher, student, 0.5, buffers=True)
    assert teacher[0].weight.unique().tolist() == [0.625]
    with pytest.raises(KeyError, match="no student counterpart"):
        ema_update(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2)), student, 0.9)
    with pytest.raises(ValueError, match="'0.weight' is"):
        ema_update(nn.Sequential(nn.Linear(3, 2)), nn.Sequential(nn.Linear(2, 2)), 0.9)
