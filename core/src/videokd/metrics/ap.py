"""Multi-label metrics (FSD50K-style, XKD audio evaluation): per-class AP / ROC-AUC and their means.

Shapes: ``scores`` ``(N, C)`` (logits or probabilities: only the order matters), ``targets``
``(N, C)`` in {0, 1}. Values equal scikit-learn's ``average_precision_score`` /
``roc_auc_score`` per class (ties handled the same way: one threshold per distinct score) but are
computed for all classes at once in torch. XKD's mAP is the mean over classes **with at least one
positive**; its "weighted AP" weights classes by their number of positives.
"""

from __future__ import annotations

from typing import Optional

import torch

from videokd.comm import all_gather_cat, first_occurrence_mask

__all__ = ["average_precision", "mean_average_precision", "roc_auc", "mean_roc_auc", "APAccumulator"]


def _prepare(scores: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    scores, targets = torch.as_tensor(scores), torch.as_tensor(targets)
    if scores.dim() == 1:
        scores, targets = scores[:, None], targets.reshape(-1, 1)
    if scores.dim() != 2 or targets.shape != scores.shape:
        raise ValueError(
            f"scores and targets must both be (N, C), got {tuple(scores.shape)} and {tuple(targets.shape)}"
        )
    return scores.double(), (targets > 0.5).double()


def _group_end(sorted_scores: torch.Tensor) -> torch.Tensor:
    """``(N, C)`` index of the last row of each row's tie group (columns sorted)."""
    n = sorted_scores.shape[0]
    last = torch.ones_like(sorted_scores, dtype=torch.bool)
    last[:-1] = sorted_scores[:-1] != sorted_scores[1:]
    pos = torch.arange(n, device=sorted_scores.device)[:, None].expand_as(sorted_scores)
    marked = torch.where(last, pos, torch.full_like(pos, n))
    return marked.flip(0).cummin(0).values.flip(0)


def _group_start(sorted_scores: torch.Tensor) -> torch.Tensor:
    """``(N, C)`` index of the first row of each row's tie group (columns sorted)."""
    first = torch.ones_like(sorted_scores, dtype=torch.bool)
    first[1:] = sorted_scores[1:] != sorted_scores[:-1]
    pos = torch.arange(sorted_scores.shape[0], device=sorted_scores.device)[:, None].expand_as(sorted_scores)
    marked = torch.where(first, pos, torch.full_like(pos, -1))
    return marked.cummax(0).values


def average_precision(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``(C,)`` float64 AP per class, ``sum_n (R_n - R_{n-1}) P_n`` over distinct thresholds; NaN
    for classes without a positive."""
    scores, targets = _prepare(scores, targets)
    order = scores.argsort(dim=0, descending=True)
    s = scores.gather(0, order)
    y = targets.gather(0, order)
    tps = y.cumsum(0)
    end = _group_end(s)
    # precision at the end of each row's tie group: every positive in a group adds P_end / n_pos
    precision_end = tps.gather(0, end) / (end + 1).to(tps.dtype)
    n_pos = y.sum(0)
    ap = (y * precision_end).sum(0) / n_pos
    return torch.where(n_pos > 0, ap, torch.full_like(ap, float("nan")))


def mean_average_precision(scores: torch.Tensor, targets: torch.Tensor, *, weighted: bool = False) -> float:
    """Mean AP over classes with at least one positive (``weighted``: weights = positives per class)."""
    ap = average_precision(scores, targets)
    valid = ~torch.isnan(ap)
    if not bool(valid.any()):
        raise ValueError("mean_average_precision: no class has a positive target")
    if weighted:
        support = _prepare(scores, targets)[1].sum(0)
        return float((ap[valid] * support[valid]).sum() / support[valid].sum())
    return float(ap[valid].mean())


def roc_auc(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``(C,)`` float64 ROC-AUC per class (Mann-Whitney with average ranks for ties); NaN where a
    class has no positive or no negative."""
    scores, targets = _prepare(scores, targets)
    order = scores.argsort(dim=0)
    s = scores.gather(0, order)
    y = targets.gather(0, order)
    avg_rank = (_group_start(s) + _group_end(s)).to(s.dtype) / 2 + 1  # 1-based average ranks
    n_pos = y.sum(0)
    n_neg = y.shape[0] - n_pos
    auc = ((y * avg_rank).sum(0) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return torch.where((n_pos > 0) & (n_neg > 0), auc, torch.full_like(auc, float("nan")))


def mean_roc_auc(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean ROC-AUC over classes that have both positives and negatives."""
    auc = roc_auc(scores, targets)
    valid = ~torch.isnan(auc)
    if not bool(valid.any()):
        raise ValueError("mean_roc_auc: no class has both positive and negative targets")
    return float(auc[valid].mean())


class APAccumulator:
    """Collects ``(scores, targets)`` over batches and ranks and reports mAP / weighted AP / mean AUC.

    AP needs every sample at once, so ``compute`` all-gathers the kept rows (ids drop the
    repeats that ``DistributedSampler`` pads with).
    """

    def __init__(self) -> None:
        self._scores: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []
        self._ids: list[torch.Tensor] = []

    def update(self, scores: torch.Tensor, targets: torch.Tensor, ids: Optional[torch.Tensor] = None) -> None:
        scores, targets = _prepare(scores.detach().cpu(), targets.detach().cpu())
        if self._scores and (ids is None) != (not self._ids):
            raise ValueError("APAccumulator.update: pass ids on every call or on none")
        self._scores.append(scores)
        self._targets.append(targets)
        if ids is not None:
            self._ids.append(torch.as_tensor(ids).long().flatten().cpu())

    def compute(self, *, group: Optional[object] = None) -> dict[str, float]:
        if not self._scores:
            raise ValueError("APAccumulator.compute: nothing accumulated")
        scores, targets = torch.cat(self._scores), torch.cat(self._targets)
        if self._ids:
            keep = first_occurrence_mask(torch.cat(self._ids), group=group)
            scores, targets = scores[keep], targets[keep]
        scores, targets = all_gather_cat(scores, group=group), all_gather_cat(targets, group=group)
        return {
            "map": mean_average_precision(scores, targets),
            "weighted_ap": mean_average_precision(scores, targets, weighted=True),
            "mean_auc": mean_roc_auc(scores, targets),
        }
