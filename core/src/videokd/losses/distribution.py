"""Distribution-matching distillation over frames (DL-DKD).

DL-DKD distils, for every caption, the teacher's similarity distribution over the frames of the
caption's own video into the student's inheritance branch: ``KL(p_teacher || q_student)`` with
temperature 0.2 over the *valid* frames, **summed** over captions (so it scales with the batch).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["FrameKLTerms", "frame_kl_distillation_terms", "frame_kl_distillation"]


class FrameKLTerms(NamedTuple):
    """loss: () sum over captions ; per_caption_kl: (Nq,)."""

    loss: torch.Tensor
    per_caption_kl: torch.Tensor


def frame_kl_distillation_terms(
    student_frame_scores: torch.Tensor,
    teacher_frame_scores: torch.Tensor,
    videos_mask: torch.Tensor,
    labels: torch.Tensor,
    *,
    temperature: float = 0.2,
) -> FrameKLTerms:
    """Per-caption frame-level KL (DL-DKD ``clip_kl_only_pos``) and its sum.

    Args:
        student_frame_scores: ``(Nq, L, B)`` frame scores (caption, frame, video), any fill at
            padded frames (the original writes -1e10).
        teacher_frame_scores: ``(Nq, L, B)`` same layout.
        videos_mask: ``(B, L)`` 1 at valid frames, 0 at padding; every labelled video needs >= 1.
        labels: ``(Nq,)`` int, the video column of each caption.
        temperature: softmax temperature (a literal 0.2 in the original).

    For caption i with video v = labels[i] and its m valid frames:
    ``KL_i = sum_l p_l (log p_l - log q_l)``, p = softmax(T[i,:m,v]/tau), q = softmax(C[i,:m,v]/tau).
    The teacher is not detached (it has no parameters in DL-DKD); detach it yourself if needed.
    """
    if student_frame_scores.dim() != 3 or student_frame_scores.shape != teacher_frame_scores.shape:
        raise ValueError(
            "student_frame_scores and teacher_frame_scores must both be (Nq, L, B), got "
            f"{tuple(student_frame_scores.shape)} and {tuple(teacher_frame_scores.shape)}"
        )
    nq, length, b = student_frame_scores.shape
    if videos_mask.shape != (b, length):
        raise ValueError(f"videos_mask must be (B, L) = ({b}, {length}), got {tuple(videos_mask.shape)}")
    if labels.shape != (nq,):
        raise ValueError(f"labels must be (Nq,) = ({nq},), got {tuple(labels.shape)}")
    valid_video = videos_mask.bool().any(1)
    if nq and not bool(valid_video[labels].all()):
        raise ValueError("frame_kl_distillation: a caption's video has no valid frame in videos_mask")

    # (Nq, L): the frames of each caption's own video
    index = labels.view(nq, 1, 1).expand(nq, length, 1)
    student = student_frame_scores.gather(2, index).squeeze(2) / temperature
    teacher = teacher_frame_scores.gather(2, index).squeeze(2) / temperature
    mask = videos_mask.bool()[labels]
    neg = torch.finfo(student.dtype).min
    # padded frames get p = q = 0; their log-probs are zeroed so neither the value nor the
    # gradient can see 0 * inf
    log_q = student.masked_fill(~mask, neg).log_softmax(dim=1).masked_fill(~mask, 0.0)
    log_p = teacher.masked_fill(~mask, neg).log_softmax(dim=1).masked_fill(~mask, 0.0)
    p = log_p.exp().masked_fill(~mask, 0.0)
    kl = (p * (log_p - log_q)).sum(1)
    return FrameKLTerms(kl.sum(), kl)


def frame_kl_distillation(
    student_frame_scores: torch.Tensor,
    teacher_frame_scores: torch.Tensor,
    videos_mask: torch.Tensor,
    labels: torch.Tensor,
    *,
    temperature: float = 0.2,
) -> torch.Tensor:
    """DL-DKD frame-level KD loss, summed over captions (0-dim); see :func:`frame_kl_distillation_terms`."""
    return frame_kl_distillation_terms(
        student_frame_scores, teacher_frame_scores, videos_mask, labels, temperature=temperature
    ).loss
