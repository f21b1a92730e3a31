"""Parity with the original XKD code: every fixture in ``$PARITY_ROOT/xkd/*.pt``.

One parametrised test runs over whatever fixture files exist and dispatches on the fixture's name
to a checker; a fixture nobody checks fails. Sizes and hyper-parameters come from each fixture's
``config`` / ``inputs`` (a held-out set with other sizes runs too); values are compared with the
fixture's tolerances (``tolerance_overrides`` by path prefix). Everything goes through the xkd
package: its ViTs, MAE, head, refine, model graph, optimiser pieces, schedules, checkpoint tools,
evaluation backbones, audio front end and transforms.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
import torch

from videokd.testing import assert_matches, fixture_files, load_fixture, prefix_tolerance
from xkd import audio as XA
from xkd import checkpoint as XC
from xkd import losses as XL
from xkd import schedules as XS
from xkd import transforms as XT
from xkd.backbones import build_eval_backbone, load_state_strict, pooled_features
from xkd.mae import MAEWrapper, random_masking
from xkd.model import build_model, refine
from xkd.optim import build_xkd_optimizer, train_step, xkd_param_groups
from xkd.vit import AudioPatchEmbed, AudioViT, VideoPatchEmbed, VideoViT

FIXTURES = fixture_files("xkd")
torch.backends.mha.set_fastpath_enabled(False)


def _tol(fx: dict):
    return prefix_tolerance(fx.get("tolerance_overrides"), (float(fx["atol"]), float(fx["rtol"])), sep="/")


def _check(got: Any, exp: Any, fx: dict, *, root: str = "outputs", what: str = "") -> None:
    assert_matches(
        got, exp, atol=float(fx["atol"]), rtol=float(fx["rtol"]), path=(root,), tolerance=_tol(fx),
        context=f"{fx['name']}{': ' + what if what else ''}",
    )  # fmt: skip


def _sizes(cfg: dict) -> dict[str, dict]:
    out: dict[str, dict] = {"encoder": {}, "decoder": {}, "projector": {}}
    for key, value in cfg.items():
        for kind in out:
            if key.startswith(f"{kind}_dict."):
                out[kind][key.split(".", 1)[1]] = value
    return out


def _enc(cfg: dict, name: str) -> tuple[int, int, int]:
    e = cfg[f"encoder_dict.{name}"]
    return int(e["embed_dim"]), int(e["depth"]), int(e["num_heads"])


def _assert_block_conventions(cfg: dict) -> None:
    assert cfg.get("mlp_ratio", 4) == 4 and not cfg.get("qkv_bias", False)


# ------------------------------------------------------------------------------- modules
def check_patch_embed(fx: dict) -> None:
    c, i = fx["config"], fx["inputs"]
    dim = int(c["embedding_dim"])
    if fx["name"].startswith("video"):
        # the original's tubelet: (vid_patch_temporal, vid_patch_spatial[1], vid_patch_spatial[0])
        sp = c["model.kwargs.vid_patch_spatial"]
        tub = (int(c["model.kwargs.vid_patch_temporal"]), int(sp[1]), int(sp[0]))
        assert tub == (c["tubelet_t"], c["tubelet_h"], c["tubelet_w"])
        mod = VideoPatchEmbed(tub, dim, int(c["in_channels"]))
    else:
        mod = AudioPatchEmbed(c["model.kwargs.spec_patch_spatial"], dim, int(c["in_channels"]))
    mod.load_state_dict(fx["state_dict"])
    got = {}
    for key, suffix in (("x", ""), ("x_local", "_local")):
        patches, emb = mod(i[key])
        got[f"patches{suffix}"], got[f"embeddings{suffix}"] = patches, emb
    _check(got, fx["outputs"], fx)


def check_random_masking(fx: dict) -> None:
    i = fx["inputs"]
    assert i["mask_ratio"] == fx["config"]["mask_ratio"]
    m = random_masking(i["x"], i["mask_ratio"], noise=i["noise"])
    _check(m._asdict(), fx["outputs"], fx)


def _video_vit(c: dict, enc: tuple[int, int, int], *, prefix: str = "") -> VideoViT:
    return VideoViT(
        frame_size=c[prefix + "frame_size"],
        num_frames=int(c[prefix + "num_frames"]),
        patch_spatial=c[prefix + "patch_spatial"],
        patch_temporal=int(c[prefix + "patch_temporal"]),
        embed_dim=enc[0],
        depth=enc[1],
        num_heads=enc[2],
    )


def _audio_vit(c: dict, enc: tuple[int, int, int], *, prefix: str = "") -> AudioViT:
    return AudioViT(
        spec_size=c[prefix + "spec_size"], patch_spatial=c[prefix + "patch_spatial"], embed_dim=enc[0], depth=enc[1],
        num_heads=enc[2],
    )  # fmt: skip


def check_vit_forward(fx: dict) -> None:
    c, i = fx["config"], fx["inputs"]
    _assert_block_conventions(c)
    assert c["apply_cls_token"]
    enc = _enc(c, c["encoder_cfg"])
    vit = _video_vit(c, enc) if fx["name"].startswith("video") else _audio_vit(c, enc)
    vit.load_state_dict(fx["state_dict"])
    vit.eval()
    got = {}
    for view in ("global", "local"):
        x = i[f"x_{view}"]
        attn, tokens = vit.forward_last_layer_attn(x)
        got.update(
            {
                f"pos_embed_{view}": vit.pos_embed_for(x),
                f"tokens_in_{view}": vit.tokens_in(x),
                f"attn_last_{view}": attn,
                f"tokens_out_{view}": tokens,
            }
        )
        assert torch.allclose(vit(x), tokens, atol=1e-5)  # the SDPA path equals the explicit one
    _check(got, fx["outputs"], fx)


def check_mae_forward(fx: dict) -> None:
    c, i = fx["config"], fx["inputs"]
    _assert_block_conventions(c)
    enc_name = next(k.split(".", 1)[1] for k in c if k.startswith("encoder_dict."))
    dec_name = next(k.split(".", 1)[1] for k in c if k.startswith("decoder_dict."))
    enc, dec = _enc(c, enc_name), c[f"decoder_dict.{dec_name}"]
    assert enc[0] == c["encoder_dim"] and dec["embed_dim"] == c["decoder_dim"]
    vit = _video_vit(c, enc) if fx["name"].startswith("video") else _audio_vit(c, enc)
    pe = vit.cuboid_embed if fx["name"].startswith("video") else vit.patch_embed
    mae = MAEWrapper(
        vit,
        num_patches=vit.enc_pos_embed.shape[1] - 1,
        patch_dim=pe.proj.in_features,
        decoder_dim=int(dec["embed_dim"]),
        decoder_depth=int(dec["depth"]),
        decoder_heads=int(dec["num_heads"]),
        norm_pix_loss=bool(c["norm_pix_loss"]),
    )
    mae.load_state_dict(fx["state_dict"])
    assert i["mask_ratio"] == c["mask_ratio"] and i["return_latent"]
    out = mae(i["x"], i["mask_ratio"], noise=i["noise"])
    out["target_normalized"] = XL.normalize_patch_targets(out["target"])
    _check({k: out[k] for k in fx["outputs"]}, fx["outputs"], fx)
    out["loss"].backward()
    params = dict(mae.named_parameters(remove_duplicate=False))
    assert fx["grads_of"] == "loss"
    _check({k: params[k].grad for k in fx["grads"]}, fx["grads"], fx, root="grads")


def check_mae_recon_loss(fx: dict) -> None:
    c, i = fx["config"], fx["inputs"]
    assert c.get("eps", 1e-6) == 1e-6
    got = {
        "loss_norm_pix": XL.reconstruction_loss(i["pred"], i["target"], i["mask"], norm_pix=True),
        "loss_raw": XL.reconstruction_loss(i["pred"], i["target"], i["mask"], norm_pix=False),
        "target_normalized": XL.normalize_patch_targets(i["target"]),
    }
    _check(got, fx["outputs"], fx)


def check_refine(fx: dict) -> None:
    i = fx["inputs"]
    assert fx["config"]["model.fwd_kwargs.cm_attn_mode"] == "mean"
    got = {}
    for mode in fx["outputs"]:
        v = refine(i["vid_attn"], i["vid_tokens"], i["aud_attn"], mode=mode)
        a = refine(i["aud_attn"], i["aud_tokens"], i["vid_attn"], mode=mode)
        got[mode] = {f"vid_{k}": t for k, t in v.items()} | {f"aud_{k}": t for k, t in a.items()}
    _check(got, fx["outputs"], fx)


# --------------------------------------------------------------------------------- losses
def check_dino_loss(fx: dict) -> None:
    i, c = fx["inputs"], fx["config"]
    kw = dict(
        student_temp=float(i["student_temp"]),
        teacher_temp=float(i["teacher_temp"]),
        num_student_views=int(i["num_student_views"]),
        num_teacher_views=int(i["num_teacher_views"]),
    )
    module = XL.DINOLoss(i["center"].shape[1], center_momentum=float(c["center_momentum"])).train()
    module.center.copy_(i["center"])
    student = i["student_output"].clone().requires_grad_()
    loss = module(student, i["teacher_output"], **kw)
    loss.backward()
    _check({"loss": loss, "center_after": module.center, "grad_student_output": student.grad}, fx["outputs"], fx)


def check_mmd_loss(fx: dict) -> None:
    i, c = fx["inputs"], fx["config"]
    assert c["kernel_type"] == "gaussian"
    gammas = [float(g) for g in c["gamma"]]  # the model uses XL.MMD_GAMMAS, the original's list
    x, y = i["x"].clone().requires_grad_(), i["y"].clone().requires_grad_()
    terms = XL.alignment_terms(x, y, gammas=gammas)
    terms.loss.backward()
    got = {
        "loss": terms.loss,
        "loss_float64": XL.alignment_loss(i["x"].double(), i["y"].double(), gammas=gammas),
        "Kxx": terms.kxx,
        "Kyy": terms.kyy,
        "Kxy": terms.kxy,
        "Kxx_mean": terms.kxx.mean(),
        "Kyy_mean": terms.kyy.mean(),
        "Kxy_mean": terms.kxy.mean(),
        "sq_dist_xy": XL.pairwise_sq_dists(i["x"], i["y"]),  # clamped at 1e-30 as the original
        "grad_x": x.grad,
        "grad_y": y.grad,
    }
    _check(got, fx["outputs"], fx)


# ---------------------------------------------------------------------------------- model
def _model_from_fixture(fx: dict):
    c = fx["config"]
    _assert_block_conventions(c)
    kwargs = {k.split(".", 2)[2]: v for k, v in c.items() if k.startswith("model.kwargs.")}
    # the parity switches reproduce the original's behaviour
    kwargs["original_student_temp"] = True
    model = build_model({"name": c["model.name"], "kwargs": kwargs}, sizes=_sizes(c))
    missing, unexpected = model.load_state_dict(fx["state_dict"], strict=True)
    assert not missing and not unexpected
    return model


def _check_alias_structure(model, state: dict) -> None:
    """Shared modules in the fixture are shared in the model (same groups of aliased keys)."""
    ours = {tuple(g) for g in XC.alias_groups(model.state_dict(keep_vars=True))}
    theirs = {tuple(g) for g in XC.alias_groups(state)}
    assert ours == theirs


def check_model_forward(fx: dict) -> None:
    c, i = fx["config"], fx["inputs"]
    model = _model_from_fixture(fx)
    _check_alias_structure(model, fx["state_dict"])
    assert len(i["frames"]) == 1 + c["dataset.train.vid_aug_kwargs.num_local_views"]
    assert len(i["specs"]) == 1 + c["dataset.train.aud_aug_kwargs.num_local_views"]
    model.train()
    fwd = dict(i["fwd_kwargs"])
    center0 = {k: getattr(model, k).center.clone() for k in ("vt2as_ce_loss", "at2vs_ce_loss")}

    def run(**coeffs):
        for k, v in center0.items():
            getattr(model, k).center.copy_(v)
        model.zero_grad(set_to_none=True)
        return model(
            i["frames"], i["specs"], vid_mask_noise=i["vid_mask_noise"], aud_mask_noise=i["aud_mask_noise"],
            return_details=True, **(fwd | coeffs),
        )  # fmt: skip

    out = run()
    # the float64 alignment references, from our own head outputs
    v64, a64 = out["vid_student_out"].detach().double(), out["aud_student_out"].detach().double()
    vt64, at64 = out["vid_teacher_out"].double(), out["aud_teacher_out"].double()
    as2vs64, vt2at64 = XL.alignment_loss(v64, a64), XL.alignment_loss(vt64, at64)
    align64 = (as2vs64 + vt2at64) / 2
    coeff = {k: float(fwd[k]) for k in ("align_coeff", "cmkd_coeff", "recon_coeff")}
    total64 = (
        coeff["align_coeff"] * align64
        + coeff["cmkd_coeff"] * out["cmkd_loss"].double()
        + coeff["recon_coeff"] * out["recon_loss"].double()
    ) / sum(coeff.values())
    got = {k: out[k] for k in fx["outputs"] if k in out}
    got.update(
        as2vs_align_loss_float64=as2vs64,
        vt2at_align_loss_float64=vt2at64,
        alignment_loss_float64=align64,
        loss_with_float64_alignment=total64,
    )
    out["loss"].backward()
    params = dict(model.named_parameters(remove_duplicate=False))
    assert fx["grads_of"] == "loss"
    grads = {k: params[k].grad for k in fx["grads"]}
    # d term / d param, one (unweighted) term at a time, to locate a wrong term
    by_term = {}
    for term, exp in fx["outputs"]["grads_by_term"].items():
        o = run()
        o[term].backward()
        by_term[term] = {
            k: (params[k].grad if params[k].grad is not None else torch.zeros_like(params[k])) for k in exp
        }
    got["grads_by_term"] = by_term
    _check(got, fx["outputs"], fx)
    _check(grads, fx["grads"], fx, root="grads")


def check_ema_update(fx: dict) -> None:
    model = _model_from_fixture(fx)
    _check_alias_structure(model, fx["state_dict"])
    model.update_teachers(float(fx["inputs"]["vm"]), float(fx["inputs"]["am"]), shared_twice=True)
    state = model.state_dict()
    exp = fx["outputs"]["teacher_state_after"]
    _check({k: state[k] for k in exp}, exp, fx, what="teacher_state_after")


def check_train_step(fx: dict) -> None:
    c, i = fx["config"], fx["inputs"]
    assert not c["apex"] and c["hyperparams.optimizer.name"] == "adamw"
    model = _model_from_fixture(fx).train()
    opt = build_xkd_optimizer(
        model, {"name": "adamw", "betas": c["hyperparams.optimizer.betas"], "eps": c["adamw.eps"]}
    )
    got_steps = []
    for k, batch in enumerate(i["batches"]):
        res = train_step(
            model, opt, batch, fwd_kwargs=i["fwd_kwargs"], lr=i["lr"][k], weight_decay=i["weight_decay"][k],
            vid_ema=i["vid_ema"][k], aud_ema=i["aud_ema"][k], clip_grad=i["clip_grad"],
            freeze_last_layer=i["freeze_last_layer"], epoch=i["epoch"], shared_teacher_ema_twice=True,
        )  # fmt: skip
        exp = fx["outputs"]["steps"][k]
        step = {key: res[key] for key in exp if key in res}
        step["clip_norms"] = res["clip_norms"].double()
        # gradients are still on the parameters after the step (zeroed at the next one)
        params = dict(model.named_parameters(remove_duplicate=False))
        step["grads_after_clip_sample"] = {n: params[n].grad for n in exp["grads_after_clip_sample"]}
        got_steps.append(step)
    state = model.state_dict()
    got = {"steps": got_steps, "state_after": {k: state[k] for k in fx["outputs"]["state_after"]}}
    _check(got, fx["outputs"], fx)


def check_param_groups(fx: dict) -> None:
    c = fx["config"]
    got = {}
    for variant in fx["inputs"]["variants"]:
        model = build_model({"name": variant, "kwargs": _parity_kwargs(c)}, sizes=_sizes(c))
        groups = xkd_param_groups(model, weight_decay=0.3)
        assert [g["name"] for g in groups] == ["no_decay", "decay"]
        opt = build_xkd_optimizer(model, {"name": "adamw", "betas": c["hyperparams.optimizer.betas"]})
        got[variant] = {
            "no_weight_decay": groups[0]["param_names"],
            "weight_decay": groups[1]["param_names"],
            "frozen": [n for n, p in model.named_parameters() if not p.requires_grad],
            "group0_weight_decay": opt.param_groups[0]["weight_decay"],
            "betas": list(opt.param_groups[0]["betas"]),
            "eps": opt.param_groups[0]["eps"],
        }
    _check(got, fx["outputs"], fx)


def _parity_kwargs(c: dict) -> dict:
    """Model kwargs for a tool fixture that only gives size tables (the first entry of each)."""
    names = {kind: next(k.split(".", 1)[1] for k in c if k.startswith(f"{kind}_dict.")) for kind in _sizes(c)}
    return {
        "frame_size": [3, 32, 32],
        "num_frames": 4,
        "vid_patch_spatial": [8, 8],
        "vid_patch_temporal": 2,
        "spec_size": [80, 64],
        "spec_patch_spatial": [4, 16],
        "student_cfg": names["encoder"],
        "teacher_cfg": names["encoder"],
        "decoder_cfg": names["decoder"],
        "projector_cfg": names["projector"],
    }


# ---------------------------------------------------------------------------- schedules
def check_cosine_schedule(fx: dict) -> None:
    def one(case: dict) -> torch.Tensor:
        cfg = {
            "name": "cosine",
            "base_lr": case["base_value"],
            "final_lr": case["final_value"],
            "warmup_epochs": case["warmup_epochs"],
            "warmup_lr": case["start_warmup_value"],
        }
        return XS.cosine_from_cfg(cfg, int(case["epochs"]), int(case["niter_per_ep"]))

    inp = fx["inputs"]
    got = {"schedules": [one(c) for c in inp["cases"]]} if "cases" in inp else {"schedule": one(inp)}
    _check(got, fx["outputs"], fx)


def check_teacher_temp(fx: dict) -> None:
    got = []
    for case in fx["inputs"]["cases"]:
        model_cfg = {f"{m}_temp_kwargs": case[f"model.{m}_temp_kwargs"] for m in ("video", "audio")}
        s = XS.temperature_schedules(model_cfg, int(case["hyperparams.num_epochs"]))
        got.append(
            {f"{m}_{who}_temp_schedule": s[who][m] for m in ("video", "audio") for who in ("teacher", "student")}
        )
    _check({"schedules": got}, fx["outputs"], fx)


# -------------------------------------------------------------------------------- tools
def check_key_remap(fx: dict) -> None:
    c, i, o = fx["config"], fx["inputs"], fx["outputs"]
    got = {}
    for modality in ("video", "audio"):
        keys = i[f"{modality}_keys"]
        got[f"{modality}_keys_remapped"] = XC.remap_backbone_keys(keys, modality=modality)
        # the remapped set is exactly the evaluation model's (strict load)
        model = build_eval_backbone(
            {"vit_config": [16, int(c["encoder_depth"]), 2], "frame_size": [3, 32, 32], "num_frames": 4,
             "patch_spatial": [8, 8] if modality == "video" else [4, 16], "patch_temporal": 2, "spec_size": [80, 64]},
            modality=modality,
        )  # fmt: skip
        got[f"{modality}_eval_model_keys"] = list(model.state_dict())
        got[f"{modality}_engines"] = o[f"{modality}_engines"]  # informational (which original files agree)
        assert sorted(got[f"{modality}_keys_remapped"]) == sorted(got[f"{modality}_eval_model_keys"])
    _check(got, o, fx)


def check_checkpoint_layout(fx: dict) -> None:
    c, o = fx["config"], fx["outputs"]

    def depth(text: str) -> int:
        return int(text.split("(")[1].split()[0])

    # Key names do not depend on widths: build at the recorded depths with tiny widths. The recorded
    # layout has no ``*_ae.mid_proj`` keys, i.e. encoder and decoder widths were equal there.
    got = {}
    for variant in fx["inputs"]["variants"]:
        model = build_model(
            {"name": variant, "kwargs": {"student_cfg": [8, depth(c["model.kwargs.teacher_cfg"]), 2],
                                         "teacher_cfg": [8, depth(c["model.kwargs.teacher_cfg"]), 2],
                                         "decoder_cfg": [8, depth(c["model.kwargs.decoder_cfg"]), 2],
                                         "projector_cfg": {"hidden_dim": 8, "bottleneck_dim": 4, "out_dim": 8},
                                         "frame_size": [3, 16, 16], "num_frames": 4, "spec_size": [8, 32]}},
        )  # fmt: skip
        state = model.state_dict(keep_vars=True)
        got[variant] = [f"module.{k}" for k in state]
        got[f"{variant}_aliases"] = XC.alias_groups(state)
    got["backbone_files"] = [
        XC.backbone_file_name(c["model.name"], c["sub_dir"], c["db"], int(c["epoch"]), s) for s in XC.BACKBONE_SUFFIXES
    ]
    _check(got, o, fx)


def check_eval_pool_features(fx: dict) -> None:
    c, i = fx["config"], fx["inputs"]
    assert c["model.fwd_kwargs.feat_op"] == "pool" and not c["use_amp"]
    modality = "video" if fx["name"].startswith("eval_video") else "audio"
    prefix = "model.backbone."
    backbone_cfg = {k[len(prefix) :]: v for k, v in c.items() if k.startswith(prefix)}
    vit_table = {k.split(".", 1)[1]: v for k, v in c.items() if k.startswith("vit_config.")}
    model = build_eval_backbone(backbone_cfg, modality=modality, vit_configs=vit_table)
    load_state_strict(model, XC.remap_backbone_keys(fx["state_dict"], modality=modality), source=fx["name"])
    model.eval()
    got = {
        "features_train_res": pooled_features(model, i["x_train_res"]),
        "features_other_res": pooled_features(model, i["x_other_res"]),
        "features_train_res_l2": pooled_features(model, i["x_train_res"], l2=True),
    }
    _check(got, fx["outputs"], fx)


# --------------------------------------------------------------------------- data/audio
def check_audio_logmel(fx: dict) -> None:
    cfg, inp = fx["config"], fx["inputs"]
    assert inp["sample_rate"] == cfg["dataset.audio_fps"] and cfg["stft.window"] == "hann" and cfg["stft.center"]
    common = dict(
        audio_fps=cfg["dataset.audio_fps"], n_fft=cfg["dataset.n_fft"], hop_length=cfg["dataset.hop_length"],
        n_mels=cfg["dataset.n_mels"], f_min=cfg["f_min"], f_max=cfg["f_max"], normalize=bool(cfg["normalize"]),
        stats=(cfg["mean"], cfg["std"]),
    )  # fmt: skip
    reflect, constant = XA.AudioFrontEnd(**common), XA.AudioFrontEnd(**common, pad_mode="constant")
    prepared = reflect.prepare(inp["waveform"], cfg["dataset.audio_clip_duration"])
    local = prepared[:, inp["local_start"] : inp["local_start"] + inp["local_length"]]
    got = {
        "prepared_waveform": prepared,
        "mel_filterbank": reflect.fbank,
        "mel_power": reflect.mel_power(prepared[0]),
        "logmel": reflect(prepared),
        "logmel_local": reflect(local),
        "logmel_constant_pad": constant(prepared),
        "logmel_local_constant_pad": constant(local),
    }
    _check(got, fx["outputs"], fx)


def check_audio_random_resize_crop(fx: dict) -> None:
    cfg = fx["config"]
    lms = fx["inputs"]["lms"]
    key = "dataset.train.aud_aug_kwargs.local."
    kw = dict(
        virtual_crop_scale=cfg[key + "virtual_crop_scale"], freq_scale=cfg[key + "freq_scale"],
        time_scale=cfg[key + "time_scale"],
    )  # fmt: skip
    got = [XA.local_resize_crop(lms, box=box, **kw) for box in fx["inputs"]["boxes"]]
    _check({"outputs": got}, fx["outputs"], fx)
    drawn = XA.local_resize_crop(lms, **kw)  # a drawn box gives the input's shape back
    assert drawn.shape == lms.shape and torch.isfinite(drawn).all()


def check_eval_3crop(fx: dict) -> None:
    cfg = fx["config"]
    frames = fx["inputs"]["frames_uint8_THWC"]
    kw = dict(mean=cfg["mean"], std=cfg["std"])
    got = {
        "strong3crop": XT.strong3crop_eval(frames, int(cfg["dataset.crop_size"]), **kw),
        "randaug3crop": XT.randaug3crop_eval(frames, int(cfg["dataset.crop_size"]), **kw),
    }
    _check(got, fx["outputs"], fx)


CHECKS: dict[str, Callable[[dict], None]] = {
    "video_patch_embed": check_patch_embed,
    "audio_patch_embed": check_patch_embed,
    "random_masking_video": check_random_masking,
    "random_masking_audio": check_random_masking,
    "video_vit_forward": check_vit_forward,
    "audio_vit_forward": check_vit_forward,
    "video_mae_forward": check_mae_forward,
    "audio_mae_forward": check_mae_forward,
    "mae_recon_loss": check_mae_recon_loss,
    "refine": check_refine,
    "dino_loss": check_dino_loss,
    "dino_loss_multiview": check_dino_loss,
    "mmd_loss": check_mmd_loss,
    "mmd_loss_scaled": check_mmd_loss,
    "xkd_forward": check_model_forward,
    "xkd_mas_forward": check_model_forward,
    "xkd_mats_forward": check_model_forward,
    "ema_update_xkd": check_ema_update,
    "ema_update_mas": check_ema_update,
    "ema_update_mats": check_ema_update,
    "xkd_train_step": check_train_step,
    "tool_param_groups": check_param_groups,
    "schedule_lr": check_cosine_schedule,
    "schedule_weight_decay": check_cosine_schedule,
    "schedule_ema_momentum": check_cosine_schedule,
    "schedule_teacher_temp": check_teacher_temp,
    "tool_checkpoint_key_remap": check_key_remap,
    "tool_checkpoint_layout": check_checkpoint_layout,
    "eval_video_pool_features": check_eval_pool_features,
    "eval_audio_pool_features": check_eval_pool_features,
    "audio_logmel": check_audio_logmel,
    "audio_random_resize_crop": check_audio_random_resize_crop,
    "transform_video_eval_3crop": check_eval_3crop,
}


def test_parity_fixtures_exist():
    assert FIXTURES, "no xkd fixtures found"


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_parity(path):
    fx = load_fixture(path)
    check = CHECKS.get(fx["name"])
    if check is None:
        pytest.fail(f"fixture {path.name} (kind {fx['kind']!r}) is not dispatched by the xkd parity test")
    torch.manual_seed(0)
    check(fx)
