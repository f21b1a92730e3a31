#!/usr/bin/env python
"""TDS-CLIP side by side with the original code: one training step of the side network on a frozen
CLIP ViT-B/16 (174 classes, label-smoothed cross-entropy, AdamW), ours (``tdsclip.model.VideoCLIP``,
trunk under ``no_grad``, ``tdsclip.optim.build_adamw``) and the original's ``clip/model.py``
``VisualTransformer`` (trunk frozen by the original's ``my_fix_clip`` rule: trainable = names with
"side", plus the linear head), on the same clips, in one process, same threads, interleaved
repetitions; prints the ratio. Reduced resolution on the CPU.

    python benchmarks/upstream/tdsclip_vs_upstream.py                 # says what to clone, exits 0
    python benchmarks/upstream/tdsclip_vs_upstream.py --upstream /tmp/upstream/TDS-CLIP
        [--resolution 112] [--frames 2] [--batch 2] [--repeats 3]

``--upstream PATH``: a checkout of https://github.com/BBYL9413/TDS-CLIP at ``cf4e58c`` (the snapshot
``specs/tdsclip.md`` describes); ``clip/model.py`` must import (``einops``). The original's
``VideoCLIP`` wrapper of ``train_vision.py`` is ``visual`` followed by a linear ``fc`` (its fusion
head is a no-op for this model); it is built here as ``nn.Sequential(visual, Linear)``. The original's
optimizer builder ships only as a ``.pyc``: its side uses ``torch.optim.AdamW`` over the trainable
parameters with the same lr / weight decay. Nothing of the original is in this repository.
Timing / memory method: ``benchmarks/_bench.py``.
"""

from __future__ import annotations

import sys

import _side

REPO_URL = "https://github.com/BBYL9413/TDS-CLIP"
COMMIT = "cf4e58c (specs/tdsclip.md)"


def clone_hint() -> str:
    clone = f"git clone {REPO_URL} /tmp/upstream/TDS-CLIP && git -C /tmp/upstream/TDS-CLIP checkout cf4e58c"
    return _side.clone_hint("tdsclip_vs_upstream", "TDS-CLIP", clone)


def main(argv: list[str] | None = None) -> int:
    if _side.hint_only(argv):
        print(clone_hint())  # before importing torch: the hint is instant
        return 0
    p, _bench = _side.parser(__doc__)
    import torch
    from torch import nn

    p.add_argument("--resolution", type=int, default=None, help="default 224 on CUDA, 112 on the CPU, 32 quick")
    p.add_argument("--frames", type=int, default=None, help="segments (default 8 on CUDA, 2 on the CPU)")
    p.add_argument("--batch", type=int, default=None, help="videos per step (default 4 on CUDA, 2 on CPU, 1 quick)")
    _bench.add_common_args(p)
    a = p.parse_args(argv)
    up = a.upstream.resolve()
    if _side.missing_files("tdsclip_vs_upstream", up, ["clip/model.py"], "TDS-CLIP", REPO_URL):
        return 2
    device = _bench.setup(a)
    cuda = device.type == "cuda"
    res = a.resolution or (224 if cuda else 32 if a.quick else 112)
    frames = a.frames or (8 if cuda else 2)
    batch = a.batch or (4 if cuda else 1 if a.quick else 2)
    precision = "bf16" if cuda else "fp32"
    sys.path.insert(0, str(up))
    from clip.model import VisualTransformer  # the original's

    from tdsclip.evaluate import classification_loss
    from tdsclip.model import TDSConfig, VideoCLIP
    from tdsclip.optim import build_adamw

    torch.manual_seed(0)
    cfg = TDSConfig(image_resolution=res, vision_patch_size=16, vision_width=768, vision_layers=12, side_dim=320,
                    num_classes=174, num_segments=frames)  # fmt: skip
    ours = VideoCLIP(cfg).to(device).train()
    opt_ours = build_adamw(ours, lr=1e-4, weight_decay=0.15)
    visual = VisualTransformer(input_resolution=res, patch_size=16, width=768, layers=12, heads=12, output_dim=512,
                               dropout=None, joint=False, emb_dropout=0.0, T=frames, side_dim=320)  # fmt: skip
    theirs = nn.Sequential(visual, nn.Linear(320, 174)).to(device).train()
    for name, prm in visual.named_parameters():  # my_fix_clip: frozen = "visual" names without "side"/"ln_post"/"proj"
        full = "visual." + name
        prm.requires_grad_(not ("visual" in full and not any(k in full for k in ("side", "ln_post", "visual.proj"))))
    trainable = [q for q in theirs.parameters() if q.requires_grad]
    opt_up = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=0.15)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch * frames * 5, 3, res, res, generator=g).to(device)
    y = torch.randint(0, 174, (batch,), generator=g).to(device)
    x15 = x.view(batch * frames, 15, res, res)  # the original's layout of the same windows

    def step(model, inp, opt):
        def run() -> None:
            with _bench.autocast(device, precision):
                loss = classification_loss(model(inp).float(), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        return run

    rows = _bench.measure_interleaved(
        {"ours_train_step": step(ours, x, opt_ours), "upstream_train_step": step(theirs, x15, opt_up)},
        device,
        unit=f"train step ({batch} videos x {frames} segments x 5 frames, {res} px)",
        warmup=_bench.pick(a.warmup, a.quick, 1, 1),
        repeats=_bench.pick(a.repeats, a.quick, 2, 5),
    )
    for r in rows:
        _bench.add_rates(r, items=batch, items_name="clips")
    rows[0]["metrics"]["trainable_params"] = sum(q.numel() for q in ours.parameters() if q.requires_grad)
    rows[1]["metrics"]["trainable_params"] = sum(q.numel() for q in trainable)
    _bench.print_rows(rows)
    print(f"train_step: original / ours = {rows[1]['median_s'] / rows[0]['median_s']:.2f}x")
    config = {"upstream": {"repository": REPO_URL, "path": str(up), "commit_expected": COMMIT},
              "geometry": "CLIP ViT-B/16 (random weights), side 320, 174 classes", "resolution": res,
              "frames": frames, "batch_videos": batch, "precision": precision,
              "loss": "tdsclip.evaluate.classification_loss (label smoothing 0.1) on both sides"}  # fmt: skip
    _bench.write_doc(a.out, benchmark="tdsclip_vs_upstream", script=__file__, device=device, quick=a.quick,
                     config=config, results=rows, notes=a.note)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
