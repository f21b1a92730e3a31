"""Benchmark: PRVR retrieval metric (R@1/5/10/100, SumR, medR, meanR, mAP) on CPU.

Sizes are the test splits from the DL-DKD spec: TVR 10,895 queries x 2,179 videos and ActivityNet
15,753 x 4,430, with about 5 / 3.6 captions per video and ``<video_id>#enc#<k>`` query ids.
For each size it times (median and min of ``--repeats`` calls, after one warm-up call, one torch
thread by default):

* ``ranks_s`` - :func:`videokd.metrics.retrieval_ranks` on a (Nq,) ground-truth index;
* ``full_call_s`` - :func:`videokd.metrics.retrieval_metrics` from ids (ground truth from ids,
  ranks, R@K, medR/meanR/mAP): what one evaluation call costs.

and, once at TVR size, a baseline that ranks like the original ``eval_q2m`` (one numpy argsort
per query row). The original's full ``cal_perf`` + ``get_gt`` take 4.3 s + 4.4 s at TVR size on
the 2-core machine (spec section 9.3); they are Python loops over Nq x Nv and are not rerun here.

Usage: ``python benchmarks/retrieval_metric.py [--repeats 7] [--threads N] [--no-baseline]``.
Writes ``benchmarks/results/retrieval_metric.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from videokd.metrics import prvr_ground_truth, retrieval_metrics, retrieval_ranks

SIZES = {"tvr_test": (10_895, 2_179), "activitynet_test": (15_753, 4_430)}


def make_problem(nq: int, nv: int, seed: int = 0) -> tuple[torch.Tensor, list[str], list[str]]:
    """Random float32 scores and ids with every video owning >= 1 caption (rows shuffled)."""
    g = torch.Generator().manual_seed(seed)
    video_ids = [f"vid{j:05d}" for j in range(nv)]
    owner = torch.cat([torch.arange(nv), torch.randint(0, nv, (nq - nv,), generator=g)])
    owner = owner[torch.randperm(nq, generator=g)]
    query_ids = [f"{video_ids[int(v)]}#enc#{i}" for i, v in enumerate(owner)]
    scores = torch.rand(nq, nv, generator=g)
    return scores, query_ids, video_ids


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def numpy_argsort_loop_ranks(scores: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The original's ranking: per row, argsort of -score, position of the ground truth."""
    ranks = np.empty(len(gt), dtype=np.int64)
    for i in range(scores.shape[0]):
        order = np.argsort(-scores[i])
        ranks[i] = int(np.where(order == gt[i])[0][0]) + 1
    return ranks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: stable on a shared CPU; 0 = torch's default)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the numpy argsort loop baseline")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "retrieval_metric.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    results = {
        "benchmark": "retrieval_metric",
        "device": "cpu",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "original_reference_s": {"tvr_test": {"cal_perf": 4.3, "get_gt": 4.4, "source": "specs/dldkd.md section 9.3"}},
        "sizes": {},
    }
    for name, (nq, nv) in SIZES.items():
        scores, query_ids, video_ids = make_problem(nq, nv)
        gt_lists = prvr_ground_truth(query_ids, video_ids)
        gt = torch.tensor([g[0] for g in gt_lists])
        t_ranks = timed(lambda: retrieval_ranks(scores, gt), args.repeats)
        t_full = timed(lambda: retrieval_metrics(scores, query_ids, video_ids), args.repeats)
        metrics = retrieval_metrics(scores, query_ids, video_ids)
        entry = {
            "n_queries": nq,
            "n_videos": nv,
            "score_matrix_mb": scores.numel() * 4 / 2**20,
            "ranks_s": statistics.median(t_ranks),
            "full_call_s": statistics.median(t_full),
            "ranks_s_min": min(t_ranks),
            "full_call_s_min": min(t_full),
            "ranks_s_all": t_ranks,
            "full_call_s_all": t_full,
            "sumr_random_scores": metrics["sumr"],
        }
        if name == "tvr_test" and not args.no_baseline:
            np_scores, np_gt = scores.numpy(), gt.numpy()
            t0 = time.perf_counter()
            ref = numpy_argsort_loop_ranks(np_scores, np_gt)
            entry["baseline_numpy_argsort_loop_s"] = time.perf_counter() - t0
            # float32 rand has exact ties now and then: the argsort rank must lie within our bounds
            lo = retrieval_ranks(scores, gt).numpy()
            hi = retrieval_ranks(scores, gt, ties="pessimistic").numpy()
            entry["baseline_rows_with_gt_ties"] = int((lo != hi).sum())
            entry["baseline_ranks_equal_on_tie_free_rows"] = bool(np.array_equal(ref[lo == hi], lo[lo == hi]))
            entry["baseline_ranks_within_tie_bounds"] = bool(((lo <= ref) & (ref <= hi)).all())
        results["sizes"][name] = entry
        print(
            f"{name:18s} {nq:>6d} x {nv:<5d} ranks {entry['ranks_s']:.4f} s   full call {entry['full_call_s']:.4f} s"
            + (
                f"   numpy argsort loop {entry['baseline_numpy_argsort_loop_s']:.2f} s"
                if "baseline_numpy_argsort_loop_s" in entry
                else ""
            )
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
