"""Model and loss composition: shapes, the batches that crashed the original, clear errors."""

from __future__ import annotations

import pytest
import torch

from dldkd.losses import DLDKDLoss, kd_coefficient_for_epoch, soft_nce_ratios_for_epoch
from dldkd.model import build_model


def _model(share: bool = True, double: bool = True):
    torch.manual_seed(0)
    return build_model(
        visual_input_size=10,
        query_input_size=6,
        inheritance_hidden=8,
        exploration_hidden=8,
        n_heads=2,
        max_ctx_l=9,
        max_desc_l=5,
        share_query_input_proj=share,
        double_branch=double,
    )


def _batch(n_videos: int, caps_per_video: int, n_tokens: int = 4, n_frames: int = 6):
    g = torch.Generator().manual_seed(3)
    v = torch.randn(n_videos, n_frames, 10, generator=g)
    vm = torch.ones(n_videos, n_frames)
    vm[0, n_frames // 2 :] = 0
    nq = n_videos * caps_per_video
    t = torch.randn(nq, n_tokens, 6, generator=g)
    tm = torch.ones(nq, n_tokens)
    labels = torch.arange(n_videos).repeat_interleave(caps_per_video)
    teacher_t = torch.randn(nq, 5, generator=g)
    teacher_v = torch.randn(n_videos, n_frames, 5, generator=g) * vm[..., None]
    return v, vm, t, tm, labels, teacher_t, teacher_v


@pytest.mark.parametrize("label_style, share", [("hard", True), ("soft", False)])
@pytest.mark.parametrize("n_videos, caps, tokens", [(1, 1, 4), (1, 3, 1), (2, 1, 1), (4, 2, 4)])
def test_small_batches_train(label_style: str, share: bool, n_videos: int, caps: int, tokens: int) -> None:
    """One video, one query and one-token captions crashed the originals (IndexError / .squeeze())."""
    model = _model(share).train()
    v, vm, t, tm, labels, tt, tv = _batch(n_videos, caps, tokens)
    emb = model(v, vm, t, tm)
    assert emb["query_emb_inheritance"].shape == (n_videos * caps, 8)
    assert emb["video_emb_exploration"].shape == (n_videos, 6, 8)
    crit = DLDKDLoss(margin=0.1, hard_pool_size=3, label_style=label_style)
    out = crit(
        emb, videos_mask=vm, labels=labels, teacher_text=tt, teacher_video=tv, kd_coefficient=0.1, alpha=0.6, beta=0.7
    )
    assert out["loss_overall"].numel() == 1 and torch.isfinite(out["loss_overall"]).all()
    out["loss_overall"].sum().backward()
    no_grad = sorted(n for n, p in model.named_parameters() if p.grad is None)
    assert no_grad == sorted(model.params_without_grad())
    assert bool(no_grad) is share


def test_total_is_the_sum_of_terms_and_kd_scales_with_coefficient() -> None:
    model = _model().eval()
    v, vm, t, tm, labels, tt, tv = _batch(4, 2)
    emb = model(v, vm, t, tm)
    crit = DLDKDLoss(margin=0.2, hard_pool_size=1)
    a = crit(emb, videos_mask=vm, labels=labels, teacher_text=tt, teacher_video=tv, kd_coefficient=0.1)
    b = crit(emb, videos_mask=vm, labels=labels, teacher_text=tt, teacher_video=tv, kd_coefficient=0.2)
    total = a["inher_trip"] + a["inher_nce"] + a["kl_intra"] + a["explore_trip"] + a["explore_nce"]
    torch.testing.assert_close(a["loss_overall"], total)
    torch.testing.assert_close(b["kl_intra"], 2 * a["kl_intra"])
    torch.testing.assert_close(a["inher_nce"], 0.04 * a["nce_unweighted_inheritance"])
    # without the teacher / exploration branch those terms are absent
    single = _model(double=False).eval()
    emb1 = single(v, vm, t, tm)
    out = DLDKDLoss(margin=0.2, hard_pool_size=1, use_teacher=False, double_branch=False)(
        emb1, videos_mask=vm, labels=labels
    )
    assert set(k for k in ("kl_intra", "explore_trip", "explore_nce") if k in out) == set()
    torch.testing.assert_close(out["loss_overall"], out["inher_trip"] + out["inher_nce"])


def test_clear_errors() -> None:
    model = _model()
    v, vm, t, tm, *_ = _batch(2, 1)
    with pytest.raises(ValueError, match=r"\(B, L, 10\)"):
        model(v[..., :9], vm, t, tm)
    with pytest.raises(ValueError, match="q_feat_size"):
        model(v, vm, t[..., :5], tm)
    long_v = torch.randn(2, 12, 10)
    with pytest.raises(ValueError, match="exceeds the 9 learned positions"):
        model(long_v, torch.ones(2, 12), t, tm)
    with pytest.raises(ValueError, match="equal branch widths"):
        build_model(visual_input_size=4, query_input_size=4, inheritance_hidden=8, exploration_hidden=4, n_heads=2)
    with pytest.raises(ValueError, match="label_style"):
        DLDKDLoss(label_style="medium")
    with pytest.raises(ValueError, match="teacher"):
        DLDKDLoss()(model(v, vm, t, tm), videos_mask=vm, labels=torch.tensor([0, 1]))


def test_epoch_schedules_from_options() -> None:
    iccv = {"decay_way": 1, "exponential_k": 0.95, "loss_scale_weight": 0.1}
    assert kd_coefficient_for_epoch(iccv, 0) == pytest.approx(0.1)
    assert kd_coefficient_for_epoch(iccv, 10) == pytest.approx(0.1 * 0.95**10)
    up = {"decay_way": 4, "exponential_k": 0.95, "loss_scale_weight": 0.1, "loss_init_weight": 0.1}
    assert kd_coefficient_for_epoch(up, 0) == pytest.approx(0.1)  # 0.1 * (1 - 1) + 0.1
    pp = {"distill_loss_decay": "exp", "kl_intra_weight": 0.1}
    assert kd_coefficient_for_epoch(pp, 2) == pytest.approx(0.1 * 0.95**2)
    alpha, belta = soft_nce_ratios_for_epoch({"alpha": 0.8, "belta": 0.8, "n_epoch": 100}, 200)
    assert alpha == pytest.approx(0.0, abs=1e-6) and belta == 0.5
