"""Cross-modal distillation and domain alignment as XKD computes them.

* :func:`mmd_loss` - biased MMD with a sum of RBF kernels ``sum_g exp(-g * D)``, g in 1e-3..1e3,
  on squared distances computed as ``|x|^2 + |y|^2 - 2 x.y`` (DomainBed's ``MMD_Loss``).
  The expanded form is kept on purpose: its float32 cancellation on the diagonal changes the value
  noticeably when features are large (see the XKD spec), and the numbers must match.
* :func:`dino_distillation_loss` / :class:`DINOLoss` - DINO-style cross-entropy from centred,
  sharpened teacher logits to the student, over all (teacher view, student view) pairs, with an
  EMA centre updated *after* the loss (all-reduced across ranks).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from videokd.comm import all_reduce_sum, world_size

__all__ = [
    "MMD_GAMMAS",
    "pairwise_sq_dists",
    "gaussian_kernel",
    "MMDTerms",
    "mmd_terms",
    "mmd_loss",
    "dino_distillation_loss",
    "dino_center_update",
    "DINOLoss",
    "teacher_temperature_schedule",
]

MMD_GAMMAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)


def pairwise_sq_dists(x: torch.Tensor, y: torch.Tensor, *, clamp_min: float = 1e-30) -> torch.Tensor:
    """``(n, m)`` squared distances ``|x_i|^2 + |y_j|^2 - 2 x_i.y_j``, clamped below at ``clamp_min``.

    ``x``: ``(n, d)``, ``y``: ``(m, d)``. Same operation order as DomainBed (one ``addmm``).
    """
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(
            f"x and y must be (n, d) and (m, d) with the same d, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    x_norm = x.pow(2).sum(dim=-1, keepdim=True)
    y_norm = y.pow(2).sum(dim=-1, keepdim=True)
    dist = torch.addmm(y_norm.transpose(-2, -1), x, y.transpose(-2, -1), alpha=-2).add(x_norm)
    return dist.clamp_min(clamp_min)


def gaussian_kernel(x: torch.Tensor, y: torch.Tensor, *, gammas: Sequence[float] = MMD_GAMMAS) -> torch.Tensor:
    """``(n, m)`` multi-bandwidth RBF kernel ``sum_g exp(-g * |x_i - y_j|^2)``."""
    dist = pairwise_sq_dists(x, y)
    kernel = torch.zeros_like(dist)
    for g in gammas:
        kernel = kernel + torch.exp(dist * -g)
    return kernel


class MMDTerms(NamedTuple):
    """loss: () ; kxx (n, n), kyy (m, m), kxy (n, m): the summed kernel matrices."""

    loss: torch.Tensor
    kxx: torch.Tensor
    kyy: torch.Tensor
    kxy: torch.Tensor


def mmd_terms(x: torch.Tensor, y: torch.Tensor, *, gammas: Sequence[float] = MMD_GAMMAS) -> MMDTerms:
    """Biased MMD ``mean Kxx + mean Kyy - 2 mean Kxy`` (diagonals included) and its kernels.

    ``x``: ``(n, d)``, ``y``: ``(m, d)``; n and m may differ (XKD: all student views vs all).
    Compute it in float32 or float64 explicitly; under fp16 autocast distances lose all precision.
    """
    kxx = gaussian_kernel(x, x, gammas=gammas)
    kyy = gaussian_kernel(y, y, gammas=gammas)
    kxy = gaussian_kernel(x, y, gammas=gammas)
    return MMDTerms(kxx.mean() + kyy.mean() - 2 * kxy.mean(), kxx, kyy, kxy)


def mmd_loss(x: torch.Tensor, y: torch.Tensor, *, gammas: Sequence[float] = MMD_GAMMAS) -> torch.Tensor:
    """Biased multi-kernel MMD between ``x (n, d)`` and ``y (m, d)``, a 0-dim tensor."""
    return mmd_terms(x, y, gammas=gammas).loss


def dino_distillation_loss(
    student_output: torch.Tensor,
    teacher_output: torch.Tensor,
    center: torch.Tensor,
    *,
    student_temp: float,
    teacher_temp: float,
    num_student_views: int,
    num_teacher_views: int,
) -> torch.Tensor:
    """XKD ``DINOLossX``: mean over ALL (teacher view, student view) pairs of
    ``mean_b sum_k -softmax((t - c)/tau_t)_k * log_softmax(s/tau_s)_k``.

    Args:
        student_output: ``(S*B, K)`` student logits, views stacked view-major.
        teacher_output: ``(T*B, K)`` teacher logits (the targets are detached here).
        center: ``(1, K)`` the centre before this step.
        num_student_views, num_teacher_views: S and T. Unlike DINO, same-index pairs are not skipped.
    """
    if student_output.dim() != 2 or teacher_output.dim() != 2 or student_output.shape[1] != teacher_output.shape[1]:
        raise ValueError(
            f"student_output (S*B, K) and teacher_output (T*B, K) must share K, got {tuple(student_output.shape)} and {tuple(teacher_output.shape)}"
        )
    if student_output.shape[0] % num_student_views or teacher_output.shape[0] % num_teacher_views:
        raise ValueError(
            f"rows ({student_output.shape[0]} student, {teacher_output.shape[0]} teacher) must divide into "
            f"{num_student_views} student / {num_teacher_views} teacher views"
        )
    if center.shape != (1, teacher_output.shape[1]):
        raise ValueError(f"center must be (1, K) = (1, {teacher_output.shape[1]}), got {tuple(center.shape)}")
    s = F.log_softmax(student_output / student_temp, dim=-1).chunk(num_student_views)
    q = F.softmax((teacher_output - center) / teacher_temp, dim=-1).detach().chunk(num_teacher_views)
    # (T, S) pairs, each a batch mean: stack the views and take one mean per pair
    s_views = torch.stack(s)  # (S, B, K)
    q_views = torch.stack(q)  # (T, B, K)
    per_pair = -torch.einsum("tbk,sbk->tsb", q_views, s_views).mean(-1)  # (T, S)
    return per_pair.mean()


@torch.no_grad()
def dino_center_update(
    center: torch.Tensor, teacher_output: torch.Tensor, *, momentum: float, group: Optional[object] = None
) -> torch.Tensor:
    """New centre ``c * m + mean_batch(t) * (1 - m)``; the batch mean is over all ranks' rows."""
    batch_center = all_reduce_sum(teacher_output.detach().sum(dim=0, keepdim=True), group=group)
    batch_center = batch_center / (teacher_output.shape[0] * world_size(group))
    return center * momentum + batch_center * (1 - momentum)


class DINOLoss(nn.Module):
    """DINO cross-modal distillation loss with its EMA centre as a buffer (``<name>.center``, ``(1, K)``).

    ``forward`` returns the loss of :func:`dino_distillation_loss` with the current centre, then
    (in training mode) updates the centre from the teacher batch, as XKD's ``DINOLossX``.
    """

    center: torch.Tensor

    def __init__(self, out_dim: int, *, center_momentum: float = 0.9) -> None:
        super().__init__()
        self.center_momentum = center_momentum
        self.register_buffer("center", torch.zeros(1, out_dim))

    def forward(
        self,
        student_output: torch.Tensor,
        teacher_output: torch.Tensor,
        *,
        student_temp: float,
        teacher_temp: float,
        num_student_views: int = 1,
        num_teacher_views: int = 1,
        update_center: Optional[bool] = None,
    ) -> torch.Tensor:
        loss = dino_distillation_loss(
            student_output,
            teacher_output,
            self.center,
            student_temp=student_temp,
            teacher_temp=teacher_temp,
            num_student_views=num_student_views,
            num_teacher_views=num_teacher_views,
        )
        if self.training if update_center is None else update_center:
            self.center.copy_(dino_center_update(self.center, teacher_output, momentum=self.center_momentum))
        return loss


def teacher_temperature_schedule(
    *, warmup_teacher_temp: float, teacher_temp: float, warmup_teacher_temp_epochs: int, num_epochs: int
) -> torch.Tensor:
    """Per-epoch teacher temperature, ``(num_epochs,)`` float64: ``linspace(warmup, final, W)``
    (both ends included) then ``final`` for the remaining epochs (DINO / XKD ``main_xkd.py``)."""
    if not 0 <= warmup_teacher_temp_epochs <= num_epochs:
        raise ValueError(
            f"warmup_teacher_temp_epochs must be in [0, num_epochs={num_epochs}], got {warmup_teacher_temp_epochs}"
        )
    # numpy's linspace, to match the original to the last bit
    values = np.concatenate(
        (
            np.linspace(warmup_teacher_temp, teacher_temp, warmup_teacher_temp_epochs),
            np.ones(num_epochs - warmup_teacher_temp_epochs) * teacher_temp,
        )
    )
    return torch.from_numpy(values)
