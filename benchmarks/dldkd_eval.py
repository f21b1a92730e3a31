#!/usr/bin/env python
"""DL-DKD speed on this machine: full text-to-video evaluation at TVR / ActivityNet test size with
random features and a randomly initialised model at the paper's dims, and one training step at
the paper's batch (128 videos).

    python benchmarks/dldkd_eval.py [--sizes tvr activitynet] [--frames realistic|max]
                                    [--train-step] [--device cpu|cuda] [--precisions fp32 bf16] [--out FILE.json]

``--frames realistic`` draws per-video frame counts around the real feature lengths (TVR ~51,
ActivityNet ~60 1.5-s clips, clipped to [8, 128]); ``max`` gives every video 128 frames (the
upper bound of the original's cost). ``--device cuda`` runs the model, scoring and training step on
the GPU (synchronised before every clock read) and records peak GPU memory; ``--precisions`` lists
the training-step precisions (bf16 = autocast). Results go to ``benchmarks/results/dldkd_eval.json``
(``dldkd_eval_cuda.json`` on a GPU) beside this script unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from dldkd.evaluate import evaluate_model
from dldkd.losses import DLDKDLoss
from dldkd.model import build_model
from dldkd.runner import build_optimizer

CPU = torch.device("cpu")
SIZES = {  # (queries, videos, Dv, Dq, mean frames)
    "tvr": (10_895, 2_179, 3072, 768, 51),
    "activitynet": (15_753, 4_430, 1024, 1024, 60),
    "charades": (3_720, 1_334, 1024, 1024, 30),
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


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def _peak_mib(device: torch.device) -> float | None:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak RSS (KiB on Linux)
    except ImportError:  # pragma: no cover - not on Linux
        return None


def bench_eval(name: str, frames: str, device: torch.device = CPU) -> dict:
    nq, nv, dv, dq, mean = SIZES[name]
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = build_model(visual_input_size=dv, query_input_size=dq).eval().to(device)
    _reset_peak(device)
    lengths = _lengths(nv, mean, frames, g)
    vids = [f"v{i}" for i in range(nv)]
    qids = [f"v{i % nv}#enc#{i}" for i in range(nq)]
    t0 = time.perf_counter()
    res = evaluate_model(
        model,
        _video_batches(nv, dv, lengths, 200, g),
        _query_batches(nq, dq, 50, g),
        video_ids=vids,
        query_ids=qids,
        keep_scores=False,
        device=device,
    )
    _sync(device)
    total = time.perf_counter() - t0
    # the random-feature generation happens inside the encode phases; time it alone to subtract
    t1 = time.perf_counter()
    for _ in _video_batches(nv, dv, lengths, 200, g):
        pass
    for _ in _query_batches(nq, dq, 50, g):
        pass
    gen = time.perf_counter() - t1
    return {
        "split": name,
        "queries": nq,
        "videos": nv,
        "frames": frames,
        "total_frames": int(lengths.sum()),
        "seconds_total": total - gen,
        "seconds_random_input_generation_excluded": gen,
        "phases_s": res.timings,
        "fused_sumr_random_model": res.metrics["fused"]["sumr"],
        "device": str(device),
        "peak_memory_mib": _peak_mib(device),
    }


def bench_train_step(name: str = "tvr", steps: int = 3, device: torch.device = CPU, precision: str = "fp32") -> dict:
    _, _, dv, dq, mean = SIZES[name]
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = build_model(visual_input_size=dv, query_input_size=dq).train().to(device)
    crit = DLDKDLoss(margin=0.1, hard_pool_size=20)
    opt = build_optimizer(model.named_parameters(), lr=2.5e-4, warmup=0.01, t_total=1000)
    b, caps = 128, 5
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
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
    times = []
    _reset_peak(device)
    for _ in range(steps + 1):
        _sync(device)
        t0 = time.perf_counter()
        with autocast:
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
        _sync(device)
        times.append(time.perf_counter() - t0)
    return {
        "split": name,
        "videos_per_batch": b,
        "captions_per_batch": nq,
        "padded_frames": length,
        "seconds_per_step": sorted(times[1:])[len(times[1:]) // 2],
        "first_step_s": times[0],
        "device": str(device),
        "precision": precision,
        "peak_memory_mib": _peak_mib(device),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=["tvr", "activitynet"], choices=sorted(SIZES))
    p.add_argument("--frames", default="realistic", choices=["realistic", "max"])
    p.add_argument("--train-step", action="store_true")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", "bf16"], help="training step")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available here")
    default_name = "dldkd_eval.json" if device.type == "cpu" else "dldkd_eval_cuda.json"
    args.out = args.out or Path(__file__).parent / "results" / default_name
    info = {
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_avg_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
    }
    results = {"info": info, "eval": [], "train_step": None, "train_steps": []}
    for name in args.sizes:
        r = bench_eval(name, args.frames, device)
        print(json.dumps(r), flush=True)
        results["eval"].append(r)
    if args.train_step:
        for precision in args.precisions:
            r = bench_train_step(device=device, precision=precision)
            print(json.dumps(r), flush=True)
            results["train_steps"].append(r)
        results["train_step"] = results["train_steps"][0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
