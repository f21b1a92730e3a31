"""Multi-view test aggregation and the base/novel/HM summary.

Upstream (``TestMeter`` behind a ``drop_last=True`` test loader) sums the logits of the views of each
video, but the last ``n_clips mod batch`` clips are never seen, and a video none of whose clips was
seen keeps zero logits and label 0 and still counts. :func:`aggregate_test` reproduces that with
``drop_last=True`` (``TEST.DROP_LAST``, for comparisons) and by default counts every clip of every
video exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from videokd.metrics import aggregate_views, harmonic_mean, topk_accuracy, topk_correct

__all__ = ["aggregate_test", "TestResult", "b2n_table"]


@dataclass
class TestResult:
    video_preds: torch.Tensor  # (V, C) aggregated logits
    video_labels: torch.Tensor  # (V,)
    clip_count: torch.Tensor  # (V,) clips seen per video
    clips_consumed: int
    topk_correct: list[float]
    topk_acc: list[float]  # percent, exact (not rounded)


def aggregate_test(
    clip_logits: torch.Tensor,
    clip_labels: torch.Tensor,
    clip_index: torch.Tensor,
    *,
    views: int,
    num_videos: int | None = None,
    batch_size: int = 4,
    drop_last: bool = False,
    method: str = "sum",
    ks: Sequence[int] = (1, 5),
) -> TestResult:
    """Video scores from clip logits ``(N, C)`` (clip ``i`` belongs to video ``clip_index[i] // views``).

    ``drop_last``: only the first ``(N // batch_size) * batch_size`` clips count (the upstream bug).
    """
    video_index = clip_index.long() // views
    if num_videos is None:
        num_videos = clip_logits.shape[0] // views
    n = clip_logits.shape[0]
    consumed = (n // batch_size) * batch_size if drop_last else n
    preds, counts = aggregate_views(clip_logits[:consumed], video_index[:consumed], num_videos, method=method)
    labels = torch.zeros(num_videos, dtype=torch.long).scatter(0, video_index[:consumed], clip_labels[:consumed].long())
    ks = [k for k in ks if k <= preds.shape[1]] or [1]
    return TestResult(
        video_preds=preds,
        video_labels=labels,
        clip_count=counts,
        clips_consumed=consumed,
        topk_correct=topk_correct(preds, labels, ks).tolist(),
        topk_acc=topk_accuracy(preds, labels, ks),
    )


def b2n_table(base: float | None, novel: float | None) -> str:
    """One table with base accuracy, novel accuracy and their harmonic mean (from exact values)."""
    rows = [("base top-1", base), ("novel top-1", novel)]
    if base is not None and novel is not None:
        rows.append(("HM", harmonic_mean(base, novel)))
    width = max(len(r[0]) for r in rows)
    lines = [f"{'metric'.ljust(width)}  value (%)", f"{'-' * width}  ---------"]
    lines += [f"{name.ljust(width)}  {'-' if v is None else f'{v:9.2f}'}" for name, v in rows]
    return "\n".join(lines)
