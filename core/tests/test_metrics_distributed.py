"""Metric reduction across 2 real gloo processes: ``DistributedSampler``'s padded repeats are counted once."""

from __future__ import annotations

import multiprocessing as mp
import os
import traceback

import pytest
import torch
import torch.distributed as dist

from videokd.losses import dino_center_update
from videokd.metrics import (
    APAccumulator,
    MeanAccumulator,
    RetrievalAccumulator,
    TopKAccumulator,
    ViewAggregator,
    aggregate_views,
    all_gather_cat,
    mean_average_precision,
    recall_at_k,
    retrieval_ranks,
    topk_accuracy,
)

N, C, WORLD = 7, 4, 2


def _data():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(N, C, generator=g)
    labels = torch.randint(0, C, (N,), generator=g)
    targets = (torch.rand(N, C, generator=g) < 0.4).double()
    targets[0] = 1.0  # every class has a positive
    video = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    return scores, labels, targets, video


def _shard(rank: int) -> torch.Tensor:
    """DistributedSampler(shuffle=False): pad to a multiple of WORLD by repeating the start, then stride."""
    total = -(-N // WORLD) * WORLD
    indices = (list(range(N)) + list(range(N)))[:total]
    return torch.tensor(indices[rank:total:WORLD])


def _worker(rank: int, init_file: str, queue) -> None:
    try:
        dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
        scores, labels, targets, video = _data()
        idx = _shard(rank)
        out = {}
        top = TopKAccumulator(ks=(1, 2))
        top.update(scores[idx], labels[idx], ids=idx)
        out["topk"] = top.compute()
        ranks = retrieval_ranks(scores, labels)
        ret = RetrievalAccumulator(ks=(1, 2))
        ret.update(ranks[idx], ids=idx)
        out["recall"] = ret.compute()
        views = ViewAggregator(3, method="sum")
        views.update(scores[idx], video[idx], clip_ids=idx)
        out["views"] = views.compute()
        ap = APAccumulator()
        ap.update(scores[idx], targets[idx], ids=idx)
        out["ap"] = ap.compute()["map"]
        mean = MeanAccumulator()
        mean.update(float(rank + 1), 2.0)
        out["mean"] = mean.compute()
        out["gather"] = all_gather_cat(torch.arange(rank + 1))
        out["center"] = dino_center_update(torch.zeros(1, C), scores[rank * 3 : rank * 3 + 3].double(), momentum=0.5)
        queue.put((rank, out))
        dist.barrier()
        dist.destroy_process_group()
    except Exception:  # report instead of hanging the parent
        queue.put((rank, traceback.format_exc()))


@pytest.mark.timeout(300)
def test_two_process_gloo_reduction(tmp_path) -> None:
    # spawn, not fork: forking a process whose OpenMP/intra-op thread pools already ran (earlier
    # tests) can deadlock the child
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    init_file = os.fspath(tmp_path / "init")
    procs = [ctx.Process(target=_worker, args=(r, init_file, queue)) for r in range(WORLD)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=240) for _ in range(WORLD))
    for p in procs:
        p.join(timeout=30)
    for rank, res in results.items():
        assert isinstance(res, dict), f"rank {rank} failed:\n{res}"

    scores, labels, targets, video = _data()
    # references: every sample exactly once, in one process
    top1, top2 = topk_accuracy(scores, labels, (1, 2))
    recall = recall_at_k(retrieval_ranks(scores, labels), (1, 2))
    agg, counts = aggregate_views(scores, video, 3, method="sum")
    for res in results.values():
        assert res["topk"] == pytest.approx({"top1": top1, "top2": top2})
        assert {k: res["recall"][k] for k in recall} == pytest.approx(recall)
        assert torch.allclose(res["views"][0].float(), agg) and torch.equal(res["views"][1], counts)
        assert res["ap"] == pytest.approx(mean_average_precision(scores, targets))
        assert res["mean"] == pytest.approx(1.5)
        assert res["gather"].tolist() == [0, 0, 1]
        assert torch.allclose(res["center"], 0.5 * scores[:6].double().mean(0, keepdim=True))
    # without ids the padded repeat would have been counted twice
    assert _shard(1).tolist().count(0) == 1 and _shard(0).tolist()[0] == 0
