"""KICLIP training-step throughput and memory at ViT-B/16 size, against the plain ViT-B/16 image-tower step.

    python benchmarks/kiclip_train_step.py                      # CPU at 64 px (a few minutes), CUDA at 224 px bf16 if present
    python benchmarks/kiclip_train_step.py --device cuda --iters 5 --output /tmp/kiclip.json

One step = the full KICLIP training step of the package (student visual tower with neighbour-frame
attention and the frozen injection stream, student text tower on 2 prompt sets x C classes, frozen
teacher image + text towers, loss, backward, AdamW), on ``clips`` clips of 8 frames. Two references
at the same resolution and frame count: ``plain``, the ViT-B/16 image tower of
``benchmarks/clip_encoder.py`` (forward + backward + step on the same B*T frames), and
``student_visual``, KICLIP's visual tower alone (injection on). The ratios give the cost of the
neighbour-frame attention + frozen stream, and of the teacher and text towers. Random weights.
Results go to ``benchmarks/results/kiclip_train_step.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clip_encoder import vit_b16  # noqa: E402

from kiclip.losses import kiclip_loss  # noqa: E402
from kiclip.model import KICLIP  # noqa: E402
from kiclip.optim import build_kiclip_optimizer  # noqa: E402
from videokd import clip  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "kiclip_train_step.json"


def _config(resolution: int) -> clip.CLIPConfig:
    base = clip.MODEL_CONFIGS["ViT-B/16"]
    return clip.CLIPConfig(**{**base.to_dict(), "image_resolution": resolution})


def _timed(step, device: str, warmup: int, iters: int) -> tuple[float, float | None]:
    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

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
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None
    return sorted(times)[len(times) // 2], peak


def run(device: str, *, resolution: int, clips: int, frames: int, classes: int, warmup: int, iters: int, bf16: bool):
    torch.manual_seed(0)
    random.seed(0)
    autocast = (lambda: torch.autocast(device_type=device, dtype=torch.bfloat16)) if bf16 else nullcontext
    video = torch.randn(clips, 3, frames, resolution, resolution, device=device)
    labels = torch.randint(0, classes, (clips,), device=device)
    out: dict = {}

    # plain ViT-B/16 image tower on the same frames
    plain = vit_b16(resolution).to(device).train()
    opt = torch.optim.AdamW(plain.parameters(), lr=1e-6)
    imgs = video.transpose(1, 2).reshape(-1, 3, resolution, resolution)

    def plain_step() -> None:
        with autocast():
            loss = plain(imgs).float().square().mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    out["plain"] = _timed(plain_step, device, warmup, iters)
    print(f"plain ViT-B/16 step: {out['plain'][0]:.3f} s", flush=True)
    plain = opt = None  # free the reference tower before building KICLIP
    if device == "cuda":
        torch.cuda.empty_cache()

    texts = [f"Class {i}: a person doing activity number {i} in a video" for i in range(classes)]
    model = KICLIP(_config(resolution), num_frames=frames, class_texts=texts, keep_teacher=True).to(device).train()
    for m in model.frozen_modules():
        m.eval()
    opt = build_kiclip_optimizer(model, lr=1e-6, weight_decay=0.01)
    visual = model.model.visual

    def student_visual_step() -> None:
        with autocast():
            loss = visual(imgs).float().square().mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    out["student_visual"] = _timed(student_visual_step, device, warmup, iters)
    print(f"KICLIP student visual step: {out['student_visual'][0]:.3f} s", flush=True)

    def kiclip_step() -> None:
        with autocast():
            loss = kiclip_loss(model(video), labels)["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    out["kiclip"] = _timed(kiclip_step, device, warmup, iters)
    res = {
        "device": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or platform.machine(),
        "resolution": resolution,
        "frames": frames,
        "clips_per_step": clips,
        "classes": classes,
        "precision": "bf16 autocast" if bf16 else "fp32",
        "iters": iters,
    }
    for name, (seconds, peak) in out.items():
        res[f"{name}_step_s"] = round(seconds, 4)
        res[f"{name}_clips_per_s"] = round(clips / seconds, 3)
        if peak is not None:
            res[f"{name}_peak_mem_gib"] = round(peak, 2)
    res["kiclip_over_plain_time"] = round(out["kiclip"][0] / out["plain"][0], 2)
    res["student_visual_over_plain_time"] = round(out["student_visual"][0] / out["plain"][0], 2)
    if device == "cpu":
        res["threads"] = torch.get_num_threads()
        res["process_max_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--cpu-resolution", type=int, default=64)
    p.add_argument("--cuda-resolution", type=int, default=224)
    p.add_argument("--clips", type=int, default=1, help="clips per step on the CPU (CUDA: 4, the scripts' batch)")
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--iters", type=int, default=2, help="timed steps (CUDA runs 5x more)")
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args()
    results: dict = {"torch": torch.__version__, "runs": []}
    devices = ["cpu", "cuda"] if args.device == "auto" else [args.device]
    for device in devices:
        if device == "cuda" and not torch.cuda.is_available():
            results["cuda"] = "not available on this machine; run on a GPU for the 224 px bf16 numbers"
            continue
        cuda = device == "cuda"
        r = run(
            device,
            resolution=args.cuda_resolution if cuda else args.cpu_resolution,
            clips=4 if cuda else args.clips,
            frames=8,
            classes=args.classes,
            warmup=2 if cuda else 0,
            iters=5 * args.iters if cuda else args.iters,
            bf16=cuda,
        )
        print(json.dumps(r))
        results["runs"].append(r)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(tmp, args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
