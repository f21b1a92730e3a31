"""Evaluation: the bucketed max-over-frames scores equal the masked max, ranks, result files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dldkd.evaluate import FrameIndex, evaluate_model, format_table, ranks_from_scores, write_results
from dldkd.model import build_model, frame_max_scores


@pytest.mark.parametrize("n_buckets, chunk", [(1, None), (3, 5), (50, 7)])
def test_frame_index_equals_masked_max(n_buckets: int, chunk) -> None:
    g = torch.Generator().manual_seed(0)
    nv, length, h = 23, 11, 8
    lengths = torch.randint(1, length + 1, (nv,), generator=g)
    mask = (torch.arange(length)[None] < lengths[:, None]).float()
    videos = torch.randn(nv, length, h, generator=g)
    videos[~mask.bool()] = 1e6  # garbage at padding must not leak
    queries = torch.randn(17, h, generator=g)
    got = FrameIndex(videos, mask, n_buckets=n_buckets).scores(queries, chunk_size=chunk)
    expected = frame_max_scores(queries, videos, mask).score_cos
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-6)


def test_frame_index_rejects_empty_videos() -> None:
    with pytest.raises(ValueError, match="no valid frame"):
        FrameIndex(torch.randn(2, 3, 4), torch.tensor([[1.0, 0, 0], [0, 0, 0]]))


def test_evaluate_model_batches_and_files(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model(
        visual_input_size=6,
        query_input_size=5,
        inheritance_hidden=8,
        exploration_hidden=8,
        n_heads=2,
        max_ctx_l=7,
        max_desc_l=4,
    ).eval()
    nv, nq = 9, 20
    videos = torch.randn(nv, 7, 6)
    vmask = (torch.arange(7)[None] < torch.randint(1, 8, (nv,))[:, None]).float()
    queries = torch.randn(nq, 4, 5)
    qmask = (torch.arange(4)[None] < torch.randint(1, 5, (nq,))[:, None]).float()
    video_ids = [f"v{i}" for i in range(nv)]
    query_ids = [f"v{i % nv}#enc#{i}" for i in range(nq)]
    # batches in arbitrary order / sizes, as the loaders give them (idxs say where rows go)
    perm = torch.randperm(nq).tolist()
    qb = [
        {"target": queries[perm[s : s + 6]], "words_mask": qmask[perm[s : s + 6]], "idxs": perm[s : s + 6]}
        for s in range(0, nq, 6)
    ]
    vb = [
        {"frame_videos": videos[s : s + 4], "videos_mask": vmask[s : s + 4], "idxs": list(range(s, min(s + 4, nv)))}
        for s in range(0, nv, 4)
    ]
    res = evaluate_model(model, vb, qb, video_ids=video_ids, query_ids=query_ids)
    with torch.no_grad():
        ref = {
            b: frame_max_scores(
                model.encode_query(queries, qmask, b), model.encode_video(videos, vmask, b), vmask
            ).score_cos
            for b in model.branches
        }
    for b in model.branches:
        torch.testing.assert_close(res.scores[b], ref[b], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        res.scores["fused"], 0.7 * ref["inheritance"] + 0.3 * ref["exploration"], atol=1e-5, rtol=1e-5
    )
    ranks, gt = ranks_from_scores(res.scores["fused"], query_ids, video_ids)
    assert torch.equal(ranks, res.ranks["fused"]) and gt[3] == [3]
    fused = res.scores["fused"]
    brute = torch.tensor([1 + int((fused[i] > fused[i, i % nv]).sum()) for i in range(nq)])
    assert torch.equal(res.ranks["fused"], brute)
    files = write_results(res, tmp_path, split="test")
    doc = json.loads(files["metrics"].read_text())
    assert doc["metrics"]["fused"]["sumr"] == pytest.approx(res.sumr) and doc["n_queries"] == nq
    lines = files["ranks"].read_text().splitlines()
    assert lines[0].split("\t")[:3] == ["cap_id", "video_id", "rank_fused"] and len(lines) == nq + 1
    assert lines[1].split("\t")[:3] == [query_ids[0], "v0", str(int(res.ranks["fused"][0]))]
    table = format_table(res.metrics)
    assert "SumR" in table and "fused" in table
