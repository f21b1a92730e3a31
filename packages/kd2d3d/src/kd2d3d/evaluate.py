"""Validation and test metrics of the lineage, on the core's metrics.

* clip accuracy: fraction of clips whose arg-max is the target; the validation epoch reports the
  batch-size-weighted means of the batch CE losses and accuracies (``val.log``).
* test: per-clip softmax (unless ``no_softmax_in_test``), mean over the clips of each video, the
  top-k classes as ``{"results": {video_id: [{"label", "score"}, ...]}}``. Fixed: the last video is
  written (the lineage only wrote a video when the next one started; ``drop_last=True`` restores
  that), and k is clamped to the class count (the lineage crashed below 10 classes).
* video accuracy: hit@k over every ground-truth video of the subset (the offline evaluators);
  Kinetics ids lose their 14-character ``_%06d_%06d`` suffix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from videokd.metrics import MeanAccumulator, aggregate_views, topk_accuracy, video_hit_at_k

__all__ = [
    "clip_accuracy",
    "ValEpoch",
    "video_results",
    "ground_truth_labels",
    "video_accuracy",
    "val_log_text",
]


def clip_accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of rows of ``(N, K)`` logits whose arg-max equals the target."""
    return topk_accuracy(logits, targets, [1], percent=False)[0]


class ValEpoch:
    """Batch-size-weighted validation loss and clip accuracy (the lineage's ``val_epoch``)."""

    def __init__(self) -> None:
        self.loss, self.acc = MeanAccumulator(), MeanAccumulator()

    def update(self, logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        n = int(targets.shape[0])
        batch = {"loss": float(F.cross_entropy(logits.float(), targets)), "acc": clip_accuracy(logits, targets)}
        self.loss.update(batch["loss"], n)
        self.acc.update(batch["acc"], n)
        return batch

    def compute(self) -> dict[str, float]:
        return {"loss": self.loss.compute(), "acc": self.acc.compute()}


def val_log_text(rows: Sequence[Mapping[str, float]]) -> str:
    """``val.log``: tab-separated ``epoch loss acc`` with a header."""
    return "epoch\tloss\tacc\n" + "".join(f"{r['epoch']}\t{r['loss']}\t{r['acc']}\n" for r in rows)


def video_results(
    clip_logits: torch.Tensor,
    clip_video_ids: Sequence[str],
    class_names: Mapping[int, str],
    *,
    softmax: bool = True,
    top_k: int = 10,
    drop_last: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """Clip logits ``(N, K)`` (clips of a video adjacent) -> ``{video_id: top-k [{label, score}]}``
    in order of first appearance, scores the mean over the video's clips."""
    order: dict[str, int] = {}
    index = torch.tensor([order.setdefault(v, len(order)) for v in clip_video_ids], dtype=torch.long)
    scores, _ = aggregate_views(
        clip_logits.float(), index, len(order), method="mean", activation="softmax" if softmax else None
    )
    k = min(top_k, scores.shape[1])
    top = scores.topk(k, dim=1)
    results = {
        vid: [{"label": class_names[int(j)], "score": float(s)} for s, j in zip(top.values[v], top.indices[v])]
        for vid, v in order.items()
    }
    if drop_last and results:
        results.pop(list(order)[-1])
    return results


def ground_truth_labels(annotation: Mapping[str, Any], subset: str, *, dataset: str = "ucf101") -> dict[str, str]:
    """``{video_id: label}`` of a subset (Kinetics: the id without its ``_%06d_%06d`` suffix;
    ActivityNet: the label of the video's first segment)."""
    strip = 14 if dataset == "kinetics" else 0
    out = {}
    for key, entry in annotation["database"].items():
        if entry["subset"] != subset:
            continue
        ann = entry["annotations"]
        if isinstance(ann, list):  # ActivityNet: timed segments
            if not ann:
                continue
            ann = ann[0]
        out[key[:-strip] if strip else key] = ann["label"]
    return out


def video_accuracy(
    annotation: Mapping[str, Any],
    results: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    subset: str = "validation",
    dataset: str = "ucf101",
    k: int = 1,
) -> float:
    """Video-level hit@k over every ground-truth video of ``subset`` (missing predictions = miss)."""
    return video_hit_at_k(ground_truth_labels(annotation, subset, dataset=dataset), results, k)
