#!/usr/bin/env python
"""TDS-CLIP train-step speed and memory at ViT-B/16 size, and its parameter / MAC counts.

    python benchmarks/tdsclip_train_step.py                   # CPU: 112 px, 2 segments, 2 videos, fp32
    python benchmarks/tdsclip_train_step.py --device cuda     # GPU: 224 px, 8 segments, 4 videos, bf16, MFU
    python benchmarks/tdsclip_train_step.py --quick           # smoke size (32 px)

Three training set-ups of the same CLIP ViT-B/16 geometry (random weights, width 768, 12 layers,
patch 16; side width 320; 174 classes), each in its own process so that peak memory is its own:

* ``side_trunk_no_grad`` - TDS-CLIP as trained here: the frozen trunk runs under ``no_grad``;
* ``side_trunk_autograd`` - the original's way: frozen weights, but the trunk outside ``no_grad``;
* ``full_finetune`` - every CLIP weight trained as well (the cost the side network avoids).

Reported: clips/s (a clip = ``frames`` segments x 5 window frames, one video), median seconds per step,
peak memory (CUDA: ``max_memory_allocated``, and per clip; CPU: the process's peak RSS and its growth
during the steps), FLOPs of one step and, on CUDA, the model FLOP utilisation.
Counts (on the meta device, nothing allocated): trainable / frozen parameters and forward GMACs per
8 x 224 view (FlopCounterMode FLOPs / 2; the spec's reference is 180.6 GMAC = 140.5 trunk + 40.1 side,
the meta count avoids the eval-mode fast path that makes a real run under the flop counter report
about 172.5). CPU runs use a reduced resolution / frame count; the GPU stage runs 224 px x 8 frames
in bf16. Timing / memory method: ``_bench.py``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402

from tdsclip.evaluate import classification_loss  # noqa: E402
from tdsclip.model import TDSConfig, VideoCLIP  # noqa: E402
from tdsclip.optim import build_adamw  # noqa: E402

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


def run_mode(mode: str, a: argparse.Namespace) -> dict:
    device = _bench.setup(a)
    torch.manual_seed(0)
    model = VideoCLIP(_config(a.resolution, a.frames)).to(device).train()
    if mode == "side_trunk_autograd":
        model.visual.trunk_no_grad = False
    elif mode == "full_finetune":
        model.visual.trunk_no_grad = False
        model.requires_grad_(True)
    opt = build_adamw(model, lr=1e-4, weight_decay=0.15)
    x = torch.randn(a.batch * a.frames * 5, 3, a.resolution, a.resolution, device=device)
    y = torch.randint(0, 174, (a.batch,), device=device)

    def fwd_bwd() -> None:
        with _bench.autocast(device, a.precision):
            loss = classification_loss(model(x).float(), y)
        loss.backward()

    def step() -> None:
        fwd_bwd()
        opt.step()
        opt.zero_grad(set_to_none=True)

    flops = _bench.count_flops(fwd_bwd)
    opt.zero_grad(set_to_none=True)
    peak = _bench.matmul_peak_tflops(device) if device.type == "cuda" else None
    row = _bench.measure(step, device, name=mode, unit="step", warmup=a.warmup, repeats=a.repeats, items=a.batch,
                         items_name="clips", flops=flops, peak_tflops=peak)  # fmt: skip
    row["metrics"]["trainable_params"] = sum(q.numel() for q in model.parameters() if q.requires_grad)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--precision", default=None, choices=["fp32", "bf16", "fp16"], help="default bf16 on CUDA")
    p.add_argument("--resolution", type=int, default=None, help="default 224 on CUDA, 112 on the CPU, 32 quick")
    p.add_argument("--frames", type=int, default=None, help="segments (default 8 on CUDA, 2 on the CPU)")
    p.add_argument("--batch", type=int, default=None, help="videos per step (default 4 on CUDA, 2 on CPU, 1 quick)")
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.add_argument("--mode", default=None, help=argparse.SUPPRESS)  # one mode, in a child process
    _bench.add_common_args(p)
    a = p.parse_args(argv)
    cuda = a.device.startswith("cuda")
    a.precision = a.precision or ("bf16" if cuda else "fp32")
    a.resolution = a.resolution or (224 if cuda else 32 if a.quick else 112)
    a.frames = a.frames or (8 if cuda else 2)
    a.batch = a.batch or (4 if cuda else 1 if a.quick else 2)
    a.warmup = _bench.pick(a.warmup, a.quick, 1, 2 if cuda else 1)
    a.repeats = _bench.pick(a.repeats, a.quick, 1, 10 if cuda else 3)
    if a.mode:
        print(json.dumps(run_mode(a.mode, a)))
        return 0
    device = _bench.setup(a)
    rows = []
    for mode in a.modes:
        cmd = [sys.executable, __file__, "--mode", mode, "--device", a.device, "--precision", a.precision]
        for key in ("resolution", "frames", "batch", "repeats", "warmup", "threads"):
            if getattr(a, key) is not None:
                cmd += [f"--{key}", str(getattr(a, key))]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stderr)
            raise SystemExit(f"tdsclip_train_step: mode {mode} failed (exit code {r.returncode})")
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
        _bench.print_rows(rows[-1:])
    by = {r["name"]: r for r in rows}
    if "full_finetune" in by:
        for r in rows:
            if r["name"] != "full_finetune":
                r["metrics"]["time_over_full_finetune"] = round(r["median_s"] / by["full_finetune"]["median_s"], 3)
                if cuda:
                    r["metrics"]["memory_over_full_finetune"] = round(
                        r["peak_memory_mib"] / by["full_finetune"]["peak_memory_mib"], 3
                    )
    config = {"geometry": "CLIP ViT-B/16 (width 768, 12 layers, patch 16), side 320, 174 classes, random weights",
              "precision": a.precision, "resolution": a.resolution, "frames": a.frames, "window": 5,
              "batch_videos": a.batch, "isolation": "each mode in its own process"}  # fmt: skip
    c = counts()
    print(json.dumps(c, indent=1))
    _bench.write_doc(a.out, benchmark="tdsclip_train_step", script=__file__, device=device, quick=a.quick,
                     config=config, results=rows, counts=c)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
