"""CLIP image-encoder training throughput: forward + backward + SGD step of the ViT-B/16 image tower.

    python benchmarks/clip_encoder.py                         # CPU: fp32, 112 px, batch 4
    python benchmarks/clip_encoder.py --device cuda           # GPU: 224 px, bf16 autocast, batch 128, MFU
    python benchmarks/clip_encoder.py --quick                 # smoke size (32 px, batch 1)

The FLOPs of one step are counted once with ``torch.utils.flop_counter.FlopCounterMode`` and divided
by the median step time (achieved TFLOP/s); on CUDA the model FLOP utilisation is that over the
measured bf16 matmul peak (``_bench.matmul_peak_tflops``). Timing / memory: see ``_bench.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402

from videokd import clip  # noqa: E402


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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--resolution", type=int, default=None, help="default: 224 on CUDA, 112 on the CPU, 32 quick")
    p.add_argument("--batch", type=int, default=None, help="default: 128 on CUDA, 4 on the CPU, 1 quick")
    p.add_argument("--precision", default=None, choices=["fp32", "bf16"], help="default: bf16 on CUDA, fp32 on the CPU")
    _bench.add_common_args(p)
    a = p.parse_args(argv)
    device = _bench.setup(a)
    cuda = device.type == "cuda"
    resolution = a.resolution or (224 if cuda else 32 if a.quick else 112)
    batch = a.batch or (128 if cuda else 1 if a.quick else 4)
    precision = a.precision or ("bf16" if cuda else "fp32")
    warmup = _bench.pick(a.warmup, a.quick, 1, 3 if cuda else 1)
    repeats = _bench.pick(a.repeats, a.quick, 2, 15 if cuda else 3)
    torch.manual_seed(0)
    model = vit_b16(resolution).to(device).train()
    images = torch.randn(batch, 3, resolution, resolution, device=device)
    opt = torch.optim.SGD(model.parameters(), lr=1e-6)

    def fwd_bwd() -> None:
        with _bench.autocast(device, precision):
            loss = model(images).float().square().mean()
        loss.backward()

    def step() -> None:
        fwd_bwd()
        opt.step()
        opt.zero_grad(set_to_none=True)

    flops = _bench.count_flops(fwd_bwd)
    model.zero_grad(set_to_none=True)
    peak = _bench.matmul_peak_tflops(device) if cuda else None
    row = _bench.measure(
        step, device, name="vit_b16_train_step", unit="step", warmup=warmup, repeats=repeats,
        items=batch, items_name="images", flops=flops, peak_tflops=peak,
    )  # fmt: skip
    _bench.print_rows([row])
    config = {"model": "ViT-B/16 image tower", "resolution": resolution, "tokens": (resolution // 16) ** 2 + 1,
              "batch": batch, "precision": precision, "optimizer": "SGD"}  # fmt: skip
    _bench.write_doc(a.out, benchmark="clip_encoder", script=__file__, device=device, quick=a.quick,
                     config=config, results=[row])  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
