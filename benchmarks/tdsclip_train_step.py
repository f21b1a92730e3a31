#!/usr/bin/env python
"""TDS-CLIP train-step speed and memory at ViT-B/16 size, and its parameter / MAC counts.

    python benchmarks/tdsclip_train_step.py [--device cpu|cuda] [--precision fp32|bf16]
        [--resolution 112] [--frames 2] [--batch 2] [--steps 3] [--warmup 1] [--out FILE.json]

Three training set-ups of the same CLIP ViT-B/16 geometry (random weights, width 768, 12 layers,
patch 16; side width 320; 174 classes), each in its own process so that peak memory is its own:

* ``side_trunk_no_grad`` - TDS-CLIP as trained here: the frozen trunk runs under ``no_grad``;
* ``side_trunk_autograd`` - the original's way: frozen weights, but the trunk outside ``no_grad``;
* ``full_finetune`` - every CLIP weight trained as well (the cost the side network avoids).

Reported: clips/s (a clip = ``frames`` segments x 5 window frames, one video), seconds per step and
peak memory (CUDA: ``max_memory_allocated``; CPU: growth of the process's peak RSS during the steps).
Counts (on the meta device, nothing allocated): trainable / frozen parameters and forward GMACs per
8 x 224 view (FlopCounterMode FLOPs / 2; the spec's reference is 180.6 GMAC = 140.5 trunk + 40.1 side,
the meta count avoids the eval-mode fast path that makes a real run under the flop counter report
about 172.5). CPU runs use a reduced resolution / frame count; the GPU stage runs 224 px x 8 frames
in bf16. Results go to ``benchmarks/results/tdsclip_train_step_<device>.json`` unless ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from tdsclip.evaluate import classification_loss
from tdsclip.model import TDSConfig, VideoCLIP
from tdsclip.optim import build_adamw

MODES = ("side_trunk_no_grad", "side_trunk_autograd", "full_finetune")


def _config(resolution: int, frames: int, classes: int = 174) -> TDSConfig:
    return TDSConfig(
        image_resolution=resolution,
        vision_patch_size=16,
        vision_width=768,
        vision_layers=12,
        side_dim=320,
        num_classes=classes,
        num_segments=frames,
    )


def counts() -> dict:
    """Parameters and forward MACs per 8 x 224 view, on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = VideoCLIP(_config(224, 8))
        x = torch.empty(8 * 5, 3, 224, 224)
    model.train()  # no eval-mode fast paths: every matmul is counted
    named = dict(model.named_parameters())
    side = sum(p.numel() for n, p in named.items() if p.requires_grad and n.startswith("visual."))
    fc = sum(p.numel() for n, p in named.items() if n.startswith("fc."))
    frozen = sum(p.numel() for p in named.values() if not p.requires_grad)
    with FlopCounterMode(display=False) as fc_mode:
        model(x)
    total = fc_mode.get_total_flops() / 2
    by_module = fc_mode.get_flop_counts()
    # the frozen trunk: conv1 + the resblocks (side modules excluded)
    trunk = sum(sum(v.values()) for k, v in by_module.items() if k in ("VideoCLIP.visual.conv1",))
    trunk += sum(
        sum(v.values())
        for k, v in by_module.items()
        if k.startswith("VideoCLIP.visual.transformer.resblocks.") and k.count(".") == 4
    )
    return {
        "trainable_side_params": side,
        "fc_params": fc,
        "frozen_params": frozen,
        "gmac_per_view_8x224": total / 1e9,
        "gmac_trunk": trunk / 2 / 1e9,
        "gmac_side_and_head": (total - trunk / 2) / 1e9,
        "reference_spec": {"side_params": 24_168_672, "gmac_total": 180.56, "gmac_trunk": 140.50, "gmac_side": 40.05},
    }


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_mode(mode: str, args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = VideoCLIP(_config(args.resolution, args.frames)).to(device).train()
    if mode == "side_trunk_autograd":
        model.visual.trunk_no_grad = False
    elif mode == "full_finetune":
        model.visual.trunk_no_grad = False
        model.requires_grad_(True)
    opt = build_adamw(model, lr=1e-4, weight_decay=0.15)
    b = args.batch
    x = torch.randn(b * args.frames * 5, 3, args.resolution, args.resolution, device=device)
    y = torch.randint(0, 174, (b,), device=device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.precision)

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = classification_loss(model(x).float(), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    rss0 = _peak_rss_mb()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / args.steps
    out = {
        "mode": mode,
        "s_per_step": dt,
        "clips_per_s": b / dt,
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }
    if device.type == "cuda":
        out["peak_mem_mb"] = torch.cuda.max_memory_allocated() / 2**20
    else:
        out["peak_rss_mb"] = _peak_rss_mb()
        out["peak_rss_growth_during_steps_mb"] = _peak_rss_mb() - rss0
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    p.add_argument("--resolution", type=int, default=112)
    p.add_argument("--frames", type=int, default=2)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.add_argument("--mode", default=None, help=argparse.SUPPRESS)  # one mode, in a child process
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.mode:
        print(json.dumps(run_mode(args.mode, args)))
        return 0
    results = []
    for mode in args.modes:
        cmd = [sys.executable, __file__, "--mode", mode, "--device", args.device, "--precision", args.precision]
        for key in ("resolution", "frames", "batch", "steps", "warmup"):
            cmd += [f"--{key}", str(getattr(args, key))]
        r = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results.append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    report = {
        "benchmark": "tdsclip_train_step",
        "geometry": "CLIP ViT-B/16 (width 768, 12 layers, patch 16), side 320, 174 classes, random weights",
        "device": args.device,
        "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "precision": args.precision,
        "resolution": args.resolution,
        "frames": args.frames,
        "batch_videos": args.batch,
        "steps": args.steps,
        "results": results,
        "counts": counts(),
    }
    out = (
        Path(args.out)
        if args.out
        else Path(__file__).parent / "results" / f"tdsclip_train_step_{args.device.split(':')[0]}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report["counts"], indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
