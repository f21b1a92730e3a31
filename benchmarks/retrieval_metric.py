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

Usage: ``python benchmarks/retrieval_metric.py [--repeats 7] [--threads N] [--no-baseline] [--quick]``
(``--quick``: 1,000 x 200). Timing / memory method: ``_bench.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402

from videokd.metrics import prvr_ground_truth, retrieval_metrics, retrieval_ranks  # noqa: E402

SIZES = {"tvr_test": (10_895, 2_179), "activitynet_test": (15_753, 4_430)}
QUICK_SIZES = {"small": (1_000, 200)}


def make_problem(nq: int, nv: int, seed: int = 0) -> tuple[torch.Tensor, list[str], list[str]]:
    """Random float32 scores and ids with every video owning >= 1 caption (rows shuffled)."""
    g = torch.Generator().manual_seed(seed)
    video_ids = [f"vid{j:05d}" for j in range(nv)]
    owner = torch.cat([torch.arange(nv), torch.randint(0, nv, (nq - nv,), generator=g)])
    owner = owner[torch.randperm(nq, generator=g)]
    query_ids = [f"{video_ids[int(v)]}#enc#{i}" for i, v in enumerate(owner)]
    scores = torch.rand(nq, nv, generator=g)
    return scores, query_ids, video_ids


def numpy_argsort_loop_ranks(scores: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The original's ranking: per row, argsort of -score, position of the ground truth."""
    ranks = np.empty(len(gt), dtype=np.int64)
    for i in range(scores.shape[0]):
        order = np.argsort(-scores[i])
        ranks[i] = int(np.where(order == gt[i])[0][0]) + 1
    return ranks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-baseline", action="store_true", help="skip the numpy argsort loop baseline")
    _bench.add_common_args(parser)
    parser.set_defaults(threads=1)
    args = parser.parse_args(argv)
    device = _bench.setup(args)
    sizes = QUICK_SIZES if args.quick else SIZES
    repeats = _bench.pick(args.repeats, args.quick, 3, 7)
    rows = []
    for name, (nq, nv) in sizes.items():
        scores, query_ids, video_ids = make_problem(nq, nv)
        gt_lists = prvr_ground_truth(query_ids, video_ids)
        gt = torch.tensor([g[0] for g in gt_lists])
        r = _bench.measure(lambda: retrieval_ranks(scores, gt), device, name=f"{name}_ranks", unit="call",
                           warmup=1, repeats=repeats)  # fmt: skip
        f = _bench.measure(lambda: retrieval_metrics(scores, query_ids, video_ids), device, name=f"{name}_full_call",
                           unit="call", warmup=1, repeats=repeats)  # fmt: skip
        f["metrics"].update(n_queries=nq, n_videos=nv,
                            sumr_random_scores=round(retrieval_metrics(scores, query_ids, video_ids)["sumr"], 3))  # fmt: skip
        rows += [r, f]
        if name in ("tvr_test", "small") and not args.no_baseline:
            np_scores, np_gt = scores.numpy(), gt.numpy()
            out = {}
            b = _bench.measure(lambda: out.update(ref=numpy_argsort_loop_ranks(np_scores, np_gt)), device,
                               name=f"{name}_numpy_argsort_loop_baseline", unit="call", warmup=0, repeats=1)  # fmt: skip
            ref = out["ref"]
            # float32 rand has exact ties now and then: the argsort rank must lie within our bounds
            lo = retrieval_ranks(scores, gt).numpy()
            hi = retrieval_ranks(scores, gt, ties="pessimistic").numpy()
            b["metrics"].update(
                rows_with_gt_ties=int((lo != hi).sum()),
                ranks_equal_on_tie_free_rows=bool(np.array_equal(ref[lo == hi], lo[lo == hi])),
                ranks_within_tie_bounds=bool(((lo <= ref) & (ref <= hi)).all()),
                baseline_over_ranks=round(b["median_s"] / r["median_s"], 1),
            )
            rows.append(b)
    _bench.print_rows(rows)
    config = {"sizes": {k: {"queries": q, "videos": v} for k, (q, v) in sizes.items()}, "numpy": np.__version__,
              "original_reference_s": {"tvr_test": {"cal_perf": 4.3, "get_gt": 4.4,
                                                    "source": "specs/dldkd.md section 9.3"}}}  # fmt: skip
    _bench.write_doc(args.out, benchmark="retrieval_metric", script=__file__, device=device, quick=args.quick,
                     config=config, results=rows)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
