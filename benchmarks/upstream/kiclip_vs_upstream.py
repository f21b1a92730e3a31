#!/usr/bin/env python
"""KICLIP side by side with the original code: one full training step of the original's ``models/kiclip.py``
``KICLIP`` (student CLIP with neighbour-frame attention and knowledge injection, frozen teacher CLIP, FROSTER's
residual projectors, the aux head it still evaluates) against ``kiclip.model.KICLIP``, on the same clips, the same
class texts and the same random CLIP weights, in one process, same threads, interleaved repetitions; prints the
ratio. Reduced resolution on the CPU.

    python benchmarks/upstream/kiclip_vs_upstream.py                 # says what to clone, exits 0
    python benchmarks/upstream/kiclip_vs_upstream.py --upstream /tmp/upstream/KICLIP
        [--resolution 64] [--frames 8] [--clips 1] [--classes 10] [--repeats 5]

One step, both sides (the per-iteration body of the original's ``train_b2n.py:train_epoch`` at its released
settings): forward in training mode (a random template set + the bare description, 2 x C prompts through the
student and the teacher text towers), ``soft-target CE(pred, y) + 2.0 * (cos_dist(f', g) + cos_dist(W', W_T))``,
backward, ``clip_grad_norm_(1.0)``, AdamW step (lr 3.33e-6, weight decay 0.01 on >1-D weights). The original's
optimizer is its own ``construct_optimizer`` (``train_b2n.py``); ours is ``kiclip.optim.build_kiclip_optimizer``.
Before timing, one forward of each side from the same template draw checks that the loss terms agree.

``--upstream PATH``: a checkout of https://github.com/gufranSabri/KICLIP at ``4bf503f`` (the snapshot
``specs/kiclip.md`` describes) with ``models/kiclip.py``, ``models/customize_visiontransformer_kiclip.py``,
``models/clip/model.py``, ``models/torch_utils/{activation,functional}.py`` and ``train_b2n.py``. Run-time
adjustments (the original cannot run on a CPU-only machine without network; the same ones the spec's CPU run
used): ``load()``'s device default "mps" -> the benchmark device; ``_download`` -> a local random
CLIP-format state dict at the benchmark resolution; a stand-in ``pkg_resources`` when setuptools has none (the
vendored ``clip.py`` imports it); torchvision's ``vit_b_16`` is
built without downloading ImageNet weights (the aux head's middle layer is random); the fvcore/SlowFast cfg is a
plain namespace holding the keys ``KICLIP`` and ``construct_optimizer`` read (values of the KICLIP HMDB51 yaml +
``train_b2n_hmdb.sh``). ``pytorchvideo``'s soft-target CE (not in its PyPI release) is one-hot + log-softmax here.
No GradScaler (the original's wraps an fp32 forward; on the CPU it is disabled) and no per-iteration LR update (a
scalar write on both sides). Nothing of the original is in this repository. Timing / memory: ``benchmarks/_bench.py``.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import tempfile
import types
from pathlib import Path

import _side

REPO_URL = "https://github.com/gufranSabri/KICLIP"
COMMIT = "4bf503f (specs/kiclip.md)"
NEEDED = (
    "models/kiclip.py",
    "models/customize_visiontransformer_kiclip.py",
    "models/clip/model.py",
    "models/torch_utils/activation.py",
    "models/torch_utils/functional.py",
    "train_b2n.py",
)


def clone_hint() -> str:
    clone = f"git clone {REPO_URL} /tmp/upstream/KICLIP && git -C /tmp/upstream/KICLIP checkout 4bf503f"
    return _side.clone_hint("kiclip_vs_upstream", "KICLIP", clone)


def _ns(**kw) -> types.SimpleNamespace:
    return types.SimpleNamespace(**kw)


def upstream_cfg(device: str, frames: int, classes: int, label_file: str) -> types.SimpleNamespace:
    """The keys the original's KICLIP(cfg) and construct_optimizer read (HMDB51 yaml + train_b2n_hmdb.sh)."""
    model = _ns(
        TEMPORAL_MODELING_TYPE="expand_temporal_view", USE_CHECKPOINT=False, CONTEXT_LENGTH=77, NUM_EXPERTS=0,
        EXPERT_INSERT_LAYERS=[10, 11], RECORD_ROUTING=False, ROUTING_TYPE="patch-level", VIL=False,
        ADD_SPATIAL_MODEL=False, ADD_TEMPORAL_MODEL=False, KEEP_RAW_MODEL=True, RAW_MODEL_DISTILLATION=True,
        DISTILLATION_RATIO=2.0, ENSEMBLE_PRED=False, TEXT_PROMPT=False, PROMPT_NUM=1, NUM_CLASSES=classes,
        FINETUNE_FACTOR=1.0, ADAPT_FINETUNE_FACTOR=1.0, MLP_FINETUNE_FACTOR=1.0, EXPERT_FINETUNE_FACTOR=1.0,
        ROUTING_FINETUNE_FACTOR=1.0,
    )  # fmt: skip
    solver = _ns(BASE_LR=3.33e-6, WEIGHT_DECAY=0.01, ZERO_WD_1D_PARAM=True, BETAS=(0.9, 0.999), LARS_ON=False,
                 CLIP_GRAD_L2NORM=1.0)  # fmt: skip
    return _ns(DEVICE=device, TUNE_HEAD=False, MODEL=model, SOLVER=solver, BN=_ns(WEIGHT_DECAY=0.0),
               DATA=_ns(NUM_FRAMES=frames, INDEX_LABEL_MAPPING_FILE=label_file), TEST=_ns(OPENSET=False))  # fmt: skip


def load_construct_optimizer(path: Path):
    """The original's ``construct_optimizer``, compiled from its ``train_b2n.py`` alone (the rest of that file
    imports the SlowFast tree)."""
    import ast

    import torch

    tree = ast.parse(path.read_text(), filename=str(path))
    fn = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "construct_optimizer"]
    if not fn:
        raise SystemExit(f"kiclip_vs_upstream: error: {path} has no construct_optimizer")
    namespace = {"torch": torch}
    exec(compile(ast.Module(body=fn, type_ignores=[]), str(path), "exec"), namespace)  # noqa: S102
    return namespace["construct_optimizer"]


def main(argv: list[str] | None = None) -> int:
    if _side.hint_only(argv):
        print(clone_hint())  # before importing torch: the hint is instant
        return 0
    p, _bench = _side.parser(__doc__)
    import torch
    import torch.nn.functional as F
    import torchvision

    p.add_argument("--resolution", type=int, default=None, help="default 224 on CUDA, 64 on the CPU, 32 quick")
    p.add_argument("--frames", type=int, default=None, help="frames per clip (default 8, 2 quick)")
    p.add_argument("--clips", type=int, default=None, help="clips per step (default 4 on CUDA, 1 on the CPU)")
    p.add_argument("--classes", type=int, default=None, help="class texts (default 10, 2 quick)")
    p.add_argument("--layers", type=int, default=None, help="blocks per tower (default 12 = ViT-B/16; 2 quick)")
    _bench.add_common_args(p)
    a = p.parse_args(argv)
    if a.upstream is None:
        print(clone_hint())
        return 0
    up = a.upstream.resolve()
    if _side.missing_files("kiclip_vs_upstream", up, list(NEEDED), "KICLIP", REPO_URL):
        return 2
    device = _bench.setup(a)
    cuda = device.type == "cuda"
    res = a.resolution or (224 if cuda else 32 if a.quick else 64)
    frames = a.frames or (2 if a.quick else 8)
    clips = a.clips or (4 if cuda else 1)
    classes = a.classes or (2 if a.quick else 10)
    layers = a.layers or (2 if a.quick else 12)

    from kiclip.losses import kiclip_loss
    from kiclip.model import KICLIP
    from kiclip.optim import build_kiclip_optimizer
    from videokd import clip as vclip

    # ---- the same random CLIP weights for both sides (CLIP-format state dict at this resolution)
    work = Path(tempfile.mkdtemp(prefix="kiclip_vs_upstream_"))
    geometry = {"image_resolution": res, "vision_layers": layers, "transformer_layers": layers}
    ccfg = vclip.CLIPConfig(**{**vclip.MODEL_CONFIGS["ViT-B/16"].to_dict(), **geometry})
    torch.manual_seed(0)
    state = {k: v.detach().clone() for k, v in vclip.CLIP(ccfg).state_dict().items()}
    torch.save(state, work / "clip.pt")
    texts = [f"Class {i}: a person doing activity number {i} in a video" for i in range(classes)]
    label_file = work / "train_rephrased.json"
    label_file.write_text(json.dumps({str(i): t for i, t in enumerate(texts)}))

    # ---- the original, from its own code (run-time adjustments named in the module docstring)
    sys.path[:0] = [str(up), str(up / "models")]
    orig_vit_b_16 = torchvision.models.vit_b_16
    torchvision.models.vit_b_16 = lambda *args, **kw: orig_vit_b_16(weights=None)  # no ImageNet download
    if importlib.util.find_spec("pkg_resources") is None:  # the vendored clip.py imports it (setuptools < 81)
        import packaging.version

        sys.modules["pkg_resources"] = types.SimpleNamespace(packaging=packaging)
    import models.kiclip as upstream_kiclip

    upstream_kiclip._download = lambda url, root: str(work / "clip.pt")  # no network: the local random weights
    defaults = list(upstream_kiclip.load.__defaults__)
    defaults[0] = str(device)  # the original's default device is "cuda" else "mps"
    upstream_kiclip.load.__defaults__ = tuple(defaults)
    cfg = upstream_cfg(str(device), frames, classes, str(label_file))
    torch.manual_seed(1)
    theirs = upstream_kiclip.KICLIP(cfg).to(device).train()
    torchvision.models.vit_b_16 = orig_vit_b_16
    opt_up = load_construct_optimizer(up / "train_b2n.py")(theirs, cfg)

    # ---- ours, same weights (the projectors and the aux head copied from the original's random init)
    ours = KICLIP(ccfg, num_frames=frames, class_texts=texts, keep_teacher=True, aux_head=True,
                  num_classes=classes).to(device).train()  # fmt: skip
    ours.init_from_clip(state)
    for name in ("projector_v", "projector_t", "res_classifier"):
        getattr(ours, name).load_state_dict(getattr(theirs, name).state_dict())
    for m in ours.frozen_modules():
        m.eval()
    opt_ours = build_kiclip_optimizer(ours, lr=3.33e-6, weight_decay=0.01)
    params_ours = [q for g in opt_ours.param_groups for q in g["params"]]

    g = torch.Generator().manual_seed(0)
    video = torch.randn(clips, 3, frames, res, res, generator=g).to(device)
    labels = torch.randint(0, classes, (clips,), generator=g).to(device)

    def sce(logits, y):  # pytorchvideo SoftTargetCrossEntropyLoss on one-hot targets (shim)
        return torch.sum(-F.one_hot(y, logits.shape[-1]).to(logits.dtype) * F.log_softmax(logits, dim=-1), -1).mean()

    def upstream_terms():
        [pred, img, txt], [_, raw_img, raw_txt], _res_clf = theirs([video])
        terms = {
            "cls": sce(pred, labels),
            "img_distill": 1 - F.cosine_similarity(img, raw_img, dim=-1).mean(),
            "txt_distill": 1 - F.cosine_similarity(txt, raw_txt, dim=-1).mean(),
        }
        terms["loss"] = terms["cls"] + cfg.MODEL.DISTILLATION_RATIO * (terms["img_distill"] + terms["txt_distill"])
        return terms

    def ours_terms():
        return kiclip_loss(ours(video), labels, distillation_ratio=2.0)

    # same template draw -> the same loss terms (same weights, same inputs)
    check = {}
    for side, fn in (("upstream", upstream_terms), ("ours", ours_terms)):
        random.seed(42)
        with torch.no_grad():
            check[side] = {k: float(fn()[k]) for k in ("cls", "img_distill", "txt_distill", "loss")}
    diff = max(abs(check["ours"][k] - check["upstream"][k]) for k in check["ours"])
    print(f"loss terms, upstream: {check['upstream']}\nloss terms, ours:     {check['ours']}  (max diff {diff:.2e})")

    def up_step() -> None:
        opt_up.zero_grad()
        upstream_terms()["loss"].backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), cfg.SOLVER.CLIP_GRAD_L2NORM)
        opt_up.step()

    def ours_step() -> None:
        ours_terms()["loss"].backward()
        torch.nn.utils.clip_grad_norm_(params_ours, 1.0)
        opt_ours.step()
        opt_ours.zero_grad(set_to_none=True)

    random.seed(0)
    rows = _bench.measure_interleaved(
        {"ours_train_step": ours_step, "upstream_train_step": up_step},
        device,
        unit=f"train step ({clips} clips x {frames} frames, {res} px, {classes} classes, {layers} layers)",
        warmup=_bench.pick(a.warmup, a.quick, 1, 1),
        repeats=_bench.pick(a.repeats, a.quick, 2, 5),
    )

    def trainable(model) -> int:
        return sum(q.numel() for q in model.parameters() if q.requires_grad)

    def total(model) -> int:  # distinct tensors (ours shares resblocks_f with the teacher)
        return sum(q.numel() for q in {id(q): q for q in model.parameters()}.values())

    for r in rows:
        _bench.add_rates(r, items=clips, items_name="clips")
    rows[0]["metrics"].update(trainable_params=trainable(ours), total_params=total(ours),
                              loss_terms_at_check=check["ours"])  # fmt: skip
    rows[1]["metrics"].update(trainable_params=trainable(theirs), total_params=total(theirs),
                              loss_terms_at_check=check["upstream"])  # fmt: skip
    rows[0]["metrics"]["loss_terms_max_abs_diff"] = diff
    _bench.print_rows(rows)
    print(f"train_step: original / ours = {rows[1]['median_s'] / rows[0]['median_s']:.2f}x")
    config = {
        "upstream": {"repository": REPO_URL, "path": str(up), "commit_expected": COMMIT, "files": list(NEEDED)},
        "geometry": f"CLIP ViT-B/16 widths, {layers} blocks per tower ({'ViT-B/16' if layers == 12 else 'reduced'}): "
        "student (neighbour-frame attention, knowledge injection from frozen CLIP blocks) + frozen teacher (image + "
        "text) + residual projectors + aux head; random weights, the same on both sides",
        "layers": layers,
        "resolution": res,
        "frames": frames,
        "clips_per_step": clips,
        "classes": classes,
        "precision": "fp32",
        "loss": "soft-target CE + 2.0 * (image + text cosine distillation); aux CE weight 0 (released scripts)",
        "optimizer": "AdamW lr 3.33e-6, wd 0.01 (no decay for 1-D / bias); original: train_b2n.construct_optimizer, "
        "ours: kiclip.optim.build_kiclip_optimizer; grad-norm clip 1.0 on both",
        "differences": [
            "original re-reads the label json and re-tokenises the 2 x C training prompts at every forward; ours "
            "tokenises once at construction",
            "original's neighbour-frame attention is its vendored Python MHA (zero-padded K/V, bmm + softmax); "
            "ours uses scaled_dot_product_attention on the same zero-padded K/V",
            "original holds three copies of the visual blocks (student, resblocks_f, teacher); ours shares "
            "resblocks_f with the teacher's blocks (same values; 85 M fewer parameters at ViT-B/16)",
            "original clips the grad norm over all model parameters (frozen ones have no grad), ours over the "
            "optimizer's parameters: the same set of gradients",
            "original: pytorchvideo soft-target CE (shimmed as one-hot + log-softmax); ours: videokd's",
            "neither side runs the original's GradScaler or per-iteration LR write",
        ],
        "shims": [
            "models/clip/clip.py (not among the stored files): _MODELS / _download / tokenize (videokd.clip.tokenize, "
            "the same OpenAI BPE)",
            "models.kiclip._download -> the local random-weight state dict (runtime patch; no network)",
            "load() device default mps -> benchmark device (runtime patch)",
            "torchvision.models.vit_b_16 built with weights=None (runtime patch; no ImageNet download)",
            "cfg: plain namespace of the keys KICLIP / construct_optimizer read (fvcore/SlowFast config not used)",
            "empty models/__init__.py, models/torch_utils/__init__.py",
        ],
    }
    _bench.write_doc(a.out, benchmark="kiclip_vs_upstream", script=__file__, device=device, quick=a.quick,
                     config=config, results=rows, notes=a.note)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
