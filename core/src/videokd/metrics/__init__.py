"""Evaluation metrics of the five papers: vectorised, and DDP-safe (no double counting).

* :mod:`.classification` - top-k accuracy, multi-view aggregation, mean class accuracy,
  base/novel harmonic mean, video-level hit@k, DDP accumulators.
* :mod:`.retrieval` - R@K / SumR / medR / mAP for (partially relevant) video retrieval.
* :mod:`.ap` - FSD50K-style multi-label mAP, weighted AP, mean ROC-AUC.
* :mod:`.probe` - linear-SVM evaluation of frozen features (scikit-learn, imported lazily).
* :mod:`.distributed` - cross-rank sums and gathers with de-duplication by sample id.
"""

from videokd.comm import all_gather_cat, all_reduce_max, all_reduce_sum, first_occurrence_mask, is_distributed

from .ap import APAccumulator, average_precision, mean_average_precision, mean_roc_auc, roc_auc
from .classification import (
    MeanAccumulator,
    TopKAccumulator,
    ViewAggregator,
    aggregate_views,
    average_view_scores,
    harmonic_mean,
    mean_class_accuracy,
    topk_accuracy,
    topk_correct,
    topk_hits,
    video_hit_at_k,
)
from .probe import linear_svm_probe
from .retrieval import (
    RetrievalAccumulator,
    prvr_ground_truth,
    rank_statistics,
    recall_at_k,
    retrieval_metrics,
    retrieval_ranks,
)

__all__ = [
    "APAccumulator",
    "MeanAccumulator",
    "RetrievalAccumulator",
    "TopKAccumulator",
    "ViewAggregator",
    "aggregate_views",
    "all_gather_cat",
    "all_reduce_max",
    "all_reduce_sum",
    "average_precision",
    "average_view_scores",
    "first_occurrence_mask",
    "harmonic_mean",
    "is_distributed",
    "linear_svm_probe",
    "mean_average_precision",
    "mean_class_accuracy",
    "mean_roc_auc",
    "prvr_ground_truth",
    "rank_statistics",
    "recall_at_k",
    "retrieval_metrics",
    "retrieval_ranks",
    "roc_auc",
    "topk_accuracy",
    "topk_correct",
    "topk_hits",
    "video_hit_at_k",
]
