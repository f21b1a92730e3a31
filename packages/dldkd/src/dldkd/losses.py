"""DL-DKD's training objective composed from the core losses.

Per branch X with caption vectors ``q^X`` (Nq, H) and frame vectors ``F^X`` (B, L, H):

* ``S^X`` cosine max-over-frames scores, ``U^X`` dot-product max-over-frames scores (Nq, B);
* ``trip(S^X)``: bidirectional triplet ranking with hard negatives from the top ``hard_pool_size``;
* ``nce(U^X)``: InfoNCE without temperature (``label_style="hard"``, the ICCV paper) or the DL-DKD++
  soft-target InfoNCE (``"soft"``) whose targets come from the teacher's dot scores (inheritance)
  or the branch's own, non-detached ``U^exp`` (exploration);
* KD (inheritance only): frame-level KL between the teacher's and the student's tau=0.2 frame
  distributions inside each caption's own video, summed over captions.

``loss = trip(S^inh) + w_nce*nce(U^inh) + c(e)*KD + trip(S^exp) + w_nce*nce(U^exp)`` where the KD
coefficient ``c(e)`` comes from :func:`kd_coefficient_for_epoch`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

import torch
from torch import nn

from videokd.losses import (
    frame_kl_distillation_terms,
    info_nce_terms,
    ratio_schedule,
    soft_info_nce,
    triplet_ranking_terms,
    weight_schedule,
)

from .model import FrameScores, frame_max_scores

__all__ = [
    "DLDKDLoss",
    "teacher_scores",
    "kd_weight_for_epoch",
    "kd_coefficient_for_epoch",
    "soft_nce_ratios_for_epoch",
    "DECAY_WAYS",
    "DISTILL_LOSS_DECAYS",
    "kd_weight",
    "kd_coefficient",
    "LOSS_TERMS",
    "ICCV_NAMES",
    # the core terms this objective is made of, re-exported as the package's loss API
    "triplet_ranking_terms",
    "info_nce_terms",
    "soft_info_nce",
    "frame_kl_distillation_terms",
]

# the weighted terms that add up to ``loss_overall`` (DL-DKD++ log names)
LOSS_TERMS = ("inher_trip", "inher_nce", "kl_intra", "explore_trip", "explore_nce")
# ICCV log names of the same terms
ICCV_NAMES = {
    "inher_trip": "clip_trip_loss",
    "inher_nce": "c_nce_loss",
    "kl_intra": "clip_guide_loss",
    "explore_trip": "frame_trip_loss",
    "explore_nce": "frame_nce_loss",
}


def teacher_scores(teacher_text: torch.Tensor, teacher_video: torch.Tensor, videos_mask: torch.Tensor) -> FrameScores:
    """The CLIP teacher's scores from precomputed features, masked with the **student** video mask.

    ``teacher_text`` (Nq, Dc), ``teacher_video`` (B, L, Dc), ``videos_mask`` (B, L). The cosine
    frame scores ``(Nq, L, B)`` are the KD target; the raw dot max ``(Nq, B)`` feeds the soft NCE.
    """
    if teacher_text.dim() == 3 and teacher_text.shape[1] == 1:
        teacher_text = teacher_text[:, 0]
    if teacher_video.shape[:2] != videos_mask.shape:
        raise ValueError(
            f"teacher video features {tuple(teacher_video.shape)} do not match the student video mask {tuple(videos_mask.shape)}"
        )
    return frame_max_scores(teacher_text, teacher_video, videos_mask)


#: ICCV ``--decay_way`` codes -> the core's named weight schedules
DECAY_WAYS: dict[int, str] = {
    0: "constant",
    1: "exp_decay",
    2: "linear_decay",
    3: "sigmoid_decay",
    4: "exp_rise",
    5: "linear_rise",
    6: "sigmoid_rise",
    7: "exp_growth_capped",
    8: "exp_saturating",
}
#: DL-DKD++ ``--distill_loss_decay`` values -> the same names
DISTILL_LOSS_DECAYS: dict[Optional[str], str] = {
    "exp": "exp_decay",
    "linear": "linear_decay",
    "sigmoid": "sigmoid_decay",
    "None": "constant",
    None: "constant",
}
# literals of the original schedules (not options)
_LINEAR_FLOOR = 0.05
_GROWTH = dict(growth_start=0.001, growth_rate=1.05, growth_cap=0.1)
_SATURATING = dict(saturating_scale=0.1, saturating_min=0.001, saturating_max=0.1)


def kd_weight(
    decay_way: int,
    epoch: int,
    *,
    exponential_k: float = 0.95,
    linear_k: float = -0.01,
    linear_b: float = 1.0,
    sigmoid_k: float = 800.0,
) -> float:
    """The ICCV KD weight w(e) of ``--decay_way`` 0..8 at 0-based ``epoch``."""
    if decay_way not in DECAY_WAYS:
        raise ValueError(f"decay_way must be one of {sorted(DECAY_WAYS)}, got {decay_way!r}")
    return weight_schedule(
        DECAY_WAYS[decay_way],
        epoch,
        exponential_k=exponential_k,
        linear_k=linear_k,
        linear_b=linear_b,
        linear_floor=_LINEAR_FLOOR,
        sigmoid_k=sigmoid_k,
        **_GROWTH,
        **_SATURATING,
    )


def kd_coefficient(decay_way: int, weight: float, *, loss_scale_weight: float, loss_init_weight: float = 0.0) -> float:
    """The ICCV KD-loss coefficient: ``loss_scale_weight * w`` (+ ``loss_init_weight`` for the rising ways 4-6)."""
    coef = loss_scale_weight * weight
    if DECAY_WAYS.get(decay_way, "").endswith("_rise"):
        coef += loss_init_weight
    return coef


def _getter(opt: Any):
    return opt.get if isinstance(opt, Mapping) else (lambda k, d=None: getattr(opt, k, d))


def kd_weight_for_epoch(opt: Any, epoch: int) -> float:
    """The dynamic KD weight w(e) at 0-based ``epoch``: DL-DKD++ ``distill_loss_decay`` when set,
    else ICCV ``decay_way`` (constants from ``opt``)."""
    get = _getter(opt)
    k = dict(
        exponential_k=float(get("exponential_k", 0.95)),
        linear_k=float(get("linear_k", -0.01)),
        linear_b=float(get("linear_b", 1.0)),
        sigmoid_k=float(get("sigmoid_k", 800.0)),
    )
    decay = get("distill_loss_decay", None)
    if decay is not None:
        if decay not in DISTILL_LOSS_DECAYS:
            raise ValueError(f"distill_loss_decay must be one of exp, linear, sigmoid, None; got {decay!r}")
        return weight_schedule(DISTILL_LOSS_DECAYS[decay], epoch, linear_floor=_LINEAR_FLOOR, **k)
    return kd_weight(int(get("decay_way", 0)), epoch, **k)


def kd_coefficient_for_epoch(opt: Any, epoch: int) -> float:
    """KD coefficient c(e) at 0-based ``epoch`` from the run options (a dict or a namespace).

    DL-DKD++ style when ``opt.distill_loss_decay`` is set (``exp``/``linear``/``sigmoid``/``None``
    string): ``kl_intra_weight * w(e)``. Otherwise the ICCV rule: ``loss_scale_weight * w(e)``
    (+ ``loss_init_weight`` for decay_way 4-6) with w from ``decay_way``.
    """
    get = _getter(opt)
    w = kd_weight_for_epoch(opt, epoch)
    if get("distill_loss_decay", None) is not None:
        return float(get("kl_intra_weight", 0.1)) * w
    return kd_coefficient(
        int(get("decay_way", 0)),
        w,
        loss_scale_weight=float(get("loss_scale_weight", 0.1)),
        loss_init_weight=float(get("loss_init_weight", 0.1)),
    )


def soft_nce_ratios_for_epoch(opt: Any, epoch: int) -> tuple[float, float]:
    """DL-DKD++ ``(alpha, belta)`` at ``epoch`` (alpha floors at 0, belta at 0.5 when it starts >= 0.5)."""
    get = _getter(opt)
    n_epoch = int(get("n_epoch", 100))
    sk = float(get("selfDistil_sigmoid_k", 800.0))
    ek = float(get("exponential_k", 0.95))
    alpha = ratio_schedule(
        get("alpha_decay", "sigmoid"),
        epoch,
        start=float(get("alpha", 0.8)),
        n_epoch=n_epoch,
        floor=0.0,
        exponential_k=ek,
        sigmoid_k=sk,
    )
    belta_start = float(get("belta", 0.8))
    belta = ratio_schedule(
        get("belta_decay", "sigmoid"),
        epoch,
        start=belta_start,
        n_epoch=n_epoch,
        floor=0.5 if belta_start >= 0.5 else 0.0,  # the original's rule for belta
        exponential_k=ek,
        sigmoid_k=sk,
    )
    return alpha, belta


class DLDKDLoss(nn.Module):
    """The DL-DKD (``label_style="hard"``) / DL-DKD++ (``"soft"``) objective.

    Args:
        margin: triplet margin (0.1 TVR, 0.2 otherwise).
        hard_pool_size: t2v negatives come from this many hardest other videos.
        use_hard_negative: False draws uniformly random negatives (before ``hard_negative_start_epoch``).
        label_style: ``"hard"`` InfoNCE or ``"soft"`` soft-target InfoNCE.
        inher_nce_weight, explore_nce_weight: NCE weights (0.04, a literal in the ICCV code).
        kd_temperature: frame-KL temperature (0.2, a literal in the original).
        use_teacher: add the KD term (``--use_clip``).
        double_branch: add the exploration terms.
    """

    def __init__(
        self,
        *,
        margin: float = 0.2,
        hard_pool_size: int = 20,
        use_hard_negative: bool = True,
        label_style: str = "hard",
        inher_nce_weight: float = 0.04,
        explore_nce_weight: float = 0.04,
        kd_temperature: float = 0.2,
        use_teacher: bool = True,
        double_branch: bool = True,
    ) -> None:
        super().__init__()
        if label_style not in ("hard", "soft"):
            raise ValueError(f"label_style must be 'hard' or 'soft', got {label_style!r}")
        self.margin = margin
        self.hard_pool_size = hard_pool_size
        self.use_hard_negative = use_hard_negative
        self.label_style = label_style
        self.nce_weight = {"inheritance": inher_nce_weight, "exploration": explore_nce_weight}
        self.kd_temperature = kd_temperature
        self.use_teacher = use_teacher
        self.double_branch = double_branch

    def forward(
        self,
        emb: Mapping[str, torch.Tensor],
        *,
        videos_mask: torch.Tensor,
        labels: torch.Tensor,
        teacher_text: Optional[torch.Tensor] = None,
        teacher_video: Optional[torch.Tensor] = None,
        kd_coefficient: float = 0.0,
        alpha: float = 1.0,
        beta: float = 1.0,
        neg_positions: Optional[Mapping[str, torch.Tensor]] = None,
        generator: Optional[torch.Generator] = None,
    ) -> dict[str, torch.Tensor]:
        """Compute every term.

        Args:
            emb: ``query_emb_<branch>`` (Nq, H) and ``video_emb_<branch>`` (B, L, H), as
                :meth:`dldkd.model.DLDKD.forward` returns them.
            videos_mask: ``(B, L)``. labels: ``(Nq,)`` batch index of each caption's video.
            teacher_text: ``(Nq, Dc)``; teacher_video: ``(B, L, Dc)`` (needed for KD / soft NCE).
            kd_coefficient: c(e) for this epoch. alpha, beta: soft-NCE ratios (soft style only).
            neg_positions: optional injected t2v negative positions per branch (tests).
            generator: RNG for the negative draws.

        Returns a dict with ``loss_overall`` and the weighted terms of :data:`LOSS_TERMS`, plus
        ``kl`` (unweighted KD), ``nce_unweighted_<branch>``, ``score_{cos,dot}_<branch>``,
        ``frame_cos_<branch>``, ``t2v_neg_video_<branch>`` and the teacher scores when used.
        """
        labels = labels.to(device=videos_mask.device, dtype=torch.long)
        branches = ("inheritance", "exploration") if self.double_branch else ("inheritance",)
        out: dict[str, torch.Tensor] = {}
        need_teacher = self.use_teacher or self.label_style == "soft"
        teacher: Optional[FrameScores] = None
        if need_teacher:
            if teacher_text is None or teacher_video is None:
                raise ValueError("the KD term / soft NCE need teacher_text (Nq, Dc) and teacher_video (B, L, Dc)")
            teacher = teacher_scores(teacher_text, teacher_video, videos_mask)
            out["score_cos_teacher"], out["frame_cos_teacher"], out["score_dot_teacher"] = teacher
        total = None
        short = {"inheritance": "inher", "exploration": "explore"}
        for name in branches:
            s = frame_max_scores(emb[f"query_emb_{name}"], emb[f"video_emb_{name}"], videos_mask)
            out[f"score_cos_{name}"], out[f"frame_cos_{name}"], out[f"score_dot_{name}"] = s
            trip = triplet_ranking_terms(
                s.score_cos,
                labels,
                margin=self.margin,
                hard_negative=self.use_hard_negative,
                hard_pool_size=self.hard_pool_size,
                t2v_neg_positions=None if neg_positions is None else neg_positions.get(name),
                generator=generator,
            )
            out[f"t2v_neg_video_{name}"] = trip.t2v_neg_video
            if self.label_style == "hard":
                nce = info_nce_terms(s.score_dot, labels).loss
            else:
                sims = teacher.score_dot if name == "inheritance" else s.score_dot  # type: ignore[union-attr]
                nce = soft_info_nce(s.score_dot, sims, labels, alpha=alpha, beta=beta)
            out[f"nce_unweighted_{name}"] = nce
            out[f"{short[name]}_trip"] = trip.loss
            out[f"{short[name]}_nce"] = self.nce_weight[name] * nce
            terms = out[f"{short[name]}_trip"] + out[f"{short[name]}_nce"]
            total = terms if total is None else total + terms
        if self.use_teacher:
            kl = frame_kl_distillation_terms(
                out["frame_cos_inheritance"],
                teacher.frame_cos,
                videos_mask,
                labels,  # type: ignore[union-attr]
                temperature=self.kd_temperature,
            ).loss
            out["kl"] = kl
            out["kl_intra"] = kd_coefficient * kl
            total = total + out["kl_intra"]
        out["loss_overall"] = total  # type: ignore[assignment]
        return out
