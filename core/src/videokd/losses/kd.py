"""Logit-level losses: Hinton KD, soft-target and label-smoothed cross-entropy.

Shapes: logits are ``(N, C)``; integer targets ``(N,)``; soft targets ``(N, C)``.

* :func:`kd_kl_div` - ``KL(softmax(t/tau) || softmax(s/tau))``, batch mean, times ``tau^2`` by
  default (Hinton et al.; the kd2d3d design).
* :func:`hinton_kd_loss` - ``(1 - alpha) CE(s, y) + alpha * kd_kl_div``.
* :func:`soft_target_cross_entropy` - pytorchvideo ``SoftTargetCrossEntropyLoss`` (KICLIP's
  ``soft_cross_entropy``): integer labels are one-hot encoded, so it equals plain CE then.
* :func:`label_smoothing_cross_entropy` - timm ``LabelSmoothingCrossEntropy`` (TDS-CLIP, eps 0.1).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

__all__ = ["kd_kl_div", "hinton_kd_loss", "soft_target_cross_entropy", "label_smoothing_cross_entropy"]


def _check_logits(logits: torch.Tensor, name: str = "logits") -> None:
    if logits.dim() != 2:
        raise ValueError(f"{name} must be (N, C), got shape {tuple(logits.shape)}")


def _check_targets(logits: torch.Tensor, target: torch.Tensor, name: str = "target") -> None:
    if target.shape != logits.shape[:1]:
        raise ValueError(
            f"{name} must be (N,) = ({logits.shape[0]},) to match logits {tuple(logits.shape)}, got {tuple(target.shape)}"
        )


def kd_kl_div(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    scale_by_t2: bool = True,
    reduction: str = "batchmean",
) -> torch.Tensor:
    """Hinton KD term ``KL(softmax(t/T) || softmax(s/T))`` (x ``T^2`` when ``scale_by_t2``).

    Args:
        student_logits: ``(N, C)``. teacher_logits: ``(N, C)`` (detach it if the teacher is frozen
            but still attached to a graph).
        reduction: ``"batchmean"`` (sum over classes, mean over N), ``"sum"`` or ``"none"`` (``(N,)``).
    Zero when the two logits are equal.
    """
    _check_logits(student_logits, "student_logits")
    if teacher_logits.shape != student_logits.shape:
        raise ValueError(
            f"teacher_logits {tuple(teacher_logits.shape)} must match student_logits {tuple(student_logits.shape)}"
        )
    log_q = F.log_softmax(student_logits / temperature, dim=-1)
    log_p = F.log_softmax(teacher_logits / temperature, dim=-1)
    per_row = (log_p.exp() * (log_p - log_q)).sum(-1)
    if scale_by_t2:
        per_row = per_row * temperature**2
    if reduction == "batchmean":
        return per_row.mean()
    if reduction == "sum":
        return per_row.sum()
    if reduction == "none":
        return per_row
    raise ValueError(f"reduction must be 'batchmean', 'sum' or 'none', got {reduction!r}")


def hinton_kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    target: Optional[torch.Tensor],
    *,
    alpha: float = 0.5,
    temperature: float = 4.0,
) -> torch.Tensor:
    """``(1 - alpha) * CE(s, y) + alpha * T^2 * KL(softmax(t/T) || softmax(s/T))``, batch means.

    ``target=None`` requires ``alpha == 1`` (label-free distillation, e.g. DistInit pre-training).
    """
    kd = kd_kl_div(student_logits, teacher_logits, temperature=temperature)
    if target is None:
        if alpha != 1.0:
            raise ValueError(f"hinton_kd_loss: target=None needs alpha == 1, got alpha={alpha}")
        return kd
    _check_targets(student_logits, target)
    return (1.0 - alpha) * F.cross_entropy(student_logits, target) + alpha * kd


def soft_target_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    normalize_targets: bool = False,
    reduction: str = "mean",
) -> torch.Tensor:
    """``-sum_k q_k log softmax(x)_k`` per row, as pytorchvideo's ``SoftTargetCrossEntropyLoss``.

    Args:
        logits: ``(N, C)``.
        target: ``(N, C)`` soft targets, or ``(N,)`` integer labels (one-hot encoded first).
        normalize_targets: divide each target row by its sum first.
        reduction: ``"mean"`` over rows, ``"sum"`` or ``"none"`` (``(N,)``).
    """
    _check_logits(logits)
    if target.dim() == 1 and not target.dtype.is_floating_point:
        _check_targets(logits, target)
        target = F.one_hot(target, logits.shape[1]).to(logits.dtype)
    if target.shape != logits.shape:
        raise ValueError(
            f"soft targets must be (N, C) = {tuple(logits.shape)} or (N,) labels, got {tuple(target.shape)}"
        )
    if normalize_targets:
        target = target / target.sum(dim=1, keepdim=True)
    per_row = torch.sum(-target * F.log_softmax(logits, dim=-1), dim=-1)
    if reduction == "mean":
        return per_row.mean()
    if reduction == "sum":
        return per_row.sum()
    if reduction == "none":
        return per_row
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def label_smoothing_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, *, smoothing: float = 0.1
) -> torch.Tensor:
    """timm ``LabelSmoothingCrossEntropy``: mean over N of ``(1-eps) NLL + eps * mean_k(-log p_k)``.

    The smoothing mass is spread over all C classes including the target, so this equals
    ``F.cross_entropy(logits, target, label_smoothing=eps)``; written out to keep timm's form.
    """
    _check_logits(logits)
    _check_targets(logits, target)
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    log_p = F.log_softmax(logits, dim=-1)
    nll = -log_p.gather(1, target[:, None]).squeeze(1)
    smooth = -log_p.mean(dim=-1)
    return ((1.0 - smoothing) * nll + smoothing * smooth).mean()
