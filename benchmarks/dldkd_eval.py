#!/usr/bin/env python
"""DL-DKD speed on this machine: full text-to-video evaluation at TVR / ActivityNet test size with
random features and a randomly initialised model at the paper's dims, and one training step at
the paper's batch (128 videos).

    python benchmarks/dldkd_eval.py [--sizes tvr activitynet] [--frames realistic|max]
                                    [--train-step] [--device cpu|cuda] [--precisions fp32 bf16] [--out FILE.json]
    python benchmarks/dldkd_eval.py --quick        # smoke size: 400 queries x 80 videos, a 16-video step

``--frames realistic`` draws per-video frame counts around the real feature lengths (TVR ~51,
ActivityNet ~60 1.5-s clips, clipped to [8, 128]); ``max`` gives every video 128 frames (the
upper bound of the original's cost). ``--device cuda`` runs the model, scoring and training step on
the GPU (synchronised before every clock read) and records peak GPU memory; ``--precisions`` lists
the training-step precisions (bf16 = autocast). The evaluation's row times the whole
``evaluate_model`` call (median of ``--repeats``, default 1: minutes at full size); its metrics give
the package's own phase timings and the time with the random-input generation subtracted
(``eval_excluding_input_generation_s``, generation timed separately). Timing / memory: ``_bench.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402

from dldkd.evaluate import evaluate_model  # noqa: E402
from dldkd.losses import DLDKDLoss  # noqa: E402
from dldkd.model import build_model  # noqa: E402
from dldkd.runner import build_optimizer  # noqa: E402

CPU = torch.device("cpu")
SIZES = {  # (queries, videos, Dv, Dq, mean frames)
    "tvr": (10_895, 2_179, 3072, 768, 51),
    "activitynet": (15_753, 4_430, 1024, 1024, 60),
    "charades": (3_720, 1_334, 1024, 1024, 30),
    "tiny": (400, 80, 3072, 768, 20),  # --quick
}


def _lengths(n: int, mean: int, mode: str, g: torch.Generator) -> torch.Tensor:
    if mode == "max":
        return torch.full((n,), 128, dtype=torch.long)
    return (torch.randn(n, generator=g) * mean * 0.4 + mean).round().long().clamp(8, 128)


def _padded_batches(lengths: torch.Tensor, dim: int, bsz: int, g: torch.Generator):
    """As the package's eval loaders: longest first, each batch padded to its own longest item;
    yields (features (b, L, dim) L2-normalised and zero-padded, mask (b, L), indices)."""
    order = torch.argsort(lengths, descending=True, stable=True)
    for s in range(0, len(lengths), bsz):
        idx = order[s : s + bsz]
        ln = lengths[idx]
        length = int(ln.max())
        mask = (torch.arange(length)[None] < ln[:, None]).float()
        feats = torch.nn.functional.normalize(torch.randn(len(idx), length, dim, generator=g), dim=-1) * mask[..., None]
        yield feats, mask, idx.tolist()


def _video_batches(n: int, dv: int, lengths: torch.Tensor, bsz: int, g: torch.Generator):
    for feats, mask, idx in _padded_batches(lengths[:n], dv, bsz, g):
        yield {"frame_videos": feats, "videos_mask": mask, "idxs": idx}


def _query_batches(n: int, dq: int, bsz: int, g: torch.Generator):
    # RoBERTa token counts of real captions: about 10-30 (TVR median ~17)
    lengths = torch.randint(8, 31, (n,), generator=torch.Generator().manual_seed(1))
    for feats, mask, idx in _padded_batches(lengths, dq, bsz, g):
        yield {"target": feats, "words_mask": mask, "idxs": idx}


def bench_eval(name: str, frames: str, device: torch.device = CPU, repeats: int = 1) -> dict:
    nq, nv, dv, dq, mean = SIZES[name]
    torch.manual_seed(0)
    model = build_model(visual_input_size=dv, query_input_size=dq).eval().to(device)
    lengths = _lengths(nv, mean, frames, torch.Generator().manual_seed(0))
    vids = [f"v{i}" for i in range(nv)]
    qids = [f"v{i % nv}#enc#{i}" for i in range(nq)]
    last = {}

    def evaluate() -> None:
        g = torch.Generator().manual_seed(0)
        last["res"] = evaluate_model(
            model,
            _video_batches(nv, dv, lengths, 200, g),
            _query_batches(nq, dq, 50, g),
            video_ids=vids,
            query_ids=qids,
            keep_scores=False,
            device=device,
        )

    row = _bench.measure(evaluate, device, name=f"eval_{name}", unit="full evaluation", warmup=0, repeats=repeats)
    # the random-feature generation happens inside the encode phases; time it alone to subtract
    g = torch.Generator().manual_seed(0)
    t1 = time.perf_counter()
    for _ in _video_batches(nv, dv, lengths, 200, g):
        pass
    for _ in _query_batches(nq, dq, 50, g):
        pass
    gen = time.perf_counter() - t1
    res = last["res"]
    row["metrics"].update(
        queries=nq,
        videos=nv,
        frames=frames,
        total_frames=int(lengths.sum()),
        input_generation_s=round(gen, 3),
        eval_excluding_input_generation_s=round(row["median_s"] - gen, 3),
        **{f"phase_{k}_s": round(v, 3) for k, v in res.timings.items()},
        fused_sumr_random_model=round(res.metrics["fused"]["sumr"], 2),
    )
    return row


def bench_train_step(
    name: str = "tvr", device: torch.device = CPU, precision: str = "fp32", *, b: int = 128, warmup: int = 1,
    repeats: int = 3,
) -> dict:  # fmt: skip
    _, _, dv, dq, mean = SIZES[name]
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = build_model(visual_input_size=dv, query_input_size=dq).train().to(device)
    crit = DLDKDLoss(margin=0.1, hard_pool_size=20)
    opt = build_optimizer(model.named_parameters(), lr=2.5e-4, warmup=0.01, t_total=1000)
    caps = 5
    lengths = _lengths(b, mean, "realistic", g)
    length = int(lengths.max())
    vm = (torch.arange(length)[None] < lengths[:, None]).float()
    v = torch.randn(b, length, dv, generator=g) * vm[..., None]
    nq = b * caps
    tm = (torch.arange(30)[None] < torch.randint(8, 31, (nq,), generator=g)[:, None]).float()
    t = torch.randn(nq, 30, dq, generator=g) * tm[..., None]
    labels = torch.arange(b).repeat_interleave(caps)
    tt, tv = torch.randn(nq, 512, generator=g), torch.randn(b, length, 512, generator=g) * vm[..., None]
    v, vm, t, tm, labels, tt, tv = (x.to(device) for x in (v, vm, t, tm, labels, tt, tv))

    def step() -> None:
        with _bench.autocast(device, precision):
            out = crit(
                model(v, vm, t, tm),
                videos_mask=vm,
                labels=labels,
                teacher_text=tt,
                teacher_video=tv,
                kd_coefficient=0.1,
            )
        out["loss_overall"].backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    row = _bench.measure(step, device, name=f"train_step_{name}_{precision}", unit="step", warmup=warmup,
                         repeats=repeats, items=b, items_name="videos")  # fmt: skip
    row["metrics"].update(captions_per_batch=nq, padded_frames=length, precision=precision)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=None, choices=sorted(SIZES), help="default tvr activitynet")
    p.add_argument("--frames", default="realistic", choices=["realistic", "max"])
    p.add_argument("--train-step", action="store_true", help="also time one training step (always with --quick)")
    p.add_argument("--batch", type=int, default=None, help="training-step videos (default 128, the paper's; 16 quick)")
    p.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", "bf16"], help="training step")
    _bench.add_common_args(p)
    a = p.parse_args(argv)
    device = _bench.setup(a)
    sizes = a.sizes or (["tiny"] if a.quick else ["tvr", "activitynet"])
    rows = []
    for name in sizes:
        rows.append(bench_eval(name, a.frames, device, repeats=a.repeats or 1))
        _bench.print_rows(rows[-1:])
    if a.train_step or a.quick:
        for precision in a.precisions:
            rows.append(
                bench_train_step(
                    device=device,
                    precision=precision,
                    b=a.batch or (16 if a.quick else 128),
                    warmup=_bench.pick(a.warmup, a.quick, 1, 1),
                    repeats=_bench.pick(a.repeats, a.quick, 2, 3),
                )  # fmt: skip
            )
            _bench.print_rows(rows[-1:])
    config = {"sizes": {k: dict(zip(("queries", "videos", "Dv", "Dq", "mean_frames"), SIZES[k])) for k in sizes},
              "frames": a.frames, "model": "DL-DKD at the paper's dims, random init, random L2-normalised features",
              "eval_batch": {"videos": 200, "queries": 50}}  # fmt: skip
    _bench.write_doc(a.out, benchmark="dldkd_eval", script=__file__, device=device, quick=a.quick, config=config,
                     results=rows)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
