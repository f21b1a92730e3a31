#!/usr/bin/env python
"""XKD pre-training step time and peak memory at the paper's size (ViT-B students/teachers, 4-block
decoders, 8192-way heads; video 32x112x112 + 3/8 local views of 8x96x96, audio 80x448 + 80x112).

    python benchmarks/xkd_pretrain_step.py [--device cpu|cuda] [--precision fp32|bf16|fp16] [--batch 2]
                                           [--repeats 3] [--warmup 1] [--variants XKD XKD_MAS XKD_MATS]
                                           [--size base|micro] [--out FILE.json]
    python benchmarks/xkd_pretrain_step.py --quick     # micro size

One step = forward (MAE recon + teachers + refine + students + MMD + DINO) + backward + per-tensor
student clipping + AdamW + EMA, exactly as the runner's Trainer hooks do (``xkd.optim.train_step``;
autocast when bf16/fp16). FLOPs of one step by FlopCounterMode; on CUDA the model FLOP utilisation
over the measured bf16 matmul peak. Timing / memory method: ``_bench.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402

from xkd.model import build_model  # noqa: E402
from xkd.optim import build_xkd_optimizer, train_step  # noqa: E402

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


def bench(variant: str, size: str, batch: int, warmup: int, repeats: int, device: torch.device, precision: str) -> dict:
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

    def step() -> None:
        with _bench.autocast(device, precision):
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
        assert torch.isfinite(out["loss"]), out["loss"]

    flops = _bench.count_flops(step)  # one real step (it also updates the weights: a warm-up step)
    peak = _bench.matmul_peak_tflops(device) if device.type == "cuda" else None
    row = _bench.measure(step, device, name=f"{variant}_{size}_{precision}", unit="step", warmup=warmup,
                         repeats=repeats, items=batch, items_name="clips", flops=flops, peak_tflops=peak)  # fmt: skip
    row["metrics"].update(
        trainable_params_M=round(sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6, 2),
        total_params_M=round(sum(p.numel() for p in {id(p): p for p in model.parameters()}.values()) / 1e6, 2),
    )
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--precision", default=None, choices=("fp32", "bf16", "fp16"), help="default bf16 on CUDA")
    p.add_argument("--batch", type=int, default=None, help="default 8 on CUDA, 2 on the CPU")
    p.add_argument("--size", default=None, choices=sorted(SIZES), help="default base (micro with --quick)")
    p.add_argument("--variants", nargs="+", default=["XKD"])
    _bench.add_common_args(p)
    a = p.parse_args(argv)
    device = _bench.setup(a)
    cuda = device.type == "cuda"
    size = a.size or ("micro" if a.quick else "base")
    precision = a.precision or ("bf16" if cuda else "fp32")
    batch = a.batch or (8 if cuda else 2)
    warmup = _bench.pick(a.warmup, a.quick, 1, 2 if cuda else 1)
    repeats = _bench.pick(a.repeats, a.quick, 2, 10 if cuda else 3)
    rows = []
    for v in a.variants:
        rows.append(bench(v, size, batch, warmup, repeats, device, precision))
        _bench.print_rows(rows[-1:])
    config = {"size": size, "geometry": SIZES[size], "batch": batch, "precision": precision, "variants": a.variants,
              "step": "xkd.optim.train_step: forward, backward, student clipping, AdamW, EMA"}  # fmt: skip
    _bench.write_doc(a.out, benchmark="xkd_pretrain_step", script=__file__, device=device, quick=a.quick,
                     config=config, results=rows)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
