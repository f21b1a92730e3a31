"""Unit and property tests of ``videokd.losses`` (closed forms, invariants, edge cases, errors)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from videokd.losses import (
    WEIGHT_SCHEDULES,
    DINOLoss,
    attention_transfer_loss,
    clip_contrastive_loss,
    cosine_distance_loss,
    dino_center_update,
    dino_distillation_loss,
    feature_matching_loss,
    frame_kl_distillation,
    frame_kl_distillation_terms,
    frame_max_scores,
    frame_scores,
    hinton_kd_loss,
    info_nce,
    info_nce_terms,
    kd_kl_div,
    label_smoothing_cross_entropy,
    masked_reconstruction_loss,
    mmd_loss,
    ratio_schedule,
    sample_negative_positions,
    soft_info_nce,
    soft_target_cross_entropy,
    teacher_temperature_schedule,
    triplet_ranking_loss,
    triplet_ranking_terms,
    weight_schedule,
)

SETTINGS = settings(max_examples=25, deadline=None)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _labels(counts: list[int]) -> torch.Tensor:
    """Collate-style labels: captions of video 0, then video 1, ..."""
    return torch.cat([torch.full((c,), v, dtype=torch.long) for v, c in enumerate(counts)])


# ------------------------------------------------------------------------------------ logit KD


@SETTINGS
@given(n=st.integers(1, 6), c=st.integers(2, 9), t=st.floats(0.5, 8.0), seed=st.integers(0, 10_000))
def test_kd_kl_div_is_zero_when_student_equals_teacher(n: int, c: int, t: float, seed: int) -> None:
    logits = torch.randn(n, c, generator=_gen(seed)) * 5
    assert kd_kl_div(logits, logits.clone(), temperature=t).abs().item() < 1e-6
    other = torch.randn(n, c, generator=_gen(seed + 1))
    assert kd_kl_div(other, logits, temperature=t).item() >= -1e-6


def test_kd_kl_div_matches_torch_kl_div_and_t2_scaling() -> None:
    s, t = torch.randn(4, 7, generator=_gen(1)), torch.randn(4, 7, generator=_gen(2))
    ref = F.kl_div(F.log_softmax(s / 4, -1), F.softmax(t / 4, -1), reduction="batchmean")
    assert torch.allclose(kd_kl_div(s, t, temperature=4, scale_by_t2=False), ref, atol=1e-6)
    assert torch.allclose(kd_kl_div(s, t, temperature=4), 16 * ref, atol=1e-5)
    assert kd_kl_div(s, t, reduction="none").shape == (4,)
    assert torch.allclose(kd_kl_div(s, t, reduction="sum"), kd_kl_div(s, t, reduction="none").sum())
    with pytest.raises(ValueError, match="reduction"):
        kd_kl_div(s, t, reduction="mean")
    with pytest.raises(ValueError, match="teacher_logits"):
        kd_kl_div(s, t[:, :3])


def test_hinton_kd_loss_mixes_ce_and_kd() -> None:
    s, t = torch.randn(5, 6, generator=_gen(3)), torch.randn(5, 6, generator=_gen(4))
    y = torch.randint(0, 6, (5,), generator=_gen(5))
    assert torch.allclose(hinton_kd_loss(s, t, y, alpha=0.0), F.cross_entropy(s, y))
    mixed = hinton_kd_loss(s, t, y, alpha=0.3, temperature=2.0)
    assert torch.allclose(mixed, 0.7 * F.cross_entropy(s, y) + 0.3 * kd_kl_div(s, t, temperature=2.0))
    assert torch.allclose(hinton_kd_loss(s, t, None, alpha=1.0, temperature=2.0), kd_kl_div(s, t, temperature=2.0))
    with pytest.raises(ValueError, match="alpha == 1"):
        hinton_kd_loss(s, t, None, alpha=0.5)


def test_soft_target_cross_entropy_equals_ce_for_integer_labels() -> None:
    x = torch.randn(6, 5, generator=_gen(6))
    y = torch.randint(0, 5, (6,), generator=_gen(7))
    assert torch.allclose(soft_target_cross_entropy(x, y), F.cross_entropy(x, y), atol=1e-6)
    soft = torch.rand(6, 5, generator=_gen(8))
    ref = -(soft / soft.sum(1, keepdim=True) * F.log_softmax(x, -1)).sum(1)
    assert torch.allclose(soft_target_cross_entropy(x, soft, normalize_targets=True, reduction="none"), ref, atol=1e-6)
    with pytest.raises(ValueError, match="soft targets"):
        soft_target_cross_entropy(x, soft[:, :3])


def test_label_smoothing_cross_entropy_matches_torch() -> None:
    x = torch.randn(6, 10, generator=_gen(9))
    y = torch.randint(0, 10, (6,), generator=_gen(10))
    assert torch.allclose(
        label_smoothing_cross_entropy(x, y, smoothing=0.1), F.cross_entropy(x, y, label_smoothing=0.1), atol=1e-6
    )
    assert torch.allclose(label_smoothing_cross_entropy(x, y, smoothing=0.0), F.cross_entropy(x, y), atol=1e-6)
    with pytest.raises(ValueError, match="smoothing"):
        label_smoothing_cross_entropy(x, y, smoothing=1.0)
    with pytest.raises(ValueError, match="target must be"):
        label_smoothing_cross_entropy(x, y[:3])


# ---------------------------------------------------------------------------------- feature KD


def test_cosine_distance_loss() -> None:
    f = torch.randn(8, 16, generator=_gen(11))
    assert cosine_distance_loss(f, 3 * f).abs().item() < 1e-6
    assert cosine_distance_loss(f, -f).item() == pytest.approx(2.0, abs=1e-6)
    ref = 1 - F.cosine_similarity(f, f.flip(0), dim=-1).mean()
    assert torch.allclose(cosine_distance_loss(f, f.flip(0)), ref)
    with pytest.raises(ValueError, match="same shape"):
        cosine_distance_loss(f, f[:, :4])


def test_feature_matching_and_attention_transfer() -> None:
    a, b = torch.randn(3, 5, generator=_gen(12)), torch.randn(3, 5, generator=_gen(13))
    assert torch.allclose(feature_matching_loss(a, b), F.mse_loss(a, b))
    assert torch.allclose(feature_matching_loss(a, b, kind="l1"), F.l1_loss(a, b))
    assert torch.allclose(feature_matching_loss(a, b, kind="smooth_l1", beta=0.5), F.smooth_l1_loss(a, b, beta=0.5))
    with pytest.raises(ValueError, match="kind"):
        feature_matching_loss(a, b, kind="huber")
    x2d = torch.randn(2, 4, 6, 6, generator=_gen(14))
    x3d = x2d[:, :, None].expand(2, 4, 3, 6, 6) * 2  # same map at every time step, other scale
    assert attention_transfer_loss(x3d, x2d).item() < 1e-10  # normalised maps: scale and T do not matter
    assert attention_transfer_loss(torch.randn(2, 8, 6, 6, generator=_gen(15)), x2d).item() > 0
    with pytest.raises(ValueError, match="spatial"):
        attention_transfer_loss(torch.randn(2, 4, 5, 5), x2d)


# ------------------------------------------------------------------------------- contrastive


def test_info_nce_with_one_caption_per_video_is_two_cross_entropies() -> None:
    u = torch.randn(6, 6, generator=_gen(16)) * 3
    y = torch.arange(6)
    ref = F.cross_entropy(u, y) + F.cross_entropy(u.t(), y)
    assert torch.allclose(info_nce(u, y), ref, atol=1e-6)
    assert torch.allclose(info_nce(u, y, temperature=0.5), info_nce(u / 0.5, y), atol=1e-6)
    # CLIP loss averages the two directions and scales features by logit_scale
    img, txt = (
        F.normalize(torch.randn(6, 8, generator=_gen(17)), dim=1),
        F.normalize(torch.randn(6, 8, generator=_gen(18)), dim=1),
    )
    assert torch.allclose(clip_contrastive_loss(img, txt, 10.0), info_nce(10.0 * img @ txt.t(), y) / 2, atol=1e-5)
    with pytest.raises(ValueError, match="image_features"):
        clip_contrastive_loss(img, txt[:3], 1.0)


def test_info_nce_multi_positive_column_term() -> None:
    labels = _labels([3, 1, 2])
    u = torch.randn(6, 3, generator=_gen(19))
    terms = info_nce_terms(u, labels)
    own = torch.logsumexp(u[:3, 0], 0)
    assert torch.allclose(terms.v2t_term[0], torch.logsumexp(u[:, 0], 0) - own)
    with pytest.raises(ValueError, match="columns \\[3\\]"):
        info_nce(torch.randn(6, 4), labels)  # video 3 has no caption


def test_soft_info_nce_reduces_to_info_nce_and_trains_the_sims() -> None:
    labels = _labels([3, 2, 2, 1])
    u = torch.randn(8, 4, generator=_gen(20), requires_grad=True)
    sims = torch.randn(8, 4, generator=_gen(21), requires_grad=True)
    assert torch.allclose(soft_info_nce(u, sims, labels, alpha=1.0, beta=0.3), info_nce(u, labels), atol=1e-5)
    soft_info_nce(u, sims, labels, alpha=0.5, beta=0.3).backward()
    assert sims.grad is not None and sims.grad.abs().sum() > 0  # targets are not detached
    with pytest.raises(ValueError, match="sims"):
        soft_info_nce(u, sims[:, :2], labels, alpha=0.5, beta=0.5)


# ----------------------------------------------------------------------------------- ranking


def _triplet_reference(s: torch.Tensor, labels: torch.Tensor, margin: float) -> float:
    """Loop version with the hardest negatives (hard_pool_size = 1)."""
    nq, b = s.shape
    t2v = 0.0
    for i in range(nq):
        others = [s[i, v].item() for v in range(b) if v != labels[i]]
        t2v += max(0.0, margin + max(others) - s[i, labels[i]].item())
    v2t = 0.0
    for v in range(b):
        own = [s[i, v].item() for i in range(nq) if labels[i] == v]
        neg = [s[i, v].item() for i in range(nq) if labels[i] != v]
        v2t += max(0.0, margin + max(neg) - sum(own) / len(own))
    return t2v / nq + v2t / b


def test_triplet_hardest_negative_matches_loop_reference() -> None:
    labels = _labels([3, 2, 1, 2])
    s = torch.rand(8, 4, generator=_gen(22))
    got = triplet_ranking_loss(s, labels, margin=0.2, hard_pool_size=1)
    assert got.item() == pytest.approx(_triplet_reference(s, labels, 0.2), abs=1e-6)


def test_triplet_sampling_is_reproducible_with_a_generator() -> None:
    labels = _labels([2, 2, 2, 1, 1])
    s = torch.rand(8, 5, generator=_gen(23))
    a = triplet_ranking_terms(s, labels, margin=0.1, hard_pool_size=3, generator=_gen(7))
    b = triplet_ranking_terms(s, labels, margin=0.1, hard_pool_size=3, generator=_gen(7))
    assert torch.equal(a.t2v_neg_video, b.t2v_neg_video) and torch.equal(a.loss, b.loss)
    # negatives come from the top-3 other videos of each row
    others = s.clone()
    others[torch.arange(8), labels] = -1
    top3 = others.topk(3, dim=1).indices
    assert bool((top3 == a.t2v_neg_video[:, None]).any(1).all())
    rand = triplet_ranking_terms(s, labels, margin=0.1, hard_negative=False, generator=_gen(8))
    assert bool((rand.v2t_neg_query >= 0).all()) and bool((labels[rand.v2t_neg_query] != torch.arange(5)).all())
    pos = sample_negative_positions(100, 5, hard_negative=True, hard_pool_size=20, generator=_gen(9))
    assert int(pos.min()) >= 1 and int(pos.max()) <= 4


def test_triplet_edge_cases_and_errors() -> None:
    # a single video: no negative anywhere -> 0 (the original raises IndexError)
    one = triplet_ranking_terms(torch.rand(3, 1), torch.zeros(3, dtype=torch.long), margin=0.1)
    assert one.loss.item() == 0.0 and bool((one.t2v_neg_video == -1).all())
    labels = torch.tensor([0, 0, 2])
    with pytest.raises(ValueError, match="videos \\[1\\] have none"):
        triplet_ranking_loss(torch.rand(3, 3), labels, margin=0.1)
    with pytest.raises(ValueError, match="t2v_neg_positions"):
        triplet_ranking_loss(torch.rand(2, 2), torch.tensor([0, 1]), margin=0.1, t2v_neg_positions=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="labels must be"):
        triplet_ranking_loss(torch.rand(2, 2), torch.tensor([0, 1, 1]), margin=0.1)


# ------------------------------------------------------------------------- frame distillation


def _frame_problem(seed: int, nq: int = 5, length: int = 6, b: int = 3):
    g = _gen(seed)
    labels = torch.randint(0, b, (nq,), generator=g)
    lengths = torch.randint(1, length + 1, (b,), generator=g)
    mask = (torch.arange(length)[None] < lengths[:, None]).float()
    return torch.randn(nq, length, b, generator=g), torch.randn(nq, length, b, generator=g), mask, labels


@SETTINGS
@given(seed=st.integers(0, 10_000))
def test_frame_kl_is_zero_for_identical_scores_and_ignores_padding(seed: int) -> None:
    student, teacher, mask, labels = _frame_problem(seed)
    assert frame_kl_distillation(teacher.clone(), teacher, mask, labels).abs().item() < 1e-5
    # garbage at padded frames and in other videos' columns changes nothing
    garbage = student.clone()
    pad = ~mask.bool().t()[None].expand_as(garbage)
    garbage[pad] = 1e10
    assert torch.allclose(
        frame_kl_distillation(garbage, teacher, mask, labels), frame_kl_distillation(student, teacher, mask, labels)
    )


def test_frame_kl_is_a_sum_over_captions_with_finite_gradients() -> None:
    student, teacher, mask, labels = _frame_problem(3, nq=7)
    student[~mask.bool().t()[None].expand_as(student)] = -1e10  # the original's fill
    student.requires_grad_()
    terms = frame_kl_distillation_terms(student, teacher, mask, labels)
    assert torch.allclose(terms.loss, terms.per_caption_kl.sum())
    i, v = 0, int(labels[0])
    m = int(mask[v].sum())
    p = F.softmax(teacher[i, :m, v] / 0.2, 0)
    ref = (p * (p.log() - F.log_softmax(student[i, :m, v].detach() / 0.2, 0))).sum()
    assert terms.per_caption_kl[0].item() == pytest.approx(ref.item(), rel=1e-5, abs=1e-6)
    terms.loss.backward()
    assert torch.isfinite(student.grad).all()
    with pytest.raises(ValueError, match="no valid frame"):
        frame_kl_distillation(student.detach(), teacher, torch.zeros_like(mask), labels)
    with pytest.raises(ValueError, match="videos_mask"):
        frame_kl_distillation(student.detach(), teacher, mask[:, :2], labels)


def test_frame_scores_masking() -> None:
    q = torch.randn(4, 8, generator=_gen(30), requires_grad=True)
    ctx = torch.randn(3, 5, 8, generator=_gen(31))
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.float)
    ctx[mask == 0] = float("inf")  # garbage must not leak into values or gradients
    out = frame_scores(q, ctx, mask)
    assert out.frame.shape == (4, 5, 3)
    assert bool((out.frame[:, 1:, 1] == -1e10).all())
    clean = torch.where(mask.bool()[..., None], ctx, torch.zeros(()))
    ref = (F.normalize(q, dim=-1) @ F.normalize(clean[1, :1], dim=-1).t()).squeeze(1)
    assert torch.allclose(out.score[:, 1], ref, atol=1e-6)
    out.score.sum().backward()
    assert torch.isfinite(q.grad).all()
    dot = frame_max_scores(q, clean, mask, normalize=False)
    assert torch.allclose(dot[:, 2], (q @ clean[2].t()).max(1).values)
    with pytest.raises(ValueError, match="context_mask"):
        frame_scores(q, ctx, mask[:, :2])


# --------------------------------------------------------------------------------- schedules


def test_weight_schedules_values_and_errors() -> None:
    assert [round(weight_schedule("exp_decay", e), 4) for e in (0, 10, 20)] == [1.0, 0.5987, 0.3585]
    assert weight_schedule("linear_decay", 1000) == 0.05  # the floor
    assert weight_schedule("linear_rise", 10) == pytest.approx(0.1)
    assert weight_schedule("exp_saturating", 0) == 0.001 and weight_schedule("exp_growth_capped", 1000) == 0.1
    assert weight_schedule("sigmoid_decay", 8) == pytest.approx(800 / (800 + math.e))
    assert weight_schedule("constant", 7) == 1.0
    for name in WEIGHT_SCHEDULES:
        assert 0.0 <= weight_schedule(name, 3) <= 1.0
    assert ratio_schedule("cosine", 100, start=0.8, n_epoch=100, floor=0.0) == pytest.approx(0.0, abs=1e-12)
    assert ratio_schedule("exp", 1000, start=0.8, n_epoch=100, floor=0.5) == 0.5
    assert ratio_schedule("None", 5, start=0.8, n_epoch=100) == 0.8
    with pytest.raises(ValueError, match="unknown weight schedule 'step'"):
        weight_schedule("step", 0)
    with pytest.raises(ValueError, match="ratio decay"):
        ratio_schedule("step", 0, start=0.8, n_epoch=10)


def test_teacher_temperature_schedule() -> None:
    t = teacher_temperature_schedule(
        warmup_teacher_temp=0.04, teacher_temp=0.07, warmup_teacher_temp_epochs=4, num_epochs=6
    )
    assert t.dtype == torch.float64 and t.tolist() == pytest.approx([0.04, 0.05, 0.06, 0.07, 0.07, 0.07])
    with pytest.raises(ValueError, match="warmup_teacher_temp_epochs"):
        teacher_temperature_schedule(
            warmup_teacher_temp=0.04, teacher_temp=0.07, warmup_teacher_temp_epochs=7, num_epochs=6
        )


# ------------------------------------------------------------------------------- XKD pieces


def test_mmd_is_zero_for_identical_sets_and_positive_otherwise() -> None:
    x = torch.randn(6, 4, generator=_gen(40), dtype=torch.float64)
    assert mmd_loss(x, x.clone()).abs().item() < 1e-12
    assert mmd_loss(x, x + 3.0).item() > 0.1
    with pytest.raises(ValueError, match="same d"):
        mmd_loss(x, x[:, :2])


def test_dino_loss_reference_and_centre() -> None:
    s, t = torch.randn(6, 5, generator=_gen(41)), torch.randn(4, 5, generator=_gen(42))
    c = torch.randn(1, 5, generator=_gen(43))
    got = dino_distillation_loss(s, t, c, student_temp=0.1, teacher_temp=0.05, num_student_views=3, num_teacher_views=2)
    q = F.softmax((t - c) / 0.05, -1).chunk(2)
    ls = F.log_softmax(s / 0.1, -1).chunk(3)
    ref = sum((-qq * l).sum(-1).mean() for qq in q for l in ls) / 6
    assert torch.allclose(got, ref, atol=1e-5)
    assert torch.allclose(dino_center_update(c, t, momentum=0.9), 0.9 * c + 0.1 * t.mean(0, keepdim=True))
    loss = DINOLoss(5, center_momentum=0.9)
    assert loss.state_dict().keys() == {"center"}
    loss.eval()(s, t, student_temp=0.1, teacher_temp=0.05, num_student_views=3, num_teacher_views=2)
    assert torch.equal(loss.center, torch.zeros(1, 5))  # eval mode leaves the centre alone
    with pytest.raises(ValueError, match="views"):
        dino_distillation_loss(s, t, c, student_temp=0.1, teacher_temp=0.05, num_student_views=4, num_teacher_views=2)


def test_masked_reconstruction_uses_masked_patches_only() -> None:
    target = torch.randn(2, 5, 6, generator=_gen(44))
    pred = torch.randn(2, 5, 6, generator=_gen(45))
    mask = torch.tensor([[1, 0, 1, 0, 0], [0, 0, 0, 1, 1]], dtype=torch.float)
    other = pred.clone()
    other[mask == 0] = 100.0  # visible patches do not count
    raw = masked_reconstruction_loss(pred, target, mask, norm_pix=False)
    assert torch.allclose(raw, masked_reconstruction_loss(other, target, mask, norm_pix=False))
    assert torch.allclose(raw, (pred - target).pow(2).mean(-1)[mask.bool()].mean())
    with pytest.raises(ValueError, match="mask"):
        masked_reconstruction_loss(pred, target, mask[:, :2])
