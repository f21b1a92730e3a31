"""KICLIP training-step throughput and memory at ViT-B/16 size, against the plain ViT-B/16 image-tower step.

    python benchmarks/kiclip_train_step.py                    # CPU: 64 px, 8 frames, 1 clip, fp32
    python benchmarks/kiclip_train_step.py --device cuda      # GPU: 224 px, 8 frames, 4 clips, bf16, MFU
    python benchmarks/kiclip_train_step.py --quick            # smoke size (32 px, 2 frames, 2 classes)

One step = the full KICLIP training step of the package (student visual tower with neighbour-frame
attention and the frozen injection stream, student text tower on 2 prompt sets x C classes, frozen
teacher image + text towers, loss, backward, clipping, AdamW), on ``clips`` clips of 8 frames. Two
references at the same resolution and frame count: ``plain``, the ViT-B/16 image tower of
``clip_encoder.py`` (forward + backward + AdamW on the same B*T frames), and ``student_visual``,
KICLIP's visual tower alone (injection on). Random weights. FLOPs of each step by FlopCounterMode;
on CUDA the model FLOP utilisation is achieved TFLOP/s over the measured bf16 matmul peak.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402
from clip_encoder import vit_b16  # noqa: E402

from kiclip.losses import kiclip_loss  # noqa: E402
from kiclip.model import KICLIP  # noqa: E402
from kiclip.optim import build_kiclip_optimizer  # noqa: E402
from videokd import clip  # noqa: E402


def _config(resolution: int) -> clip.CLIPConfig:
    base = clip.MODEL_CONFIGS["ViT-B/16"]
    return clip.CLIPConfig(**{**base.to_dict(), "image_resolution": resolution})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--resolution", type=int, default=None, help="default: 224 on CUDA, 64 on the CPU, 32 quick")
    p.add_argument("--clips", type=int, default=None, help="clips per step (default: 4 on CUDA, 1 on the CPU)")
    p.add_argument("--frames", type=int, default=None, help="default 8 (2 quick)")
    p.add_argument("--classes", type=int, default=None, help="default 10 (2 quick)")
    p.add_argument("--precision", default=None, choices=["fp32", "bf16"], help="default: bf16 on CUDA, fp32 on CPU")
    _bench.add_common_args(p)
    a = p.parse_args(argv)
    device = _bench.setup(a)
    cuda = device.type == "cuda"
    res = a.resolution or (224 if cuda else 32 if a.quick else 64)
    clips = a.clips or (4 if cuda else 1)
    classes = a.classes or (2 if a.quick else 10)
    a.frames = a.frames or (2 if a.quick else 8)
    precision = a.precision or ("bf16" if cuda else "fp32")
    warmup = _bench.pick(a.warmup, a.quick, 1, 2 if cuda else 1)
    repeats = _bench.pick(a.repeats, a.quick, 1, 10 if cuda else 2)
    torch.manual_seed(0)
    random.seed(0)
    peak = _bench.matmul_peak_tflops(device) if cuda else None
    video = torch.randn(clips, 3, a.frames, res, res, device=device)
    labels = torch.randint(0, classes, (clips,), device=device)
    imgs = video.transpose(1, 2).reshape(-1, 3, res, res)
    rows = []

    def run(name, fwd, opt, params, clip_grad=False):
        def fwd_bwd():
            with _bench.autocast(device, precision):
                loss = fwd()
            loss.backward()

        def step():
            fwd_bwd()
            if clip_grad:
                torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)

        flops = _bench.count_flops(fwd_bwd)
        opt.zero_grad(set_to_none=True)
        row = _bench.measure(step, device, name=name, unit="step", warmup=warmup, repeats=repeats, items=clips,
                             items_name="clips", flops=flops, peak_tflops=peak)  # fmt: skip
        _bench.print_rows([row])
        rows.append(row)

    plain = vit_b16(res).to(device).train()
    opt = torch.optim.AdamW(plain.parameters(), lr=1e-6)
    run("plain_vit_b16", lambda: plain(imgs).float().square().mean(), opt, None)
    plain = opt = None  # free the reference tower before building KICLIP
    if cuda:
        torch.cuda.empty_cache()

    texts = [f"Class {i}: a person doing activity number {i} in a video" for i in range(classes)]
    model = KICLIP(_config(res), num_frames=a.frames, class_texts=texts, keep_teacher=True).to(device).train()
    for m in model.frozen_modules():
        m.eval()
    opt = build_kiclip_optimizer(model, lr=1e-6, weight_decay=0.01)
    visual = model.model.visual
    params = [q for g in opt.param_groups for q in g["params"]]
    run("kiclip_student_visual", lambda: visual(imgs).float().square().mean(), opt, None)
    run("kiclip_full_step", lambda: kiclip_loss(model(video), labels)["loss"], opt, params, clip_grad=True)
    base = rows[0]["median_s"]
    for r in rows[1:]:
        r["metrics"]["time_over_plain"] = round(r["median_s"] / base, 3)
    config = {"geometry": "CLIP ViT-B/16 (student + frozen teacher + text towers), random weights",
              "resolution": res, "frames": a.frames, "clips_per_step": clips, "classes": classes,
              "precision": precision, "optimizer": "AdamW (package groups)"}  # fmt: skip
    _bench.write_doc(a.out, benchmark="kiclip_train_step", script=__file__, device=device, quick=a.quick,
                     config=config, results=rows)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
