"""CLIP image-encoder training throughput: forward + backward images/s at ViT-B/16 size.

    python benchmarks/clip_encoder.py                  # CPU at 112 px (< 2 min), CUDA at 224 px if present
    python benchmarks/clip_encoder.py --cpu-only --cpu-batch 2 --iters 2

CPU: fp32, 112 px (7x7 patches + class token), small batch. CUDA: 224 px, bf16 autocast, fp32
weights, SDPA (flash) attention; the FLOPs of one step are counted once with
``torch.utils.flop_counter.FlopCounterMode`` and divided by the measured step time to give the
achieved TFLOP/s. Results go to ``benchmarks/results/clip_encoder.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from videokd import clip

RESULTS = Path(__file__).resolve().parent / "results" / "clip_encoder.json"


def vit_b16(resolution: int) -> clip.VisionTransformer:
    base = clip.MODEL_CONFIGS["ViT-B/16"]
    return clip.VisionTransformer(
        input_resolution=resolution,
        patch_size=base.vision_patch_size,
        width=base.vision_width,
        layers=base.vision_layers,
        heads=base.vision_heads,
        output_dim=base.embed_dim,
    )


def count_step_flops(model: torch.nn.Module, images: torch.Tensor, autocast) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, autocast():
        model(images).float().square().mean().backward()
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def run(device: str, *, resolution: int, batch: int, warmup: int, iters: int, bf16: bool, count_flops: bool) -> dict:
    torch.manual_seed(0)
    model = vit_b16(resolution).to(device).train()
    images = torch.randn(batch, 3, resolution, resolution, device=device)
    opt = torch.optim.SGD(model.parameters(), lr=1e-6)

    def autocast():
        return torch.autocast(device_type=device, dtype=torch.bfloat16) if bf16 else nullcontext()

    def step() -> None:
        with autocast():
            loss = model(images).float().square().mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    flops = count_step_flops(model, images, autocast) if count_flops else None
    for _ in range(warmup):
        step()
    sync()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    median = sorted(times)[len(times) // 2]
    result = {
        "device": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or platform.machine(),
        "model": "ViT-B/16 image tower",
        "resolution": resolution,
        "tokens": (resolution // 16) ** 2 + 1,
        "batch": batch,
        "precision": "bf16 autocast" if bf16 else "fp32",
        "iters": iters,
        "step_s_median": round(median, 4),
        "images_per_s": round(batch / median, 2),
    }
    if device == "cpu":
        result["threads"] = torch.get_num_threads()
    if flops is not None:
        result["gflop_per_step"] = round(flops / 1e9, 1)
        result["achieved_tflops"] = round(flops / median / 1e12, 4)
    if device == "cuda":
        result["peak_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-batch", type=int, default=4)
    parser.add_argument("--cpu-resolution", type=int, default=112)
    parser.add_argument("--cuda-batch", type=int, default=128)
    parser.add_argument("--cuda-resolution", type=int, default=224)
    parser.add_argument("--iters", type=int, default=3, help="timed steps on the CPU (CUDA runs 5x more)")
    parser.add_argument("--cpu-only", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    results = {"torch": torch.__version__, "runs": []}
    # the FLOP-counting step doubles as the CPU warm-up (the CPU has no autotuning to settle)
    cpu = run(
        "cpu",
        resolution=args.cpu_resolution,
        batch=args.cpu_batch,
        warmup=0,
        iters=args.iters,
        bf16=False,
        count_flops=True,
    )
    print(json.dumps(cpu))
    results["runs"].append(cpu)
    if torch.cuda.is_available() and not args.cpu_only:
        gpu = run(
            "cuda",
            resolution=args.cuda_resolution,
            batch=args.cuda_batch,
            warmup=3,
            iters=5 * args.iters,
            bf16=True,
            count_flops=True,
        )
        print(json.dumps(gpu))
        results["runs"].append(gpu)
    else:
        results["cuda"] = "not available on this machine; run again on a GPU for the 224 px bf16 numbers"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(tmp, args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
