#!/usr/bin/env python
"""XKD pre-training step time and peak memory at the paper's size (ViT-B students/teachers, 4-block
decoders, 8192-way heads; video 32x112x112 + 3/8 local views of 8x96x96, audio 80x448 + 80x112).

    python benchmarks/xkd_pretrain_step.py [--device cpu|cuda] [--precision fp32|bf16|fp16] [--batch 2]
                                           [--steps 3] [--warmup 1] [--variants XKD XKD_MAS XKD_MATS]
                                           [--size base|micro] [--out FILE.json]

One step = forward (MAE recon + teachers + refine + students + MMD + DINO) + backward + per-tensor
student clipping + AdamW + EMA, exactly as the runner's Trainer hooks do (``xkd.optim.train_step``;
autocast when bf16/fp16). Peak memory: process max RSS on the CPU, ``torch.cuda.max_memory_allocated``
on a GPU. Results go to ``benchmarks/results/xkd_pretrain_step[_cuda].json`` unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

import torch

from xkd.model import build_model
from xkd.optim import build_xkd_optimizer, train_step

SIZES = {
    # the yaml's geometry; micro is the package's CPU test size
    "base": dict(frame=112, frames=32, local=(8, 96), spec=448, local_spec=112, enc="base_encoder", dec="base_decoder",
                 proj="2048-gelu-3-256-8192-norm3", patch=16, pt=4),
    "micro": dict(frame=32, frames=8, local=(2, 16), spec=224, local_spec=48, enc="micro_encoder", dec="micro_decoder",
                  proj="64-gelu-3-16-256-norm3", patch=8, pt=2),
}  # fmt: skip
FWD = dict(
    teacher_temp={"video": 0.1, "audio": 0.07}, student_temp={"video": 0.1, "audio": 0.1}, vid_mask_ratio=0.85,
    aud_mask_ratio=0.8, align_coeff=1, cmkd_coeff=1, recon_coeff=5,
)  # fmt: skip


def bench(variant: str, size: str, batch: int, steps: int, warmup: int, device: torch.device, precision: str) -> dict:
    s = SIZES[size]
    torch.manual_seed(0)
    kwargs = dict(
        frame_size=[3, s["frame"], s["frame"]], num_frames=s["frames"], vid_patch_spatial=[s["patch"]] * 2,
        vid_patch_temporal=s["pt"], spec_size=[80, s["spec"]], student_cfg=s["enc"], teacher_cfg=s["enc"],
        decoder_cfg=s["dec"], projector_cfg=s["proj"],
    )  # fmt: skip
    model = build_model({"name": variant, "kwargs": kwargs}).to(device).train()
    opt = build_xkd_optimizer(model, {"name": "adamw", "betas": [0.9, 0.95]})
    n_local = 1 if variant == "XKD" else 3
    lt, ls = s["local"]
    batch_data = {
        "frames": [torch.randn(batch, 3, s["frames"], s["frame"], s["frame"], device=device)]
        + [torch.randn(batch, 3, lt, ls, ls, device=device) for _ in range(n_local)],
        "specs": [
            torch.randn(batch, 1, 80, s["spec"], device=device),
            torch.randn(batch, 1, 80, s["local_spec"], device=device),
        ],
    }
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    times, cpu_times = [], []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for i in range(warmup + steps):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            out = train_step(
                model,
                opt,
                batch_data,
                fwd_kwargs=FWD,
                lr=1e-4,
                weight_decay=0.3,
                vid_ema=0.997,
                aud_ema=0.997,
                clip_grad=0.3,
            )
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)
        assert torch.isfinite(out["loss"]), out["loss"]
    peak = (
        torch.cuda.max_memory_allocated(device) / 2**30
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    )
    return {
        "variant": variant,
        "size": size,
        "batch": batch,
        "precision": precision,
        "trainable_params_M": round(sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6, 2),
        "total_params_M": round(sum(p.numel() for p in {id(p): p for p in model.parameters()}.values()) / 1e6, 2),
        "step_s_median": round(sorted(times)[len(times) // 2], 4),
        "step_s_all": [round(t, 4) for t in times],
        "process_cpu_s_per_step": [round(t, 2) for t in cpu_times],  # CPU-seconds: robust to a busy machine
        "load_average_1min": round(os.getloadavg()[0], 2),
        "peak_memory_GiB": round(peak, 3),
        "peak_memory_kind": "cuda max_memory_allocated" if device.type == "cuda" else "process max RSS",
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--size", default="base", choices=sorted(SIZES))
    p.add_argument("--variants", nargs="+", default=["XKD"])
    p.add_argument("--out", default=None)
    a = p.parse_args()
    device = torch.device(a.device)
    results = [bench(v, a.size, a.batch, a.steps, a.warmup, device, a.precision) for v in a.variants]
    record = {
        "benchmark": "xkd_pretrain_step",
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"},
        "results": results,
    }  # fmt: skip
    out = (
        Path(a.out)
        if a.out
        else Path(__file__).parent
        / "results"
        / ("xkd_pretrain_step_cuda.json" if device.type == "cuda" else "xkd_pretrain_step.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2))
    for r in results:
        print(
            f"{r['variant']} {r['size']} batch {r['batch']} {r['precision']}: {r['step_s_median']} s/step, peak {r['peak_memory_GiB']} GiB"
        )
    print(f"-> {out}")


if __name__ == "__main__":
    main()
