"""Feature-level distillation losses.

* :func:`cosine_distance_loss` - ``1 - mean cos(student_i, teacher_i)`` (KICLIP / FROSTER image
  and text feature distillation; the residual projection heads live in the package).
* :func:`feature_matching_loss` - MSE / L1 / smooth-L1 between features (mean over elements).
* :func:`attention_transfer_loss` - Zagoruyko & Komodakis attention transfer on activation maps,
  3D maps averaged over time first (the kd2d3d design).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["cosine_distance_loss", "feature_matching_loss", "attention_transfer_loss", "attention_map"]


def cosine_distance_loss(student: torch.Tensor, teacher: torch.Tensor, *, eps: float = 1e-8) -> torch.Tensor:
    """``1 - mean_i cos(student_i, teacher_i)`` over the leading dims, cosine along the last dim.

    Args:
        student: ``(..., D)``, e.g. per-frame features ``(B*T, D)`` or class vectors ``(C, D)``.
        teacher: same shape as ``student``.
        eps: ``F.cosine_similarity`` eps (its default, 1e-8, as KICLIP).
    """
    if student.shape != teacher.shape:
        raise ValueError(
            f"student {tuple(student.shape)} and teacher {tuple(teacher.shape)} features must have the same shape"
        )
    return 1.0 - F.cosine_similarity(student, teacher, dim=-1, eps=eps).mean()


def feature_matching_loss(
    student: torch.Tensor, teacher: torch.Tensor, *, kind: str = "mse", beta: float = 1.0
) -> torch.Tensor:
    """Element-wise feature regression, mean over all elements.

    Args:
        student, teacher: any identical shapes, e.g. pooled features ``(N, D)``.
        kind: ``"mse"``, ``"l1"`` or ``"smooth_l1"`` (``beta`` is the smooth-L1 transition point).
    """
    if student.shape != teacher.shape:
        raise ValueError(
            f"student {tuple(student.shape)} and teacher {tuple(teacher.shape)} features must have the same shape"
        )
    if kind == "mse":
        return F.mse_loss(student, teacher)
    if kind == "l1":
        return F.l1_loss(student, teacher)
    if kind == "smooth_l1":
        return F.smooth_l1_loss(student, teacher, beta=beta)
    raise ValueError(f"kind must be 'mse', 'l1' or 'smooth_l1', got {kind!r}")


def attention_map(features: torch.Tensor, *, p: int = 2) -> torch.Tensor:
    """Spatial attention ``normalize(mean_c |x|^p)`` flattened: ``(B, C, H, W)`` -> ``(B, H*W)``;
    ``(B, C, T, H, W)`` maps are averaged over T first."""
    if features.dim() == 5:
        am = features.abs().pow(p).mean(1).mean(1)  # (B, H, W)
    elif features.dim() == 4:
        am = features.abs().pow(p).mean(1)
    else:
        raise ValueError(f"features must be (B, C, H, W) or (B, C, T, H, W), got shape {tuple(features.shape)}")
    return F.normalize(am.flatten(1), dim=1)


def attention_transfer_loss(student: torch.Tensor, teacher: torch.Tensor, *, p: int = 2) -> torch.Tensor:
    """Mean squared difference of the normalised attention maps (see :func:`attention_map`).

    Student and teacher may be 2D or 3D maps with different channel counts but the same ``H, W``.
    """
    a_s, a_t = attention_map(student, p=p), attention_map(teacher, p=p)
    if a_s.shape != a_t.shape:
        raise ValueError(
            f"attention maps differ in size: student {tuple(a_s.shape)} vs teacher {tuple(a_t.shape)} (spatial sizes must match)"
        )
    return (a_s - a_t).pow(2).mean()
