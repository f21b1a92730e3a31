"""Loss and multi-view evaluation: label-smoothed CE, softmax-averaged views, exact top-k.

The test protocol: every video gives ``V = crops x clips`` views; each view's logits go through a
softmax, the probabilities are averaged over the views of the video, and top-1 / top-5 are the
percentage of videos whose label is among the k best averaged classes. Across ranks the per-video
probabilities are gathered exactly once each (no padded duplicates, unlike the original's
per-batch, per-rank averages).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from videokd.losses import label_smoothing_cross_entropy
from videokd.metrics import average_view_scores, topk_accuracy, topk_hits

__all__ = ["classification_loss", "video_scores", "accuracy", "hits"]


def classification_loss(logits: torch.Tensor, target: torch.Tensor, *, smoothing: float = 0.1) -> torch.Tensor:
    """timm's label-smoothing CE (``smoothing`` 0 gives plain CE). ``(N, K), (N,) -> ()``."""
    if smoothing:
        return label_smoothing_cross_entropy(logits, target, smoothing=smoothing)
    return torch.nn.functional.cross_entropy(logits, target)


def video_scores(view_logits: torch.Tensor, views_per_video: int) -> torch.Tensor:
    """``(B*V, K)`` logits, video-major -> ``(B, K)`` mean of the per-view softmax."""
    return average_view_scores(view_logits, views_per_video)


def accuracy(scores: torch.Tensor, labels: torch.Tensor, ks: Sequence[int] = (1, 5)) -> list[float]:
    """Top-k accuracies in percent over the ``B`` rows."""
    return list(topk_accuracy(scores, labels, ks))


def hits(scores: torch.Tensor, labels: torch.Tensor, ks: Sequence[int] = (1, 5)) -> torch.Tensor:
    """``(B, len(ks))`` bool: is the label among the k best of each row."""
    return topk_hits(scores, labels, ks)
