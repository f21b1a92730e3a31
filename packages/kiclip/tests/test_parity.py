"""Parity with the original KICLIP: every fixture in tests/parity/kiclip (or $PARITY_ROOT/kiclip),
dispatched by name through this package's API. Sizes and hyper-parameters come from each fixture.

Fixture token tensors are sequence-first ``(L, N, D)``; the package is batch-first ``(N, L, D)``.
"""

from __future__ import annotations

import random
import warnings
from typing import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kiclip.aggregation import aggregate_test
from kiclip.data import clip_frame_indices, eval_transform, train_transform
from kiclip.layers import KITransformer, KIVisionTransformer, TemporalBlock, temporal_attention
from kiclip.losses import kiclip_loss
from kiclip.model import KICLIP, aux_classifier, classifier_from_sets, encode_prompt_sets, residual_head
from kiclip.optim import build_kiclip_optimizer, lr_at
from kiclip.prompts import TEMPLATES, class_name, draw_template, prompt_strings, tokenize, tokenize_prompt_sets
from kiclip.weights import average_checkpoints
from videokd import clip
from videokd.clip import CLIPConfig, MultiheadAttention, TextTransformer
from videokd.engine import clip_grad_norm
from videokd.metrics import harmonic_mean
from videokd.testing import assert_matches, fixture_files, load_fixture, prefix_tolerance


def _dense(state: dict) -> dict:
    return {
        k: (v.to_dense() if isinstance(v, torch.Tensor) and v.layout != torch.strided else v) for k, v in state.items()
    }


def _check(got: dict, fx: dict, section: str = "outputs") -> None:
    expected = fx
    for part in section.split("."):
        expected = expected[part]
    tol = prefix_tolerance(
        fx.get("tolerance_overrides"), (float(fx.get("atol", 0.0)), float(fx.get("rtol", 0.0))), include_indices=False
    )
    assert_matches(
        got,
        {k: expected[k] for k in got},
        atol=float(fx.get("atol", 0.0)),
        rtol=float(fx.get("rtol", 0.0)),
        path=section.split("."),
        tolerance=tol,
        context=fx["name"],
    )


def _seq_first(x: torch.Tensor) -> torch.Tensor:
    return x.transpose(0, 1)


# ------------------------------------------------------------------------------------------ modules


def check_temporal_attention(fx: dict) -> None:
    cfg = fx["config"]
    assert cfg["temporal_shift"] == "expand_temporal_view"
    attn = MultiheadAttention(cfg["embed_dim"], cfg["num_heads"])
    attn.load_state_dict(fx["state_dict"])
    x = _seq_first(fx["inputs"]["x"]).clone().requires_grad_()
    y, probs = temporal_attention(attn, x, cfg["T"], return_probs=True)
    y_fast = temporal_attention(attn, x, cfg["T"])  # SDPA path, same function
    torch.testing.assert_close(y_fast, y, atol=1e-5, rtol=1e-4)
    n, h, length, keys = probs.shape
    _check({"y": _seq_first(y), "attn_probs": probs.reshape(n * h, length, keys)}, fx)
    (_seq_first(y_fast) * fx["inputs"]["grad_probe"]).sum().backward()
    params = dict(attn.named_parameters())
    grads = {k: (_seq_first(x.grad) if k == "x" else params[k].grad) for k in fx["grads"]}
    _check(grads, fx, "grads")


def check_temporal_block(fx: dict) -> None:
    cfg = fx["config"]
    blk = TemporalBlock(cfg["d_model"], cfg["n_head"], cfg["T"])
    blk.load_state_dict(fx["state_dict"])
    x = _seq_first(fx["inputs"]["x"]).clone().requires_grad_()
    y = blk(x)
    _check({"y": _seq_first(y)}, fx)
    (_seq_first(y) * fx["inputs"]["grad_probe"]).sum().backward()
    params = dict(blk.named_parameters())
    _check({k: (_seq_first(x.grad) if k == "x" else params[k].grad) for k in fx["grads"]}, fx, "grads")


def check_ki_transformer(fx: dict) -> None:
    cfg = fx["config"]
    assert cfg["tuned_model"] and not cfg["MODEL.USE_CHECKPOINT"]
    ki = KITransformer(cfg["width"], cfg["layers"], cfg["heads"], cfg["T"])
    ki.load_state_dict(fx["state_dict"])
    x = _seq_first(fx["inputs"]["x"]).clone().requires_grad_()
    y, trace = ki(x, return_intermediates=True)
    with torch.no_grad():
        plain = ki(x, injection=False)
    _check(
        {
            "y": _seq_first(y),
            "y_without_injection": _seq_first(plain),
            "student_block_inputs": [_seq_first(t) for t in trace["student_inputs"]],
            "student_block_outputs": [_seq_first(t) for t in trace["student_outputs"]],
            "frozen_block_outputs": [_seq_first(t) for t in trace["frozen_outputs"]],
        },
        fx,
    )
    (_seq_first(y) * fx["inputs"]["grad_probe"]).sum().backward()
    params = dict(ki.named_parameters())
    _check({k: (_seq_first(x.grad) if k == "x" else params[k].grad) for k in fx["grads"]}, fx, "grads")
    # the frozen blocks pass gradients through h_t but get none themselves
    assert all(p.grad is None for p in ki.resblocks_f.parameters())
    # grad checkpointing of the student blocks keeps injection on (upstream USE_CHECKPOINT disabled it)
    ki.grad_checkpointing = True
    torch.testing.assert_close(ki(x), y)


def check_visual_tower(fx: dict) -> None:
    cfg, inputs = fx["config"], fx["inputs"]
    vt = KIVisionTransformer(
        input_resolution=cfg["input_resolution"],
        patch_size=cfg["patch_size"],
        width=cfg["width"],
        layers=cfg["layers"],
        heads=cfg["heads"],
        output_dim=cfg["output_dim"],
        num_frames=cfg["T"],
    )
    vt.load_state_dict(fx["state_dict"])
    frames = inputs["frames"].clone().requires_grad_()
    proj, cls = vt.forward_with_cls(frames)
    with torch.no_grad():
        stem = vt.embed(frames)
        vt.injection = False
        plain = vt(frames)
        vt.injection = True
    _check({"proj": proj, "cls_ln_post": cls, "stem_after_ln_pre": stem, "proj_without_injection": plain}, fx)
    ((proj * inputs["grad_probe_proj"]).sum() + (cls * inputs["grad_probe_cls"]).sum()).backward()
    params = dict(vt.named_parameters())
    _check({k: (frames.grad if k == "frames" else params[k].grad) for k in fx["grads"]}, fx, "grads")


def check_aux_classifier(fx: dict) -> None:
    cfg, inputs = fx["config"], fx["inputs"]
    head = aux_classifier(cfg["embed_dim"], cfg["MODEL.NUM_CLASSES"], hidden=cfg["hidden"])
    head.load_state_dict({k[len("res_classifier.") :]: v for k, v in fx["state_dict"].items()})
    res = head(inputs["img_encode_frame_mean"])
    aux = kiclip_loss({"pred": res, "res_clf": res}, inputs["labels"], aux_ce_weight=1.0)["aux_ce"]
    _check({"res_clf": res, "aux_ce": aux}, fx)
    # at upstream HEAD the aux term has weight 0: it is not part of the loss
    assert cfg["aux_ce_weight_at_head"] == 0.0
    assert "aux_ce" not in kiclip_loss({"pred": res, "res_clf": res}, inputs["labels"], aux_ce_weight=0.0)


# ------------------------------------------------------------------------------------------ text


def check_text_classifier(fx: dict) -> None:
    cfg, inputs, out = fx["config"], fx["inputs"], fx["outputs"]
    templates = inputs["templates"]
    assert tuple(templates) == TEMPLATES and len(templates) == cfg["num_prompt_sets_eval"]
    texts = inputs["class_texts"]
    tower = TextTransformer(
        embed_dim=cfg["embed_dim"],
        context_length=cfg["context_length"],
        vocab_size=cfg["vocab_size"],
        width=cfg["transformer_width"],
        heads=cfg["transformer_heads"],
        layers=cfg["transformer_layers"],
    )
    tower.load_state_dict(_dense(fx["state_dict"]))
    tokens = tokenize_prompt_sets(texts, templates, context_length=cfg["MODEL.CONTEXT_LENGTH"])
    rng = random.Random(inputs["python_random_seed"])
    draws = [draw_template(rng, len(templates)) for _ in range(len(out["train_template_draws"]))]
    k = draws[0]
    train_tokens = tokens[[k, len(templates) - 1]]
    with torch.no_grad():
        feats_eval = encode_prompt_sets(tower, tokens)
    feats_train = encode_prompt_sets(tower, train_tokens)
    classifier_train = classifier_from_sets(feats_train)
    (classifier_train * inputs["grad_probe"]).sum().backward()
    _check(
        {
            "prompt_strings_eval": prompt_strings(texts, templates),
            "tokens_eval": tokens,
            "text_features_eval": feats_eval,
            "classifier_eval": classifier_from_sets(feats_eval),
            "train_template_draws": draws,
            "train_template_index": k,
            "tokens_train": train_tokens,
            "text_features_train": feats_train.detach(),
            "classifier_train": classifier_train.detach(),
            "class_names": [class_name(t) for t in texts],
        },
        fx,
    )
    params = dict(tower.named_parameters())
    _check({name: params[name].grad for name in fx["grads"]}, fx, "grads")


def check_tokenizer(fx: dict) -> None:
    cfg, texts, out = fx["config"], fx["inputs"]["texts"], fx["outputs"]
    tok = clip.default_tokenizer()
    assert cfg["vocab_sha256"] == clip.VOCAB_SHA256 and not cfg["truncate_default"]
    raises = []
    for t in texts:
        try:
            tokenize(t, context_length=cfg["context_length"])
            raises.append(False)
        except clip.TextTooLongError:
            raises.append(True)
    bpe = [tok.encode(t) for t in texts]
    _check(
        {
            "tokens": tokenize(texts, context_length=cfg["context_length"], truncate=True),
            "raises_without_truncate": raises,
            "num_bpe_tokens": torch.tensor([len(b) for b in bpe]),
            "bpe_ids": bpe,
            "decoded": [tok.decode(b) for b in bpe],
            "tokens_ctx16_truncate": tokenize(
                texts, context_length=out["tokens_ctx16_truncate"].shape[1], truncate=True
            ),
        },
        fx,
    )


# ------------------------------------------------------------------------------------------ full model


def _model_from_fixture(fx: dict, *, aux: bool) -> KICLIP:
    cfg, inputs = fx["config"], fx["inputs"]
    config = CLIPConfig(
        embed_dim=cfg["embed_dim"],
        image_resolution=cfg["image_resolution"],
        vision_layers=cfg["vision_layers"],
        vision_width=cfg["vision_width"],
        vision_patch_size=cfg["vision_patch_size"],
        context_length=cfg["context_length"],
        vocab_size=cfg["vocab_size"],
        transformer_width=cfg["transformer_width"],
        transformer_heads=cfg["transformer_heads"],
        transformer_layers=cfg["transformer_layers"],
        vision_heads=cfg["vision_heads"],
    )
    assert cfg["MODEL.KEEP_RAW_MODEL"] and cfg["MODEL.TEMPORAL_MODELING_TYPE"] == "expand_temporal_view"
    model = KICLIP(
        config,
        num_frames=cfg["DATA.NUM_FRAMES"],
        class_texts=inputs["class_texts"],
        templates=inputs["templates"],
        keep_teacher=True,
        residual_alpha=cfg["residual_alpha"],
        aux_head=aux,
        num_classes=cfg["MODEL.NUM_CLASSES"],
    )
    state = _dense(fx["state_dict"])
    result = model.load_state_dict(state, strict=False)
    assert not result.unexpected_keys
    assert all(k.startswith("res_classifier.") for k in result.missing_keys)
    return model


def check_kiclip_model(fx: dict) -> None:
    cfg, inputs = fx["config"], fx["inputs"]
    model = _model_from_fixture(fx, aux=True)
    # the aux head's weights live in the sibling aux_classifier fixture (same batch, same sizes)
    aux = load_fixture(fx["_path"].with_name("aux_classifier.pt"))
    model.res_classifier.load_state_dict({k[len("res_classifier.") :]: v for k, v in aux["state_dict"].items()})
    assert torch.equal(model.prompt_tokens[[inputs["train_template_index"], -1]], inputs["text_tokens_train"])
    assert torch.equal(model.prompt_tokens, inputs["text_tokens_eval"])
    ratio = cfg["MODEL.DISTILLATION_RATIO"]
    # train mode: the template is drawn by the model from Python's global random, seeded as upstream
    model.train()
    random.seed(inputs["python_random_seed"])
    out = model(inputs["video"], details=True)
    assert out["template_index"] == inputs["train_template_index"]
    terms = kiclip_loss(out, inputs["labels"], distillation_ratio=ratio)
    model.zero_grad(set_to_none=True)
    terms["loss"].backward()
    params = dict(model.named_parameters())
    grads = {n: p.grad for n, p in params.items() if p.grad is not None}
    trainable_without_grad = [n for n, p in params.items() if p.requires_grad and p.grad is None]
    got = {k: v for k, v in out.items() if k in fx["outputs"]["train"]}
    got.update(
        loss_cls=terms["cls"],
        loss_img_distill=terms["img_distill"],
        loss_txt_distill=terms["txt_distill"],
        loss_total=terms["loss"],
        grad_total_norm=torch.linalg.vector_norm(torch.stack([g.norm() for g in grads.values()])),
        trainable_params_without_grad=trainable_without_grad,
    )
    got["stem_after_ln_pre"] = model.model.visual.embed(model.frames(inputs["video"])).detach()
    with torch.no_grad():
        _, trace = model.model.visual.transformer(got["stem_after_ln_pre"], return_intermediates=True)
    got["ki_student_block_inputs"] = [_seq_first(t) for t in trace["student_inputs"]]
    got["ki_student_block_outputs"] = [_seq_first(t) for t in trace["student_outputs"]]
    got["ki_frozen_block_outputs"] = [_seq_first(t) for t in trace["frozen_outputs"]]
    missing = sorted(set(fx["outputs"]["train"]) - set(got))
    assert not missing, missing
    _check({k: (v.detach() if isinstance(v, torch.Tensor) else v) for k, v in got.items()}, fx, "outputs.train")
    _check({k: grads[k] for k in fx["grads"]}, fx, "grads")

    # eval mode: all 29 sets; a test model without teacher gives the same logits
    model.eval()
    with torch.no_grad():
        ev = model(inputs["video"], details=True)
        feats = encode_prompt_sets(model.model, model.prompt_tokens)
    _check(
        {
            "pred": ev["pred"],
            "text_classifier": ev["text_classifier"],
            "text_features_per_set": feats,
            "img_encode_raw": ev["img_encode_raw"],
        },
        fx,
        "outputs.eval",
    )
    check_kiclip_train_step(fx, model, grads)


def check_kiclip_train_step(fx: dict, model: KICLIP, grads: dict) -> None:
    """One upstream iteration: LR at the epoch, clip by global norm 1.0, AdamW groups and update."""
    cfg, step = fx["config"], fx["outputs"]["train_step"]
    lr = lr_at(
        float(step["epoch"]),
        base_lr=cfg["SOLVER.BASE_LR"],
        max_epoch=cfg["SOLVER.MAX_EPOCH"],
        warmup_epochs=cfg["SOLVER.WARMUP_EPOCHS"],
        warmup_start_lr=cfg["SOLVER.WARMUP_START_LR"],
        cosine_end_lr=cfg["SOLVER.COSINE_END_LR"],
        cosine_after_warmup=cfg["SOLVER.COSINE_AFTER_WARMUP"],
    )
    opt = build_kiclip_optimizer(
        model, lr=lr, weight_decay=cfg["SOLVER.WEIGHT_DECAY"], betas=cfg["SOLVER.BETAS"], eps=step["adamw_eps"]
    )
    assert [g["betas"] for g in opt.param_groups][0] == tuple(step["adamw_betas"])
    names = {id(p): n for n, p in model.named_parameters()}
    got_groups = sorted(
        (g["weight_decay"], g["lr"], sorted(names[id(p)] for p in g["params"])) for g in opt.param_groups
    )
    want_groups = sorted((g["weight_decay"], g["lr"], sorted(g["names"])) for g in step["optimizer_groups"])
    assert [(w, n) for w, _, n in got_groups] == [(w, n) for w, _, n in want_groups]
    # our own gradient norm before clipping (the aux head has no gradient)
    params = [p for g in opt.param_groups for p in g["params"]]
    norm = clip_grad_norm(params, cfg["SOLVER.CLIP_GRAD_L2NORM"])
    coef = min(1.0, cfg["SOLVER.CLIP_GRAD_L2NORM"] / (float(norm) + 1e-6))
    _check({"lr": lr, "grad_norm_before_clip": norm, "clip_coef": coef}, fx, "outputs.train_step")
    assert float(terms_loss(fx)) == pytest.approx(step["loss"])
    # the update from the fixture's own (clipped) gradients: Adam's g/|g| is ill-conditioned for tiny ones
    fixture_grads = _dense(fx["grads"])
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    frozen_before = {n: v.clone() for n, v in model.full_state_dict().items() if n.startswith("raw_model.")}
    for n, p in model.named_parameters():
        if p.grad is not None and n in fixture_grads:
            p.grad = fixture_grads[n].clone() * step["clip_coef"]
    opt.step()
    after = dict(model.named_parameters())
    _check({n: (after[n] - before[n]).detach() for n in step["param_delta"]}, fx, "outputs.train_step.param_delta")
    unchanged = all(torch.equal(model.full_state_dict()[n], v) for n, v in frozen_before.items())
    assert unchanged == step["frozen_params_unchanged"]


def terms_loss(fx: dict) -> torch.Tensor:
    return fx["outputs"]["train"]["loss_total"]


def check_loss_terms(fx: dict) -> None:
    cfg, inputs = fx["config"], fx["inputs"]
    assert cfg["MODEL.LOSS_FUNC"] == "soft_cross_entropy" and not cfg["soft_cross_entropy_normalize_targets"]
    heads = {name: residual_head(cfg["embed_dim"]) for name in ("projector_v", "projector_t")}
    for name, head in heads.items():
        head.load_state_dict({k[len(name) + 1 :]: v for k, v in fx["state_dict"].items() if k.startswith(name + ".")})
    pred = inputs["pred"].clone().requires_grad_()
    f = inputs["img_encode_norm"].clone().requires_grad_()
    w = inputs["text_classifier"].clone().requires_grad_()
    alpha = cfg["residual_alpha"]
    out = {
        "pred": pred,
        "img_encode_proj": f + alpha * heads["projector_v"](f),
        "text_classifier_proj": w + alpha * heads["projector_t"](w),
        "raw_img_encode": inputs["raw_img_encode"],
        "raw_text_classifier": inputs["raw_text_classifier"],
        "res_clf": inputs["res_clf"],
    }
    terms = kiclip_loss(
        out, inputs["labels"], distillation_ratio=cfg["MODEL.DISTILLATION_RATIO"], eps=cfg["cosine_similarity_eps"]
    )
    terms["loss"].backward()
    aux = kiclip_loss({"pred": inputs["pred"], "res_clf": inputs["res_clf"]}, inputs["labels"], aux_ce_weight=1.0)
    _check(
        {
            "img_encode_proj": out["img_encode_proj"].detach(),
            "text_classifier_proj": out["text_classifier_proj"].detach(),
            "loss_cls": terms["cls"],
            "loss_img_distill": terms["img_distill"],
            "loss_txt_distill": terms["txt_distill"],
            "loss_total": terms["loss"],
            "loss_cls_torch_cross_entropy": F.cross_entropy(inputs["pred"], inputs["labels"]),
            "loss_aux_ce": aux["aux_ce"],
        },
        fx,
    )
    grads = {"pred": pred.grad, "img_encode_norm": f.grad, "text_classifier": w.grad}
    for name, head in heads.items():
        grads.update({f"{name}.{k}": p.grad for k, p in head.named_parameters()})
    _check(grads, fx, "grads")


# ------------------------------------------------------------------------------------------ schedule, eval, WA


def check_lr_schedule(fx: dict) -> None:
    cfg, inputs = fx["config"], fx["inputs"]
    assert cfg["SOLVER.LR_POLICY"] == "cosine" and cfg["SOLVER.COSINE_RESTART_EPOCH"] == 0.0

    def lr(x: float) -> float:
        value = lr_at(
            x,
            base_lr=cfg["SOLVER.BASE_LR"],
            max_epoch=cfg["SOLVER.MAX_EPOCH"],
            warmup_epochs=cfg["SOLVER.WARMUP_EPOCHS"],
            warmup_start_lr=cfg["SOLVER.WARMUP_START_LR"],
            cosine_end_lr=cfg["SOLVER.COSINE_END_LR"],
            cosine_after_warmup=cfg["SOLVER.COSINE_AFTER_WARMUP"],
        )
        return value * cfg["layer_decay"] * cfg["lr_factor"]

    iters = cfg["iters_per_epoch"]
    steps = inputs["epoch_exact"].numel()
    epochs = torch.tensor([g / iters for g in range(steps)], dtype=torch.float64)
    torch.testing.assert_close(epochs, inputs["epoch_exact"], atol=1e-15, rtol=0)
    _check(
        {
            "lr": torch.tensor([lr(float(x)) for x in epochs], dtype=torch.float64),
            "probe_lr": torch.tensor([lr(float(x)) for x in inputs["probe_epochs"]], dtype=torch.float64),
        },
        fx,
    )


def check_test_aggregation(fx: dict) -> None:
    cfg = fx["config"]
    views = cfg["TEST.NUM_ENSEMBLE_VIEWS"] * cfg["TEST.NUM_SPATIAL_CROPS"]
    assert cfg["DATA.ENSEMBLE_METHOD"] == "sum" and not cfg["DATA.MULTI_LABEL"]
    exact = {}
    for part in ("base", "novel"):
        i = fx["inputs"][part]
        common = dict(views=views, batch_size=cfg["TEST.BATCH_SIZE"], ks=cfg["ks"])
        r = aggregate_test(i["clip_logits"], i["clip_labels"], i["clip_index"], drop_last=cfg["drop_last"], **common)
        mx = aggregate_test(
            i["clip_logits"], i["clip_labels"], i["clip_index"], drop_last=cfg["drop_last"], method="max", **common
        )
        full = aggregate_test(i["clip_logits"], i["clip_labels"], i["clip_index"], drop_last=False, **common)
        top1, top5 = r.topk_acc
        exact[part] = top1
        got = {
            "video_preds": r.video_preds,
            "video_labels": r.video_labels,
            "clip_count": r.clip_count,
            "clips_consumed": r.clips_consumed,
            "num_videos": r.video_preds.shape[0],
            "topks_correct_counts": r.topk_correct,
            "top1_acc": float(f"{top1:.2f}"),
            "top5_acc": float(f"{top5:.2f}"),
            "top1_acc_str": f"{top1:.2f}",
            "top5_acc_str": f"{top5:.2f}",
            "top1_acc_exact": top1,
            "top5_acc_exact": top5,
            "max_ensemble_video_preds": mx.video_preds,
            "max_ensemble_top1_acc": float(f"{mx.topk_acc[0]:.2f}"),
            "no_drop_last_video_preds": full.video_preds,
            "no_drop_last_clip_count": full.clip_count,
            "no_drop_last_top1_acc": float(f"{full.topk_acc[0]:.2f}"),
            "no_drop_last_top5_acc": float(f"{full.topk_acc[1]:.2f}"),
        }
        _check(got, fx, f"outputs.{part}")
    base_s, novel_s = (fx["outputs"][p]["top1_acc"] for p in ("base", "novel"))
    _check(
        {
            "harmonic_mean": harmonic_mean(base_s, novel_s),
            "harmonic_mean_exact": harmonic_mean(exact["base"], exact["novel"]),
        },
        fx,
    )


def check_weight_average(fx: dict) -> None:
    cfg, inputs = fx["config"], fx["inputs"]
    result = average_checkpoints(
        inputs["raw_clip_state"],
        [(c["file_name"], c["model_state"]) for c in inputs["checkpoints"]],
        start=cfg["wa_start"],
        end=cfg["wa_end"],
        extra_key_patterns=cfg["extra_key_patterns"],
    )
    _check(result, fx)
    assert result["checkpoint_ids_used"] and 0 not in result["checkpoint_ids_used"]


# ------------------------------------------------------------------------------------------ data


def check_temporal_sampling(fx: dict) -> None:
    cfg = fx["config"]
    assert cfg["DATA.DECODING_BACKEND"] == "pyav" and cfg["DATA.USE_OFFSET_SAMPLING"]
    for case, exp in zip(fx["inputs"]["cases"], fx["outputs"]["cases"]):
        num, den = (case["fps"].split("/") + ["1"])[:2]
        seed = case["python_random_seed"]
        idx, start, end = clip_frame_indices(
            case["num_frames_in_video"],
            float(num) / float(den),
            sampling_rate=cfg["DATA.SAMPLING_RATE"],
            clip_frames=cfg["DATA.NUM_FRAMES"],
            target_fps=cfg["DATA.TARGET_FPS"],
            clip_idx=case["clip_idx"],
            num_clips=cfg["TEST.NUM_ENSEMBLE_VIEWS"],
            duration_known=case["duration_known"],
            pts_per_frame=case["pts_per_frame"],
            rng=random.Random(seed) if seed is not None else None,
        )
        assert torch.equal(torch.as_tensor(idx), exp["source_frame_indices"]), case
        got = torch.tensor([[start, end, 0.0]], dtype=torch.float64)
        assert_matches(got, exp["start_end_delta"], atol=1e-9, rtol=1e-12, context=str(case))


def check_spatial_transform(fx: dict) -> None:
    cfg = fx["config"]
    mean, std = cfg["DATA.MEAN"], cfg["DATA.STD"]
    jitter = cfg["DATA.TRAIN_JITTER_SCALES"]
    assert cfg["TEST.NUM_SPATIAL_CROPS"] == 1 and cfg["spatial_idx_test"] == 1 and not cfg["DATA.INV_UNIFORM_SAMPLE"]
    for case, exp in zip(fx["inputs"]["cases"], fx["outputs"]["cases"]):
        frames = case["frames_uint8"]
        test = eval_transform(frames, mean=mean, std=std, short_side=jitter[0], crop=cfg["DATA.TEST_CROP_SIZE"])
        assert_matches(test, exp["test_clip"], atol=fx["atol"], rtol=fx["rtol"], context="test clip")
        for want in exp["train"]:
            rng = np.random.RandomState(want["numpy_seed"])
            clip_, params = train_transform(
                frames,
                mean=mean,
                std=std,
                jitter=jitter,
                crop=cfg["DATA.TRAIN_CROP_SIZE"],
                flip=cfg["DATA.RANDOM_FLIP"],
                rng=rng,
            )
            assert params == {k: want[k] for k in params}, want["numpy_seed"]
            assert_matches(clip_, want["clip"], atol=fx["atol"], rtol=fx["rtol"], context=f"seed {want['numpy_seed']}")


CHECKERS: dict[str, Callable[[dict], None]] = {
    "temporal_attention": check_temporal_attention,
    "temporal_block": check_temporal_block,
    "ki_transformer": check_ki_transformer,
    "visual_tower": check_visual_tower,
    "aux_classifier": check_aux_classifier,
    "text_classifier": check_text_classifier,
    "tokenizer": check_tokenizer,
    "kiclip_model": check_kiclip_model,
    "loss_terms": check_loss_terms,
    "loss_terms_init_heads": check_loss_terms,
    "lr_schedule": check_lr_schedule,
    "lr_schedule_no_offset": check_lr_schedule,
    "test_aggregation": check_test_aggregation,
    "weight_average": check_weight_average,
    "temporal_sampling": check_temporal_sampling,
    "spatial_transform": check_spatial_transform,
}


@pytest.mark.parametrize("path", fixture_files("kiclip"), ids=lambda p: p.stem)
def test_parity(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's note on validating sparse tensors
        fx = load_fixture(path)
    fx["_path"] = path
    checker = CHECKERS.get(fx["name"])
    if checker is None:
        pytest.fail(f"{path}: no checker for fixture {fx['name']!r} (kind {fx['kind']!r}); add one to CHECKERS")
    torch.manual_seed(0)
    checker(fx)
