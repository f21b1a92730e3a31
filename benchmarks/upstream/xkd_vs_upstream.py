#!/usr/bin/env python
"""XKD side by side with the original code: one XKD pre-training step (video + audio MAE students, EMA
teachers on the first local view with the cross-modal attention refinement, 4-block decoders, DINO-style
heads, reconstruction + cross-modal KD + MMD domain alignment, backward, per-tensor student clipping,
AdamW, EMA update of both teachers), ours (``xkd.model.build_model`` + ``xkd.optim.train_step``) and the
original's ``models/xkd.py`` ``XKD_Net`` (built by its ``models.get_model`` from its own
``configs/pretext/kinetics400/xkd.yaml``, optimizer from its ``optimizers.get_optimizer``, the step
calls its ``forward`` / ``clip_gradients`` / ``cancel_gradients_last_layer`` / ``update_teacher`` in the
order of its ``train_one_epoch``), on the same clips, in one process, same threads, interleaved
repetitions; prints the ratio.

    python benchmarks/upstream/xkd_vs_upstream.py                     # says what to clone, exits 0
    python benchmarks/upstream/xkd_vs_upstream.py --upstream /tmp/upstream/XKD [--size base|micro]
        [--batch 2] [--repeats 3] [--warmup 1]

``--upstream PATH``: a checkout of https://github.com/pritamqu/XKD at ``806c75d`` (the snapshot
``specs/xkd.md`` describes); its ``codes/train`` must import (``pip install timm torchsummary einops
pyyaml``). Both sides start from the SAME weights: the original's randomly initialised state dict is
loaded into ours (strict; the key layouts are the same), so the first (untimed) step is also a parity
check: its loss terms and the weights after the step are compared and recorded.

Sizes: ``base`` (the yaml: ViT-B students/teachers, 4-block 384-d decoders, 8192-way heads; video
32x112x112 + one 8x96x96 local view, audio 80x448 + 80x112) by default; ``micro`` (``--quick``: the
package's CPU test size) adds its entries to the original's size tables at run time (the original's
``XKD_Net`` only knows base/large). Compatibility aliases applied at run time, only where missing:
``torch._six.inf`` (removed from torch; imported by the original's ``optimizers``) and
``timm.optim.optim_factory.add_weight_decay`` (renamed in timm; imported, not used). The original's
non-AMP branch calls ``amp.unscale_`` on ``None`` when clipping is on, so its step here follows the
AMP branch's order without a scaler (what the CPU / fp32 run of the original can do). Nothing of the
original is in this repository. Timing / memory method: ``benchmarks/_bench.py``.
"""

from __future__ import annotations

import math
import sys
import types
from pathlib import Path

import _side

REPO_URL = "https://github.com/pritamqu/XKD"
COMMIT = "806c75d (specs/xkd.md)"
YAML = Path("codes/train/configs/pretext/kinetics400/xkd.yaml")

# geometry per size; micro = the package's CPU test size (benchmarks/xkd_pretrain_step.py)
SIZES = {
    "base": dict(frame=112, frames=32, local=(8, 96), spec=448, local_spec=112, patch=16, pt=4, enc="base_encoder",
                 dec="base_decoder", proj="2048-gelu-3-256-8192-norm3"),
    "micro": dict(frame=32, frames=8, local=(2, 16), spec=224, local_spec=48, patch=8, pt=2, enc="micro_encoder",
                  dec="micro_decoder", proj="64-gelu-3-16-256-norm3"),
}  # fmt: skip
# entries added to the original's size tables for sizes it does not know (its base/large are untouched)
EXTRA_TABLES = {
    "encoder": {"micro_encoder": {"embed_dim": 32, "depth": 1, "num_heads": 2}},
    "decoder": {"micro_decoder": {"embed_dim": 16, "depth": 1, "num_heads": 2}},
    "projector": {"64-gelu-3-16-256-norm3": {"out_dim": 256, "act": "gelu", "nlayers": 3, "hidden_dim": 64,
                                             "norm": "ln", "last_norm": "ln", "bottleneck_dim": 16,
                                             "norm_last_layer": True}},
}  # fmt: skip


def clone_hint() -> str:
    clone = f"git clone {REPO_URL} /tmp/upstream/XKD && git -C /tmp/upstream/XKD checkout 806c75d"
    return _side.clone_hint("xkd_vs_upstream", "XKD", clone, ("pip install timm torchsummary einops pyyaml",))


def compat_aliases() -> list[str]:
    """Aliases the 2022 code needs on current torch / timm; applied only where missing. Returns what was done."""
    import torch

    done = []
    try:
        import torch._six  # noqa: F401
    except ImportError:
        sys.modules["torch._six"] = types.SimpleNamespace(inf=math.inf)
        done.append("torch._six = {inf: math.inf} (module removed from torch)")
    try:
        from timm.optim import optim_factory

        if not hasattr(optim_factory, "add_weight_decay"):
            from timm.optim import param_groups_weight_decay

            optim_factory.add_weight_decay = param_groups_weight_decay
            done.append("timm.optim.optim_factory.add_weight_decay = timm.optim.param_groups_weight_decay")
    except ImportError:
        pass
    del torch
    return done


def main(argv: list[str] | None = None) -> int:
    if _side.hint_only(argv):
        print(clone_hint())  # before importing torch: the hint is instant
        return 0
    p, _bench = _side.parser(__doc__)
    import torch

    p.add_argument("--size", choices=sorted(SIZES), default=None, help="default base (micro with --quick)")
    p.add_argument("--batch", type=int, default=None, help="clips per step (default 8 on CUDA, 2 on the CPU, 1 quick)")
    _bench.add_common_args(p)
    a = p.parse_args(argv)
    if a.upstream is None:
        print(clone_hint())
        return 0
    up = a.upstream.resolve()
    train = up / "codes" / "train"
    need = ["codes/train/models/xkd.py", "codes/train/optimizers/__init__.py", str(YAML)]
    if _side.missing_files("xkd_vs_upstream", up, need, "XKD", REPO_URL):
        return 2
    device = _bench.setup(a)
    cuda = device.type == "cuda"
    size = a.size or ("micro" if a.quick else "base")
    batch = a.batch or (8 if cuda else 1 if a.quick else 2)
    precision = "bf16" if cuda else "fp32"
    warmup = _bench.pick(a.warmup, a.quick, 1, 1)
    repeats = _bench.pick(a.repeats, a.quick, 2, 3)
    s = SIZES[size]

    import yaml

    aliases = compat_aliases()
    sys.path.insert(0, str(train))
    import models as up_models  # the original's
    import models.modules as up_mod
    import models.modules.vit_audio as up_vit_audio
    import models.modules.vit_video as up_vit_video
    from optimizers import get_optimizer

    from xkd.model import build_model
    from xkd.optim import build_xkd_optimizer, train_step

    injected = []
    for table, kind in ((up_mod.encoder_dict, "encoder"), (up_vit_video.encoder_dict, "encoder"),
                        (up_vit_audio.encoder_dict, "encoder"), (up_mod.decoder_dict, "decoder"),
                        (up_mod.projector_dict, "projector")):  # fmt: skip
        for name, entry in EXTRA_TABLES[kind].items():
            if name not in table and name in (s["enc"], s["dec"], s["proj"]):
                table[name] = dict(entry)
                injected.append(f"{kind} {name}")

    cfg = yaml.safe_load((up / YAML).read_text())
    geometry = dict(frame_size=[3, s["frame"], s["frame"]], num_frames=s["frames"], vid_patch_spatial=[s["patch"]] * 2,
                    vid_patch_temporal=s["pt"], spec_size=[80, s["spec"]], teacher_cfg=s["enc"], student_cfg=s["enc"],
                    decoder_cfg=s["dec"], projector_cfg=s["proj"])  # fmt: skip
    up_kwargs = {**cfg["model"]["kwargs"], **geometry}
    betas = cfg["hyperparams"]["optimizer"]["betas"]
    fwd = dict(cfg["model"]["fwd_kwargs"])
    clip_grad, freeze_last_layer = fwd.pop("clip_grad"), fwd.pop("freeze_last_layer")
    vt, at = cfg["model"]["video_temp_kwargs"], cfg["model"]["audio_temp_kwargs"]
    fwd["teacher_temp"] = {"video": vt["warmup_teacher_temp"], "audio": at["warmup_teacher_temp"]}  # epoch 0
    fwd["student_temp"] = {"video": vt["student_temp"], "audio": at["student_temp"]}
    lr = cfg["hyperparams"]["lr"]["base_lr"]  # the schedule's peak (step 0 of the warm-up would be lr 0)
    wd = cfg["hyperparams"]["weight_decay"]["base"]
    ema = cfg["hyperparams"]["vid_ema"]["base"], cfg["hyperparams"]["aud_ema"]["base"]

    # ---------------------------------------------------------------- the original, as main_worker builds it
    torch.manual_seed(0)
    theirs = up_models.get_model({"name": "XKD", "kwargs": up_kwargs})
    theirs.init_teacher_student_same_weights()
    theirs.set_teacher_no_grad()
    theirs = theirs.to(device).train()
    opt_up = get_optimizer(name="adamw", model=theirs, lr=1e-3, weight_decay=None, betas=betas)

    # ---------------------------------------------------------------- ours, same geometry, same weights
    ours_kwargs = {k: v for k, v in up_kwargs.items() if k not in ("teacher_cfg", "student_cfg", "decoder_cfg")}
    ours_kwargs.update(student_cfg=s["enc"], teacher_cfg=s["enc"], decoder_cfg=s["dec"], original_student_temp=True)
    ours = build_model({"name": "XKD", "kwargs": ours_kwargs})
    ours.load_state_dict(theirs.state_dict(), strict=True)
    ours = ours.to(device).train()
    opt_ours = build_xkd_optimizer(ours, {"name": "adamw", "betas": betas})
    n_up = sum(q.numel() for g in opt_up.param_groups for q in g["params"])
    n_ours = sum(q.numel() for g in opt_ours.param_groups for q in g["params"])
    if n_up != n_ours:
        print(f"xkd_vs_upstream: error: trainable parameters differ: original {n_up}, ours {n_ours}", file=sys.stderr)
        return 1

    g = torch.Generator().manual_seed(0)
    lt, ls = s["local"]
    frames = [torch.randn(batch, 3, s["frames"], s["frame"], s["frame"], generator=g),
              torch.randn(batch, 3, lt, ls, ls, generator=g)]  # fmt: skip
    specs = [torch.randn(batch, 1, 80, s["spec"], generator=g), torch.randn(batch, 1, 80, s["local_spec"], generator=g)]
    frames = [x.to(device) for x in frames]
    specs = [x.to(device) for x in specs]
    terms = ("loss", "vid_recon_loss", "aud_recon_loss", "as2vs_align_loss", "vt2at_align_loss", "vt2as_kd_loss",
             "at2vs_kd_loss")  # fmt: skip

    def step_up() -> dict:
        for i, group in enumerate(opt_up.param_groups):  # train_one_epoch: lr on all, wd on group 1
            group["lr"] = lr
            if i == 1:
                group["weight_decay"] = wd
        opt_up.zero_grad()
        with _bench.autocast(device, precision):
            out = theirs.forward(frames, specs, **fwd)
        loss = out["loss"]
        if not math.isfinite(loss.item()):
            raise RuntimeError(f"original: loss {loss.item()}")
        loss.backward()
        if clip_grad:
            theirs.clip_gradients(clip_grad)
        theirs.cancel_gradients_last_layer(0, freeze_last_layer)
        opt_up.step()
        theirs.update_teacher(vm=ema[0], am=ema[1])
        return out

    fwd_ours = {k: v for k, v in fwd.items()}

    def step_ours() -> dict:
        with _bench.autocast(device, precision):
            out = train_step(ours, opt_ours, {"frames": frames, "specs": specs}, fwd_kwargs=fwd_ours, lr=lr,
                             weight_decay=wd, vid_ema=ema[0], aud_ema=ema[1], clip_grad=clip_grad,
                             freeze_last_layer=freeze_last_layer, epoch=0)  # fmt: skip
        if not math.isfinite(out["loss"].item()):
            raise RuntimeError(f"ours: loss {out['loss'].item()}")
        return out

    # first warm-up step = parity check: same weights, same mask noise (same seed, same draw order)
    torch.manual_seed(1)
    o_up = step_up()
    torch.manual_seed(1)
    o_ours = step_ours()
    parity = {f"{k}_original": round(o_up[k].item(), 6) for k in terms}
    parity.update({f"{k}_ours": round(o_ours[k].item(), 6) for k in terms})
    parity["max_abs_loss_term_diff"] = max(abs(o_up[k].item() - o_ours[k].item()) for k in terms)
    sd_up, sd_ours = theirs.state_dict(), ours.state_dict()
    parity["max_abs_state_diff_after_step"] = float(
        max((sd_up[k].float() - sd_ours[k].float()).abs().max() for k in sd_up)
    )
    parity["center_diff_after_step"] = float(
        (sd_up["vt2as_ce_loss.center"] - sd_ours["vt2as_ce_loss.center"]).abs().max()
    )
    print("parity after one step from the same weights: " + " ".join(f"{k}={v:.6g}" for k, v in parity.items()))

    rows = _bench.measure_interleaved(
        {"ours_train_step": step_ours, "upstream_train_step": step_up},
        device,
        unit=f"XKD pre-training step ({batch} clips, {size})",
        warmup=max(0, warmup - 1),
        repeats=repeats,
    )
    for r in rows:
        r["warmup"] = warmup
        _bench.add_rates(r, items=batch, items_name="clips")
        r["metrics"]["trainable_params"] = n_ours
    rows[0]["metrics"].update({k: v for k, v in parity.items() if not k.endswith("_original")})
    rows[1]["metrics"].update({k: v for k, v in parity.items() if k.endswith("_original")})
    _bench.print_rows(rows)
    print(f"train_step: original / ours = {rows[1]['median_s'] / rows[0]['median_s']:.2f}x")

    config = {
        "upstream": {"repository": REPO_URL, "path": str(up), "commit_expected": COMMIT,
                     "entry": "codes/train: models.get_model(yaml model section, XKD) + optimizers.get_optimizer"},
        "size": size, "geometry": s, "batch": batch, "precision": precision, "variant": "XKD",
        "video_views": [list(frames[0].shape[1:]), list(frames[1].shape[1:])],
        "audio_views": [list(specs[0].shape[1:]), list(specs[1].shape[1:])],
        "weights": "random (the original's init, seed 0), loaded into ours: both sides start identical",
        "step": {"lr": lr, "weight_decay": wd, "ema": list(ema), "clip_grad": clip_grad,
                 "freeze_last_layer": freeze_last_layer, "betas": betas, "fwd_kwargs": {k: v for k, v in fwd.items()}},
        "same_on_both_sides": "loss terms (recon x5, cross-modal KD, MMD alignment incl. the gradient-free teacher "
                              "term), mask ratios 0.85 / 0.80, teacher = first local view, student temperature "
                              "student_temp['audio'] for both students (original_student_temp=True), trainable "
                              "parameters (teachers and weight_g frozen), AdamW groups (biases and 1-D tensors "
                              "without decay), per-tensor clipping of the students only, EMA of both teachers",
        "differences": [
            "ours: xkd.optim.train_step (foreach EMA, vectorised per-tensor clipping); original: its per-tensor "
            "Python loops (clip_gradients reads every norm with .item(), update_teacher one mul_/add_ per tensor)",
            "the original's step follows its AMP branch without GradScaler (its fp32 branch crashes on amp=None)",
            "ours computes the MMD in fp32 under autocast; the original in the autocast dtype (only with --device cuda)",
            "no DDP / DataLoader on either side (the original wraps in DDP; one process here)",
        ],
        "compat_aliases_applied": aliases,
        "size_table_entries_added": injected,
    }  # fmt: skip
    _bench.write_doc(a.out, benchmark="xkd_vs_upstream", script=__file__, device=device, quick=a.quick,
                     config=config, results=rows, notes=a.note)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
