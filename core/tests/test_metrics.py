"""Unit and property tests of ``videokd.metrics`` (single process; see test_metrics_distributed.py for DDP)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from videokd.metrics import (
    APAccumulator,
    MeanAccumulator,
    RetrievalAccumulator,
    TopKAccumulator,
    ViewAggregator,
    aggregate_views,
    average_precision,
    average_view_scores,
    first_occurrence_mask,
    harmonic_mean,
    linear_svm_probe,
    mean_average_precision,
    mean_class_accuracy,
    mean_roc_auc,
    prvr_ground_truth,
    rank_statistics,
    recall_at_k,
    retrieval_metrics,
    retrieval_ranks,
    roc_auc,
    topk_accuracy,
    topk_correct,
    video_hit_at_k,
)

SETTINGS = settings(max_examples=25, deadline=None)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _argsort_ranks(scores: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Reference: position of the ground truth in a descending sort (no ties in the inputs)."""
    order = scores.argsort(dim=1, descending=True)
    return (order == gt[:, None]).float().argmax(1) + 1


# ----------------------------------------------------------------------------------- retrieval


@SETTINGS
@given(nq=st.integers(1, 30), nv=st.integers(1, 40), seed=st.integers(0, 10_000))
def test_ranks_match_a_sort_and_recall_is_monotone_in_k(nq: int, nv: int, seed: int) -> None:
    g = _gen(seed)
    scores = torch.rand(nq, nv, generator=g)
    gt = torch.randint(0, nv, (nq,), generator=g)
    ranks = retrieval_ranks(scores, gt)
    assert torch.equal(ranks, _argsort_ranks(scores, gt))
    r = recall_at_k(ranks, ks=(1, 2, 5, 10, 100))
    values = [r["r1"], r["r2"], r["r5"], r["r10"], r["r100"]]
    assert values == sorted(values) and 0.0 <= values[0] and values[-1] <= 100.0
    if nv <= 100:
        assert r["r100"] == 100.0


@SETTINGS
@given(nq=st.integers(1, 25), nv=st.integers(2, 30), seed=st.integers(0, 10_000), ties=st.booleans())
def test_permuting_videos_consistently_keeps_ranks(nq: int, nv: int, seed: int, ties: bool) -> None:
    g = _gen(seed)
    scores = torch.randint(0, 4, (nq, nv), generator=g).float() if ties else torch.rand(nq, nv, generator=g)
    gt = torch.randint(0, nv, (nq,), generator=g)
    perm = torch.randperm(nv, generator=g)
    inverse = perm.argsort()
    for rule in ("optimistic", "pessimistic"):
        a = retrieval_ranks(scores, gt, ties=rule)
        b = retrieval_ranks(scores[:, perm], inverse[gt], ties=rule)
        assert torch.equal(a, b)
    assert recall_at_k(retrieval_ranks(scores, gt)) == recall_at_k(retrieval_ranks(scores[:, perm], inverse[gt]))


def test_ties_single_query_single_video_and_chunking() -> None:
    equal = torch.zeros(1, 7)
    assert retrieval_ranks(equal, torch.tensor([3])).item() == 1
    assert retrieval_ranks(equal, torch.tensor([3]), ties="pessimistic").item() == 7
    assert retrieval_ranks(torch.tensor([[0.5]]), torch.tensor([0])).item() == 1
    single = retrieval_metrics(torch.tensor([[0.1, 0.9]]), ["b#0"], ["a", "b"])
    assert single["r1"] == 100.0 and single["sumr"] == 400.0 and single["medr"] == 1.0
    scores = torch.rand(37, 11, generator=_gen(1))
    gt = torch.randint(0, 11, (37,), generator=_gen(2))
    full = retrieval_ranks(scores, gt)
    for chunk in (1, 5, 36, 100):
        assert torch.equal(retrieval_ranks(scores, gt, chunk_size=chunk), full)
    assert torch.equal(retrieval_ranks(scores.numpy(), gt), full)  # numpy input


def test_ground_truth_forms_agree_and_several_ground_truths_take_the_best() -> None:
    scores = torch.rand(6, 5, generator=_gen(3))
    gt = torch.tensor([0, 1, 2, 3, 4, 0])
    lists = [[int(g)] for g in gt]
    rel = torch.zeros(6, 5, dtype=torch.bool)
    rel[torch.arange(6), gt] = True
    assert torch.equal(retrieval_ranks(scores, lists), retrieval_ranks(scores, gt))
    assert torch.equal(retrieval_ranks(scores, rel), retrieval_ranks(scores, gt))
    two = [[0, 3]] * 6
    best = torch.minimum(
        retrieval_ranks(scores, torch.zeros(6, dtype=torch.long)), retrieval_ranks(scores, torch.full((6,), 3))
    )
    assert torch.equal(retrieval_ranks(scores, two), best)


def test_prvr_ground_truth_and_errors() -> None:
    assert prvr_ground_truth(["v2#enc#0", "v1#x", "v2#1"], ["v1", "v2", "v1"]) == [[1], [0, 2], [1]]
    with pytest.raises(KeyError, match="'v9'"):
        prvr_ground_truth(["v9#0"], ["v1"])
    with pytest.raises(ValueError, match="do not match"):
        retrieval_metrics(torch.rand(2, 2), ["a#0"], ["a", "b"])
    with pytest.raises(ValueError, match="ties"):
        retrieval_ranks(torch.rand(2, 2), torch.tensor([0, 1]), ties="numpy")
    with pytest.raises(ValueError, match="ground-truth columns"):
        retrieval_ranks(torch.rand(2, 2), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="\\(Nq, Nv\\)"):
        retrieval_ranks(torch.rand(4), torch.tensor([0]))


def test_video_to_text_direction() -> None:
    g = _gen(4)
    scores = torch.rand(7, 3, generator=g)
    qids = ["a#0", "a#1", "b#0", "b#1", "b#2", "c#0", "a#2"]
    vids = ["a", "b", "c", "d"]  # "d" has no caption: skipped in v2t
    scores = torch.cat([scores, torch.rand(7, 1, generator=g)], 1)
    got = retrieval_metrics(scores, qids, vids, direction="v2t", ks=(1, 2))
    ranks = []
    for v, vid in enumerate(vids[:3]):
        own = [i for i, q in enumerate(qids) if q.startswith(vid + "#")]
        best = scores[own, v].max()
        ranks.append(1 + int((scores[:, v] > best).sum()))
    assert got["r1"] == pytest.approx(100 * np.mean([r <= 1 for r in ranks]))
    assert got["meanr"] == pytest.approx(np.mean(ranks))


def test_rank_statistics() -> None:
    stats = rank_statistics(torch.tensor([1, 2, 4, 10]))
    assert stats == {"medr": 3.0, "meanr": 4.25, "map": pytest.approx((1 + 0.5 + 0.25 + 0.1) / 4)}


# ------------------------------------------------------------------------------ classification


def test_topk_accuracy_and_large_k() -> None:
    scores = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3], [0.2, 0.3, 0.5]])
    labels = torch.tensor([1, 2, 0])
    assert topk_correct(scores, labels, (1, 2, 3)).tolist() == [1.0, 2.0, 3.0]
    assert topk_accuracy(scores, labels, (1, 5)) == pytest.approx([100 / 3, 100.0])  # k >= C always hits
    assert topk_accuracy(scores, labels, (1,), percent=False) == pytest.approx([1 / 3])
    with pytest.raises(ValueError, match="labels must be"):
        topk_accuracy(scores, labels[:2])


def test_aggregate_views_sum_mean_max() -> None:
    scores = torch.tensor([[1.0, -2.0], [3.0, -1.0], [-5.0, -4.0]])
    index = torch.tensor([0, 0, 2])
    s, n = aggregate_views(scores, index, 3, method="sum")
    assert s.tolist() == [[4.0, -3.0], [0.0, 0.0], [-5.0, -4.0]] and n.tolist() == [2, 0, 1]
    m, _ = aggregate_views(scores, index, 3, method="mean")
    assert m.tolist() == [[2.0, -1.5], [0.0, 0.0], [-5.0, -4.0]]
    mx, _ = aggregate_views(scores, index, 3, method="max")
    assert mx.tolist() == [[3.0, 0.0], [0.0, 0.0], [0.0, 0.0]]  # TestMeter's max starts from zero
    p, _ = aggregate_views(scores, index, 3, method="mean", activation="softmax")
    assert torch.allclose(p[0], (scores[0].softmax(0) + scores[1].softmax(0)) / 2)
    sig, _ = aggregate_views(scores, index, 3, method="mean", activation="sigmoid")  # FSD50K linear probe
    assert torch.allclose(sig[2], scores[2].sigmoid())
    with pytest.raises(ValueError, match="method"):
        aggregate_views(scores, index, 3, method="median")
    with pytest.raises(ValueError, match="activation"):
        aggregate_views(scores, index, 3, activation="relu")
    with pytest.raises(ValueError, match="video_index must lie"):
        aggregate_views(scores, index, 2)


def test_average_view_scores_probabilities_not_logits() -> None:
    logits = torch.tensor([[10.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 4.0, 0.0]])  # one video, 3 views
    probs = average_view_scores(logits, 3)
    assert int(probs.argmax()) == 1 and int(logits.mean(0).argmax()) == 0
    with pytest.raises(ValueError, match="V=2"):
        average_view_scores(logits, 2)


def test_mean_class_accuracy_harmonic_mean_and_hit_at_k() -> None:
    scores = torch.eye(3)[[0, 0, 1, 2, 2]]
    labels = torch.tensor([0, 1, 1, 2, 2])
    assert mean_class_accuracy(scores, labels) == pytest.approx(100 * (1 + 0.5 + 1) / 3)
    assert harmonic_mean(80.0, 60.0) == pytest.approx(2 * 80 * 60 / 140) and harmonic_mean(0.0, 0.0) == 0.0
    preds = {"a": [{"label": "x", "score": 0.2}, {"label": "y", "score": 0.9}], "zzz": [{"label": "x", "score": 1.0}]}
    assert video_hit_at_k({"a": "x", "b": "x"}, preds, 1) == 0.0
    assert video_hit_at_k({"a": "x", "b": "x"}, preds, 2) == 0.5  # b has no prediction: a miss


# --------------------------------------------------------------------------------------- AP


def test_average_precision_and_auc_match_sklearn_with_ties() -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    g = _gen(5)
    scores = torch.randint(0, 6, (50, 5), generator=g).double()  # many ties
    targets = (torch.rand(50, 5, generator=g) < 0.3).double()
    targets[:, 0] = 0  # a class without positives is left out of the mean
    targets[0, 1] = 1
    ap, auc = average_precision(scores, targets), roc_auc(scores, targets)
    assert torch.isnan(ap[0]) and torch.isnan(auc[0])
    for c in range(1, 5):
        assert ap[c].item() == pytest.approx(average_precision_score(targets[:, c], scores[:, c]), abs=1e-12)
        assert auc[c].item() == pytest.approx(roc_auc_score(targets[:, c], scores[:, c]), abs=1e-12)
    sk = average_precision_score(targets[:, 1:], scores[:, 1:], average=None).mean()
    assert mean_average_precision(scores, targets) == pytest.approx(sk, abs=1e-12)
    weighted = average_precision_score(targets[:, 1:], scores[:, 1:], average="weighted")
    assert mean_average_precision(scores, targets, weighted=True) == pytest.approx(weighted, abs=1e-12)
    assert mean_roc_auc(scores, targets) == pytest.approx(roc_auc_score(targets[:, 1:], scores[:, 1:]), abs=1e-12)
    with pytest.raises(ValueError, match="no class"):
        mean_average_precision(scores, torch.zeros_like(targets))


# ------------------------------------------------------------------------------------- probe


def test_linear_svm_probe_averages_decisions_per_video() -> None:
    g = _gen(6)
    centers = torch.tensor([[3.0, 0.0], [0.0, 3.0], [-3.0, -3.0]])
    y_train = torch.arange(3).repeat(20)
    x_train = centers[y_train] + 0.3 * torch.randn(60, 2, generator=g)
    video = torch.arange(6).repeat_interleave(2)  # 6 test videos, 2 clips each
    y_test = torch.tensor([0, 1, 2, 0, 1, 2])
    x_test = centers[y_test[video]] + 0.3 * torch.randn(12, 2, generator=g)
    out = linear_svm_probe(x_train, y_train, x_test, y_test, test_video_index=video, cs=(0.1, 1.0))
    assert out["best_top1"] == 100.0 and set(out["top1"]) == {0.1, 1.0}
    with pytest.raises(ValueError, match="test_labels"):
        linear_svm_probe(x_train, y_train, x_test, y_test[:3], test_video_index=video)
    with pytest.raises(ValueError, match="train_labels"):
        linear_svm_probe(x_train, y_train[:5], x_test, y_test, test_video_index=video)


# ------------------------------------------------------------------------ accumulators (1 rank)


def test_first_occurrence_mask_locally() -> None:
    assert first_occurrence_mask(torch.tensor([4, 2, 4, 7, 2])).tolist() == [True, True, False, True, False]


def test_accumulators_count_repeated_ids_once() -> None:
    scores = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    labels = torch.tensor([0, 0, 0])
    acc = TopKAccumulator(ks=(1,))
    acc.update(scores, labels, ids=torch.tensor([0, 1, 2]))
    acc.update(scores[:1], labels[:1], ids=torch.tensor([0]))  # a DistributedSampler repeat
    assert acc.compute() == {"top1": pytest.approx(200 / 3)}
    with pytest.raises(ValueError, match="ids on every call"):
        acc.update(scores, labels)

    ret = RetrievalAccumulator(ks=(1, 5))
    ret.update(torch.tensor([1, 3]), ids=torch.tensor([10, 11]))
    ret.update(torch.tensor([1, 7]), ids=torch.tensor([10, 12]))
    out = ret.compute()
    assert out["r1"] == pytest.approx(100 / 3) and out["r5"] == pytest.approx(200 / 3)

    views = ViewAggregator(2, method="mean")
    views.update(torch.tensor([[1.0, 0.0], [3.0, 2.0]]), torch.tensor([0, 0]), clip_ids=torch.tensor([0, 1]))
    views.update(torch.tensor([[1.0, 0.0], [5.0, 5.0]]), torch.tensor([0, 1]), clip_ids=torch.tensor([0, 2]))
    agg, counts = views.compute()
    assert agg.tolist() == [[2.0, 1.0], [5.0, 5.0]] and counts.tolist() == [2, 1]

    mean = MeanAccumulator()
    mean.update(2.0, 4)
    mean.update(5.0, 2)
    assert mean.compute() == pytest.approx(3.0)

    ap = APAccumulator()
    ap.update(torch.tensor([[0.9], [0.1]]), torch.tensor([[1.0], [0.0]]), ids=torch.tensor([0, 1]))
    ap.update(torch.tensor([[0.9]]), torch.tensor([[1.0]]), ids=torch.tensor([0]))
    assert ap.compute()["map"] == 1.0
