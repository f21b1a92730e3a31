"""Classification metrics: top-k accuracy, multi-view aggregation, mean class accuracy, B2N.

Shapes: ``scores`` are ``(N, C)`` logits or probabilities, ``labels`` ``(N,)`` int. Multi-view
test scores come either as ``(B*V, C)`` rows ordered video-major (TDS-CLIP) or as clips with a
``video_index`` per clip (SlowFast-style ``TestMeter`` in KICLIP, consecutive clips in kd2d3d).

Per original:
* KICLIP: logits of the views **summed** per video, top-1/top-5 in percent (``ensemble="sum"``).
* TDS-CLIP: softmax per view, **mean** of probabilities, top-1/top-5 in percent.
* kd2d3d: softmax per clip (optional), mean per video; clip accuracy as a fraction.
* XKD FSD50K: mean of logits (fine-tune) or of sigmoid probabilities (linear probe,
  ``activation="sigmoid"``), then :mod:`.ap`.

Accumulators (:class:`TopKAccumulator`, :class:`ViewAggregator`, :class:`MeanAccumulator`) sum
counts locally and reduce once with ``all_reduce(SUM)``; pass sample ids to count samples repeated
by ``DistributedSampler`` only once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

import torch

from videokd.comm import all_reduce_max, all_reduce_sum, first_occurrence_mask

__all__ = [
    "topk_hits",
    "topk_correct",
    "topk_accuracy",
    "aggregate_views",
    "average_view_scores",
    "mean_class_accuracy",
    "harmonic_mean",
    "video_hit_at_k",
    "TopKAccumulator",
    "ViewAggregator",
    "MeanAccumulator",
]


def _check(scores: torch.Tensor, labels: torch.Tensor) -> None:
    if scores.dim() != 2:
        raise ValueError(f"scores must be (N, C), got shape {tuple(scores.shape)}")
    if labels.shape != scores.shape[:1]:
        raise ValueError(
            f"labels must be (N,) = ({scores.shape[0]},) to match scores {tuple(scores.shape)}, got {tuple(labels.shape)}"
        )


def topk_hits(scores: torch.Tensor, labels: torch.Tensor, ks: Sequence[int] = (1, 5)) -> torch.Tensor:
    """``(N, len(ks))`` bool: whether each row's label is among its ``k`` highest scores.

    ``k >= C`` always hits (the originals crash there instead).
    """
    _check(scores, labels)
    kmax = min(max(ks), scores.shape[1])
    top = scores.topk(kmax, dim=1, largest=True, sorted=True).indices  # (N, kmax)
    match = top == labels[:, None]
    return torch.stack([match[:, : min(k, kmax)].any(1) for k in ks], dim=1)


def topk_correct(scores: torch.Tensor, labels: torch.Tensor, ks: Sequence[int] = (1, 5)) -> torch.Tensor:
    """``(len(ks),)`` float counts of rows whose label is in the top-k (SlowFast ``topks_correct``)."""
    return topk_hits(scores, labels, ks).sum(0).to(torch.float64)


def topk_accuracy(
    scores: torch.Tensor, labels: torch.Tensor, ks: Sequence[int] = (1, 5), *, percent: bool = True
) -> list[float]:
    """Top-k accuracy per k: ``100 * hits / N`` (or the fraction with ``percent=False``)."""
    n = scores.shape[0]
    if n == 0:
        raise ValueError("topk_accuracy: no rows")
    counts = topk_correct(scores, labels, ks)
    scale = 100.0 if percent else 1.0
    return [scale * float(c) / n for c in counts]


def _activate(scores: torch.Tensor, activation: Optional[str]) -> torch.Tensor:
    if activation is None:
        return scores
    if activation == "softmax":
        return scores.softmax(dim=-1)
    if activation == "sigmoid":
        return scores.sigmoid()
    raise ValueError(f"activation must be None, 'softmax' or 'sigmoid', got {activation!r}")


def aggregate_views(
    scores: torch.Tensor,
    video_index: torch.Tensor,
    num_videos: Optional[int] = None,
    *,
    method: str = "sum",
    activation: Optional[str] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Combine clip/view scores into video scores.

    Args:
        scores: ``(N, C)`` per-clip logits.
        video_index: ``(N,)`` int video row of each clip (e.g. ``clip_index // (views*crops)``).
        num_videos: V (default ``max(video_index) + 1``); videos with no clip keep zeros.
        method: ``"sum"`` (KICLIP/SlowFast ``ensemble sum``), ``"mean"`` (kd2d3d, TDS-CLIP) or
            ``"max"`` (SlowFast ``ensemble max``: element-wise max starting **from zero**, as
            ``TestMeter`` initialises its buffer with zeros).
        activation: ``"softmax"`` (over classes) or ``"sigmoid"`` (multi-label) applied to each
            clip first; None = raw logits.

    Returns ``(video_scores (V, C), clip_count (V,) int64)``.
    """
    if scores.dim() != 2:
        raise ValueError(f"scores must be (N, C), got shape {tuple(scores.shape)}")
    video_index = video_index.to(scores.device, torch.long)
    if video_index.shape != scores.shape[:1]:
        raise ValueError(f"video_index must be (N,) = ({scores.shape[0]},), got {tuple(video_index.shape)}")
    if num_videos is None:
        num_videos = int(video_index.max()) + 1 if video_index.numel() else 0
    if video_index.numel() and (int(video_index.min()) < 0 or int(video_index.max()) >= num_videos):
        raise ValueError(
            f"video_index must lie in [0, {num_videos}), got range [{int(video_index.min())}, {int(video_index.max())}]"
        )
    scores = _activate(scores, activation)
    counts = torch.bincount(video_index, minlength=num_videos)
    out = scores.new_zeros(num_videos, scores.shape[1])
    idx = video_index[:, None].expand_as(scores)
    if method in ("sum", "mean"):
        out = out.scatter_add(0, idx, scores)
        if method == "mean":
            out = out / counts.clamp_min(1)[:, None].to(out.dtype)
    elif method == "max":
        out = out.scatter_reduce(0, idx, scores, reduce="amax", include_self=True)
    else:
        raise ValueError(f"method must be 'sum', 'mean' or 'max', got {method!r}")
    return out, counts


def average_view_scores(
    view_scores: torch.Tensor, views: int, *, activation: Optional[str] = "softmax"
) -> torch.Tensor:
    """``(B*V, C)`` rows ordered video-major, view-minor -> ``(B, C)`` mean over views of the
    per-view probabilities (``activation="softmax"``: the TDS-CLIP test loop; None = logits)."""
    if view_scores.dim() != 2 or view_scores.shape[0] % views:
        raise ValueError(
            f"view_scores must be (B*V, C) with V={views} dividing the rows, got {tuple(view_scores.shape)}"
        )
    x = _activate(view_scores.view(-1, views, view_scores.shape[1]), activation)
    return x.mean(dim=1)


def mean_class_accuracy(scores: torch.Tensor, labels: torch.Tensor, num_classes: Optional[int] = None) -> float:
    """Mean over the classes present in ``labels`` of per-class top-1 recall, in percent."""
    _check(scores, labels)
    num_classes = num_classes or scores.shape[1]
    pred = scores.argmax(1)
    total = torch.bincount(labels, minlength=num_classes)
    hit = torch.bincount(labels[pred == labels], minlength=num_classes)
    present = total > 0
    return float(100.0 * (hit[present].double() / total[present].double()).mean())


def harmonic_mean(base: float, novel: float) -> float:
    """Base-to-novel harmonic mean ``2 B N / (B + N)`` (0 when both are 0)."""
    return 0.0 if base + novel == 0 else 2.0 * base * novel / (base + novel)


def video_hit_at_k(
    ground_truth: Mapping[str, Any],
    predictions: Mapping[str, Sequence[Mapping[str, Any]]],
    k: int,
) -> float:
    """Video-level hit@k as the 3D-ResNets (kd2d3d) offline evaluators compute it.

    Args:
        ground_truth: ``{video_id: label}`` for every video of the evaluated subset.
        predictions: ``{video_id: [{"label": name, "score": s}, ...]}`` (the results json).
        k: a hit when the true label is among the k highest-scored predicted labels.

    Returns the fraction (not percent) over **all** ground-truth videos; videos without a
    prediction count as misses and predictions of unknown videos are ignored.
    """
    if not ground_truth:
        raise ValueError("video_hit_at_k: empty ground truth")
    hits = 0
    for vid, label in ground_truth.items():
        preds = predictions.get(vid)
        if not preds:
            continue
        ranked = sorted(preds, key=lambda p: p["score"], reverse=True)[:k]
        hits += any(p["label"] == label for p in ranked)
    return hits / len(ground_truth)


class _IdTracker:
    """Shared bookkeeping: ids must be given on every update or on none."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.with_ids: Optional[bool] = None
        self.ids: list[torch.Tensor] = []

    def add(self, ids: Optional[torch.Tensor], n: int) -> None:
        with_ids = ids is not None
        if self.with_ids is None:
            self.with_ids = with_ids
        elif self.with_ids != with_ids:
            raise ValueError(f"{self.owner}.update: pass ids on every call or on none")
        if with_ids:
            ids = torch.as_tensor(ids).detach().long().flatten().cpu()
            if ids.shape[0] != n:
                raise ValueError(f"{self.owner}.update: ids has {ids.shape[0]} entries for {n} rows")
            self.ids.append(ids)

    def keep_mask(self, n: int, group: Optional[object]) -> Optional[torch.Tensor]:
        """Rows to keep (first occurrence over all ranks), or None when no ids were given."""
        if not self.with_ids:
            return None
        ids = torch.cat(self.ids) if self.ids else torch.zeros(0, dtype=torch.long)
        return first_occurrence_mask(ids, group=group)


class TopKAccumulator:
    """Top-k accuracy over batches and ranks: ``update(scores, labels, ids=None)``, ``compute()``.

    ``compute`` returns ``{"top{k}": percent}`` (or fractions with ``percent=False``). Only the
    per-sample hit flags are kept, so memory is ``N x len(ks)`` booleans.
    """

    def __init__(self, ks: Sequence[int] = (1, 5), *, percent: bool = True) -> None:
        self.ks = tuple(ks)
        self.percent = percent
        self._hits: list[torch.Tensor] = []
        self._ids = _IdTracker("TopKAccumulator")

    def update(self, scores: torch.Tensor, labels: torch.Tensor, ids: Optional[torch.Tensor] = None) -> None:
        hits = topk_hits(scores.detach(), labels.to(scores.device), self.ks).cpu()
        self._ids.add(ids, hits.shape[0])
        self._hits.append(hits)

    def compute(self, *, group: Optional[object] = None) -> dict[str, float]:
        hits = torch.cat(self._hits) if self._hits else torch.zeros(0, len(self.ks), dtype=torch.bool)
        keep = self._ids.keep_mask(hits.shape[0], group)
        if keep is not None:
            hits = hits[keep]
        counts = torch.cat([hits.sum(0).double(), torch.tensor([float(hits.shape[0])], dtype=torch.float64)])
        counts = all_reduce_sum(counts, group=group)
        n = float(counts[-1])
        if n == 0:
            raise ValueError("TopKAccumulator.compute: no samples")
        scale = 100.0 if self.percent else 1.0
        return {f"top{k}": scale * float(c) / n for k, c in zip(self.ks, counts[:-1])}


class ViewAggregator:
    """Multi-view test aggregation across batches and ranks (a DDP-safe ``TestMeter``).

    ``update(scores (N, C), video_index (N,), clip_ids=None)`` collects clip scores;
    ``compute()`` drops clips repeated by ``DistributedSampler`` (when ``clip_ids`` were given),
    aggregates with :func:`aggregate_views`, reduces the ``(V, C)`` sums (or maxima) and counts
    over ranks, and returns ``(video_scores (V, C), clip_count (V,))``.
    """

    def __init__(self, num_videos: int, *, method: str = "sum", activation: Optional[str] = None) -> None:
        if method not in ("sum", "mean", "max"):
            raise ValueError(f"method must be 'sum', 'mean' or 'max', got {method!r}")
        _activate(torch.zeros(1, 1), activation)  # validate early
        self.num_videos, self.method, self.activation = num_videos, method, activation
        self._scores: list[torch.Tensor] = []
        self._index: list[torch.Tensor] = []
        self._ids = _IdTracker("ViewAggregator")

    def update(self, scores: torch.Tensor, video_index: torch.Tensor, clip_ids: Optional[torch.Tensor] = None) -> None:
        scores = _activate(scores.detach().float().cpu(), self.activation)
        index = torch.as_tensor(video_index).detach().long().flatten().cpu()
        if index.shape[0] != scores.shape[0]:
            raise ValueError(
                f"ViewAggregator.update: video_index has {index.shape[0]} entries for {scores.shape[0]} rows"
            )
        self._ids.add(clip_ids, scores.shape[0])
        self._scores.append(scores)
        self._index.append(index)

    def compute(self, *, group: Optional[object] = None) -> tuple[torch.Tensor, torch.Tensor]:
        if not self._scores:
            raise ValueError("ViewAggregator.compute: nothing accumulated")
        scores, index = torch.cat(self._scores), torch.cat(self._index)
        keep = self._ids.keep_mask(scores.shape[0], group)
        if keep is not None:
            scores, index = scores[keep], index[keep]
        local = "max" if self.method == "max" else "sum"
        agg, counts = aggregate_views(scores, index, self.num_videos, method=local)
        counts = all_reduce_sum(counts, group=group)
        if self.method == "max":
            agg = all_reduce_max(agg, group=group)
        else:
            agg = all_reduce_sum(agg, group=group)
            if self.method == "mean":
                agg = agg / counts.clamp_min(1)[:, None].to(agg.dtype)
        return agg, counts


class MeanAccumulator:
    """Weighted running mean (e.g. a validation loss weighted by batch size), summed over ranks."""

    def __init__(self) -> None:
        self.total = 0.0
        self.weight = 0.0

    def update(self, value: float | torch.Tensor, weight: float = 1.0) -> None:
        self.total += float(value) * weight
        self.weight += weight

    def compute(self, *, group: Optional[object] = None) -> float:
        t = all_reduce_sum(torch.tensor([self.total, self.weight], dtype=torch.float64), group=group)
        if float(t[1]) == 0:
            raise ValueError("MeanAccumulator.compute: nothing accumulated")
        return float(t[0] / t[1])
