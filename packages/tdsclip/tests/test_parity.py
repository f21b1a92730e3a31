"""Parity with the original TDS-CLIP code: every fixture in ``$PARITY_ROOT/tdsclip/*.pt``.

One parametrised test runs over whatever fixture files exist and dispatches on the fixture's
name to a checker; a fixture nobody checks fails. Every size and hyper-parameter comes from the
fixture (a held-out set with other sizes and seeds exists), values are compared with the fixture's
tolerances, and everything goes through the tdsclip API (model modules, loaders, optimizer,
schedule, samplers, evaluation). The fixtures' token tensors are sequence-first ``(L, B*T, D)``;
ours are batch-first, hence the transposes.
"""

from __future__ import annotations

import random
import re
import warnings
from typing import Any, Callable

import numpy as np
import pytest
import torch

from tdsclip import checkpoint as CK
from tdsclip import evaluate as EV
from tdsclip import model as M
from tdsclip import optim as O
from tdsclip import sampling as SA
from tdsclip.train import train_step
from videokd.testing import assert_matches, fixture_files, load_fixture

FIXTURES = fixture_files("tdsclip")


def _load(path) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_fixture(path)


def _tol(fx: dict) -> dict:
    return {"atol": float(fx.get("atol", 0.0)), "rtol": float(fx.get("rtol", 0.0))}


def _check(got: Any, exp: Any, fx: dict, what: str, **tol: float) -> None:
    assert_matches(got, exp, **(tol or _tol(fx)), context=f"{fx['name']}: {what}")


def _seq_first(t: torch.Tensor) -> torch.Tensor:
    return t.transpose(0, 1)


def _fp32(state: dict) -> dict:
    return {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}


def _grads(module: torch.nn.Module, inputs: dict[str, torch.Tensor], fx: dict) -> dict[str, torch.Tensor]:
    """Gradients named as in the fixture: parameter names, ``name[:4]`` slices and ``input.<name>``."""
    params = dict(module.named_parameters())
    got = {}
    for key in fx["grads"]:
        if key.startswith("input."):
            got[key] = inputs[key[len("input.") :]].grad
            continue
        m = re.fullmatch(r"(.+)\[:(\d+)\]", key)
        if m:
            got[key] = params[m.group(1)].grad[: int(m.group(2))]
        else:
            got[key] = params[key].grad
    return got


def _buffers(module: torch.nn.Module, names) -> dict[str, torch.Tensor]:
    state = module.state_dict()
    return {k: state[k] for k in names}


# --------------------------------------------------------------------------------------------- modules


def check_td_adapter(fx: dict) -> None:
    c, inp, out = fx["config"], fx["inputs"], fx["outputs"]
    assert c["channel"] // c["reduction"] == c["bottleneck_channels"]
    mod = M.TDAdapter(c["channel"], c["reduction"])
    mod.load_state_dict(fx["state_dict"])
    mod.train(bool(c["train_mode"]))
    u = inp["u"].clone().requires_grad_(True)
    taps: dict = {}
    y = mod(u, taps)
    _check({"out": y, **taps}, {k: v for k, v in out.items() if k != "buffers_after_forward"}, fx, "forward")
    if c["train_mode"]:
        _check(_buffers(mod, out["buffers_after_forward"]), out["buffers_after_forward"], fx, "BN buffers")
        (y * inp["grad_probe"]).sum().backward()
        _check(_grads(mod, {"u": u}, fx), fx["grads"], fx, "grads")


def check_sme_stem(fx: dict) -> None:
    c, inp, out = fx["config"], fx["inputs"], fx["outputs"]
    p = c["vision_patch_size"]
    assert list(c["stem_kernel"]) == [3, p, p] and list(c["stem_stride"]) == [1, p, p]
    assert list(c["stem_padding"]) == [1, 1, 1]
    mod = M.SideStems(c["network.side_dim"], p, c["data.num_segments"])
    mod.load_state_dict(fx["state_dict"])
    mod.train(bool(c["train_mode"]))
    x = inp["x"].clone().requires_grad_(True)
    taps: dict = {}
    s0 = mod(M.to_frame_windows(x), taps)
    got = {"side_init": _seq_first(s0), **taps}
    _check(got, {k: v for k, v in out.items() if k != "buffers_after_forward"}, fx, "forward")
    if c["train_mode"]:
        _check(_buffers(mod, out["buffers_after_forward"]), out["buffers_after_forward"], fx, "BN buffers")
        (got["side_init"] * inp["grad_probe"]).sum().backward()
        _check(_grads(mod, {"x": x}, fx), fx["grads"], fx, "grads")


def check_side_block(fx: dict) -> None:
    c, inp, out = fx["config"], fx["inputs"], fx["outputs"]
    mod = M.SideBlock(c["dim"], c["heads"], c["T"], mlp_ratio=c["mlp_ratio"], td_reduction=c["td_reduction"])
    mod.load_state_dict(fx["state_dict"])
    mod.train(bool(c["train_mode"]))
    x = inp["x"].clone().requires_grad_(True)
    tok = inp["x_token"].clone().requires_grad_(True)
    pos = inp["side_position_embeddings"].clone().requires_grad_(True)
    taps: dict = {}
    y = mod(_seq_first(x), _seq_first(tok), pos, taps)
    got = {"out": _seq_first(y), **{k: v for k, v in taps.items() if k != "td"}}
    for k in ("shifted_cls", "ln1_out", "attn_out", "mlp_out"):
        got[k] = _seq_first(got[k])
    _check(got, {k: v for k, v in out.items() if k != "buffers_after_forward"}, fx, "forward")
    if c["train_mode"]:
        _check(_buffers(mod, out["buffers_after_forward"]), out["buffers_after_forward"], fx, "BN buffers")
        (got["out"] * inp["grad_probe"]).sum().backward()
        names = {"x": x, "x_token": tok, "side_position_embeddings": pos}
        _check(_grads(mod, names, fx), fx["grads"], fx, "grads")


def _model_from_fixture(fx: dict) -> M.VideoCLIP:
    c, state = fx["config"], _fp32(fx["state_dict"])
    cfg = M.TDSConfig(
        image_resolution=c["image_resolution"],
        vision_patch_size=c["vision_patch_size"],
        vision_width=c["vision_width"],
        vision_layers=c["vision_layers"],
        vision_heads=c["vision_heads"],
        side_dim=c["network.side_dim"],
        side_heads=c["side_heads"],
        td_reduction=c["td_reduction"],
        num_classes=c["data.num_classes"],
        num_segments=c["data.num_segments"],
        num_diff=c["data.num_diff"],
        drop_fc=c["network.drop_fc"],
    )
    assert (
        c["network.n_emb"] == c["network.side_dim"] and c["td_bottleneck"] == c["network.side_dim"] // c["td_reduction"]
    )
    model = M.VideoCLIP(cfg)
    assert CK.load_model_weights(model, state, source=fx["name"]) == "full"
    assert list(model.state_dict()) == list(fx["state_dict"]), "state-dict key order differs from the original"
    return model


def _intermediates(taps: dict) -> dict[str, torch.Tensor]:
    got = {}
    for k, v in taps.items():
        if k in ("sme_out", "rgb_out", "post_bn_out", "pooled"):
            got[k] = v
        elif k.startswith(("clip_block_out.", "side_proj.", "side_block_in.", "side_block_out.")) or k in (
            "clip_tokens_after_ln_pre",
            "side_init",
        ):
            got[k] = _seq_first(v)
    return got


def check_model_forward_train(fx: dict) -> None:
    c, inp, out = fx["config"], fx["inputs"], fx["outputs"]
    model = _model_from_fixture(fx)
    model.train()
    taps: dict = {}
    logits, loss = train_step(
        model, {"video": inp["x"], "label": inp["labels"]}, smoothing=c["solver.smoothing"], taps=taps
    )
    got = {"logits": logits, "loss": loss, **_intermediates(taps)}
    tensors = {k: v for k, v in out.items() if isinstance(v, torch.Tensor)}
    _check(got, tensors, fx, "forward")
    _check(_buffers(model, out["bn_buffers_after_forward"]), out["bn_buffers_after_forward"], fx, "BN buffers")
    loss.backward()
    names = [n for n, _ in model.named_parameters()]
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    _check(trainable, out["trainable_param_names"], fx, "trainable names")
    _check([n for n in names if n not in trainable], out["frozen_param_names"], fx, "frozen names")
    _check([n for n, p in model.named_parameters() if p.grad is not None], out["param_names_with_grad"], fx, "grads")
    n_tr = sum(p.numel() for p in model.parameters() if p.requires_grad)
    n_fr = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    _check([n_tr, n_fr], [out["n_trainable_params"], out["n_frozen_params"]], fx, "param counts")
    _check(_grads(model, {}, fx), fx["grads"], fx, "grads")


def check_model_forward_eval(fx: dict) -> None:
    c, inp, out = fx["config"], fx["inputs"], fx["outputs"]
    model = _model_from_fixture(fx)
    model.eval()
    taps: dict = {}
    with torch.no_grad():
        view_logits = model(inp["x"], taps)
        # the same bytes in the training layout give the same logits
        assert torch.allclose(model(inp["x"].reshape(-1, 3, *inp["x"].shape[-2:])), view_logits, atol=1e-6)
    views = int(c["views_per_video"])
    probs = EV.video_scores(view_logits, views)
    top1, top5 = EV.accuracy(probs, inp["labels"], ks=(1, 5))
    got = {"view_logits": view_logits, "video_probs": probs, "top1": top1, "top5": top5, **_intermediates(taps)}
    _check(got, out, fx, "forward")


# --------------------------------------------------------------------------------------------- loading / training


def check_clip_pretrained_load(fx: dict) -> None:
    c, sd, out = fx["config"], fx["inputs"]["openai_state_dict"], fx["outputs"]
    num_classes = int(out["videoclip_state_shapes"]["fc.weight"][0])
    model, report = CK.model_from_clip_state(
        sd, side_dim=c["network.side_dim"], num_classes=num_classes, num_segments=c["data.num_segments"]
    )
    state = model.state_dict()
    got = {
        "videoclip_keys_from_checkpoint": sorted(report.loaded),
        "videoclip_keys_not_in_checkpoint": sorted(report.not_in_checkpoint),
        "checkpoint_keys_unused": sorted(report.unused),
        "inferred": CK.clip_sizes(sd),
        "videoclip_state_keys_in_order": list(state),
        "videoclip_state_shapes": {k: list(v.shape) for k, v in state.items()},
        "loaded_frozen_values_fp32": {k: state[k] for k in out["loaded_frozen_values_fp32"]},
    }
    exp = dict(out)
    for k in ("videoclip_keys_from_checkpoint", "videoclip_keys_not_in_checkpoint", "checkpoint_keys_unused"):
        exp[k] = sorted(out[k])
    _check(got, exp, fx, "CLIP load")
    assert all(v.dtype == torch.float32 for v in got["loaded_frozen_values_fp32"].values())
    for k in c:
        if k in got["inferred"]:
            assert got["inferred"][k] == c[k], k


def check_optimizer_step(fx: dict) -> None:
    c, inp, out = fx["config"], fx["inputs"], fx["outputs"]
    ck = out["checkpoint"]
    fx_model = dict(fx, state_dict=fx["state_dict"])
    model = _model_from_fixture(fx_model)
    model.train()
    opt = O.build_adamw(
        model,
        lr=float(inp["lr"]),
        weight_decay=c["solver.weight_decay"],
        betas=tuple(c["solver.betas"]),
        eps=c["adamw_eps"],
        clip_ratio=c["solver.clip_ratio"],
        sync_bn=c["network.sync_bn"],
        grad_accumulation_steps=c["solver.grad_accumulation_steps"],
    )
    frozen = {k: v.clone() for k, v in model.state_dict().items() if not M.is_trainable_name(k)}
    losses = []
    accum = int(c["solver.grad_accumulation_steps"])
    assert int(c["steps"]) == len(inp["batches"])
    # the original loop: loss / accum backwards every iteration, a step when (i + 1) % accum == 0,
    # and the logged loss is the divided one
    opt.zero_grad(set_to_none=True)
    for i, batch in enumerate(inp["batches"]):
        _, loss = train_step(
            model, {"video": batch["images"], "label": batch["labels"]}, smoothing=c["solver.smoothing"]
        )
        loss = loss / accum
        loss.backward()
        if (i + 1) % accum == 0:
            opt.step()
            opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    _check(losses, out["losses"], fx, "losses")
    mine = CK.original_checkpoint(model, opt, epoch=ck["epoch"])
    assert mine["epoch"] == ck["epoch"]
    # frozen tensors never move
    for k, v in frozen.items():
        assert torch.equal(mine["model_state_dict"][k], v), k
    loose, loose_atol, rm_atol = out["loose_mask"], float(out["loose_atol"]), float(out["running_mean_atol"])
    for k, exp in ck["model_state_dict"].items():
        got = mine["model_state_dict"][k]
        if k in loose:
            m = loose[k]
            _check(got[m], exp[m], fx, f"{k} (loose)", atol=loose_atol, rtol=0.0)
            _check(got[~m], exp[~m], fx, k)
        elif k.endswith("running_mean"):
            _check(got, exp, fx, k, atol=rm_atol, rtol=float(fx["rtol"]))
        else:
            _check(got, exp, fx, k)
    # optimizer: same groups, same parameter numbering, same state
    osd, eosd = mine["optimizer_state_dict"], ck["optimizer_state_dict"]
    assert [g["params"] for g in osd["param_groups"]] == [g["params"] for g in eosd["param_groups"]]
    for g, eg in zip(osd["param_groups"], eosd["param_groups"]):
        for key in ("lr", "betas", "eps", "weight_decay"):
            _check(list(g[key]) if key == "betas" else g[key], list(eg[key]) if key == "betas" else eg[key], fx, key)
    assert sorted(osd["state"]) == sorted(eosd["state"]), "parameters holding optimizer state differ"
    index_to_name = [n for g in opt.param_groups for n in g["param_names"]]
    for i, est in eosd["state"].items():
        name = index_to_name[i]
        st = osd["state"][i]
        _check(float(st["step"]), float(est["step"]), fx, f"{name} step")
        if name in loose:
            m = loose[name]
            # Adam's moments of near-zero-gradient elements are rounding noise: m ~ 0, v ~ 0
            for key in ("exp_avg", "exp_avg_sq"):
                _check(st[key][~m], est[key][~m], fx, f"{name} {key}")
                _check(st[key][m], est[key][m], fx, f"{name} {key} (loose)", atol=loose_atol, rtol=0.0)
        else:
            _check(st["exp_avg"], est["exp_avg"], fx, f"{name} exp_avg")
            _check(st["exp_avg_sq"], est["exp_avg_sq"], fx, f"{name} exp_avg_sq")


def check_lr_schedule(fx: dict) -> None:
    c, inp, out = fx["config"], fx["inputs"], fx["outputs"]
    assert c["solver.type"] == "cosine" and int(c["warmup_powers"]) == 1
    epochs, iters = int(inp["epochs"]), int(inp["iters_per_epoch"])
    accum = int(c["solver.grad_accumulation_steps"])
    model = torch.nn.Module()
    model.visual = torch.nn.Module()
    model.visual.side_linear = torch.nn.Linear(1, 1)
    model.visual.side_bn = torch.nn.BatchNorm1d(1)
    model.fc = torch.nn.Linear(1, 1)
    opt = O.build_adamw(
        model,
        lr=c["solver.lr"],
        weight_decay=0.0,
        clip_ratio=c["solver.clip_ratio"],
        sync_bn=c["network.sync_bn"],
        grad_accumulation_steps=accum,
    )
    base = [g["lr"] for g in opt.param_groups]
    kw = dict(epochs=epochs, warmup=c["solver.lr_warmup_step"], final=c["final_factor"], warmup_start=c["warmup_lrs"])
    held = O.lr_factor(iters_per_epoch=iters, held=True, **kw)
    steps = O.held_schedule_points(epochs, iters)
    got = {
        "group_base_lrs": base,
        "lr_after_construction": [b * held(0) for b in base],
        "lr_per_iter": torch.tensor([[b * held(g) for b in base] for g in range(epochs * iters)], dtype=torch.float64),
        "scheduler_step_iters": steps,
        "scheduler_step_args": [g // iters + (g % iters) / iters for g in steps],
        "optimizer_step_iters": O.optimizer_step_iterations(epochs, iters, accum),
        "probe_lrs": torch.tensor(
            [[b * O.lr_at_epoch(float(e), **kw) for b in base] for e in inp["probe_epochs"]], dtype=torch.float64
        ),
    }
    _check(got, out, fx, "schedule")


def check_label_smoothing(fx: dict) -> None:
    i = fx["inputs"]
    logits = i["logits"].clone().requires_grad_(True)
    loss = EV.classification_loss(logits, i["target"], smoothing=fx["config"]["solver.smoothing"])
    loss.backward()
    _check({"loss": loss}, fx["outputs"], fx, "loss")
    _check({"logits": logits.grad}, fx["grads"], fx, "grad")


def check_view_aggregation(fx: dict) -> None:
    i, o = fx["inputs"], fx["outputs"]
    probs = EV.video_scores(i["view_logits"], int(fx["config"]["views_per_video"]))
    top1, top5 = EV.accuracy(probs, i["labels"], ks=(1, 5))
    hits = EV.hits(probs, i["labels"], ks=(1, 5))
    got = {
        "video_probs": probs,
        "top1": top1,
        "top5": top5,
        "validate_return": top1,
        "pred_top5": probs.topk(5, dim=1).indices,
        "correct_top1": hits[:, 0].tolist(),
        "correct_top5": hits[:, 1].tolist(),
    }
    _check(got, o, fx, "aggregation")


# --------------------------------------------------------------------------------------------- data


def _plus1(a) -> list:
    return (np.asarray(a) + 1).tolist()


def check_sth_train_sampling(fx: dict) -> None:
    c = fx["config"]
    t, length = c["data.num_segments"], c["data.num_diff"]
    dataset = c.get("data.dataset", "somethingv1")
    assert SA.family(dataset) == "something"
    for video in fx["outputs"]["videos"]:
        n = video["num_frames"]
        centres = SA.train_centres(dataset, n, t, rng=np.random.RandomState(video["numpy_seed"]))
        assert _plus1(centres) == video["centres"], n
        assert _plus1(SA.windows(centres, n, length)) == video["windows"], n
        assert video["short_video_path"] == (n <= t)
        rng = np.random.RandomState(0)
        draws = np.stack([SA.train_centres(dataset, n, t, rng=rng) for _ in range(300)]) + 1
        assert (draws.min(0) >= video["observed_min_centre"]).all() and (
            draws.max(0) <= video["observed_max_centre"]
        ).all()


def check_sth_test_sampling(fx: dict) -> None:
    c = fx["config"]
    t, length, clips = c["data.num_segments"], c["data.num_diff"], c["test_clips"]
    dataset = c.get("data.dataset", "somethingv2")
    for video in fx["outputs"]["videos"]:
        n = video["num_frames"]
        test = SA.test_centres(dataset, n, t, clips, dense=bool(c["dense"]))
        assert _plus1(test) == video["test_centres"] and _plus1(SA.windows(test, n, length)) == video["test_windows"]
        if video["val_windows"] is None:  # the list-file filter drops it; the sampler is not involved
            assert n < c["val_min_frames_filter"]
            continue
        val = SA.val_centres(dataset, n, t)
        assert _plus1(val) == video["val_centres"] and _plus1(SA.windows(val, n, length)) == video["val_windows"]


def check_k400_sampling(fx: dict) -> None:
    c = fx["config"]
    t, length, clips = c["data.num_segments"], c["data.num_diff"], c["test_clips"]
    dataset = "k400"
    for video in fx["outputs"]["videos"]:
        n = video["num_frames"]
        centres = SA.train_centres(dataset, n, t, rng=random.Random(video["train_python_seed"]))
        assert _plus1(centres) == video["train_centres"]
        assert _plus1(SA.windows(centres, n, length)) == video["train_windows"]
        rng = random.Random(0)
        draws = np.stack([SA.train_centres(dataset, n, t, rng=rng) for _ in range(300)]) + 1
        assert (draws.min(0) >= video["train_observed_min_centre"]).all()
        assert (draws.max(0) <= video["train_observed_max_centre"]).all()
        assert _plus1(SA.windows(SA.val_centres(dataset, n, t), n, length)) == video["val_windows"]
        if video["test_windows"] is None:
            assert n < t and video["test_windows_video_modality"] is None
            continue
        test = SA.test_centres(dataset, n, t, clips)
        assert _plus1(SA.windows(test, n, length)) == video["test_windows"]
        assert _plus1(SA.windows(test, n, length, wrap=True)) == video["test_windows_video_modality"]


def check_flip_label_swap(fx: dict) -> None:
    labels, out = fx["inputs"]["labels"], fx["outputs"]
    assert [list(p) for p in SA.SS_FLIP_PAIRS] == [list(p) for p in out["swap_pairs"]]
    assert [SA.flip_label(x, SA.SS_FLIP_PAIRS) for x in labels] == out["labels_if_flipped"]
    assert [SA.flip_label(x, out["swap_pairs"]) for x in labels] == out["labels_if_flipped"]
    assert [x for x in labels] == out["labels_if_not_flipped"]
    assert [SA.flip_label(x, ()) for x in labels] == out["k400_labels_if_flipped"]
    rng = random.Random(0)
    rate = sum(SA.flip_draw(fx["config"].get("flip_prob", 0.5), rng=rng) for _ in range(2000)) / 2000
    assert abs(rate - out["observed_flip_rate_2000"]) < 0.05


def check_test_crop_geometry(fx: dict) -> None:
    for case, exp in zip(fx["inputs"]["cases"], fx["outputs"]["cases"]):
        s = case["input_size"]
        assert SA.scale_size(case["dataset"], s) == exp["scale_size"], case
        rw, rh = SA.resized_size(case["dataset"], s, case["frame_wh"])
        assert [rw, rh] == exp["resized_wh"], case
        for n, want in exp["crops"].items():
            boxes, flips = SA.crop_boxes(rw, rh, s, int(n))
            assert boxes == [list(b) for b in want["boxes"]] and flips == list(want["flipped"]), (case, n)


CHECKERS: dict[str, Callable[[dict], None]] = {
    "td_adapter_train": check_td_adapter,
    "td_adapter_eval": check_td_adapter,
    "sme_stem_train": check_sme_stem,
    "sme_stem_eval": check_sme_stem,
    "side_block_train": check_side_block,
    "side_block_eval": check_side_block,
    "model_forward_train": check_model_forward_train,
    "model_forward_eval": check_model_forward_eval,
    "clip_pretrained_load": check_clip_pretrained_load,
    "optimizer_step": check_optimizer_step,
    "lr_schedule": check_lr_schedule,
    "label_smoothing_ce": check_label_smoothing,
    "test_view_aggregation": check_view_aggregation,
    "sth_train_sampling": check_sth_train_sampling,
    "sth_test_sampling": check_sth_test_sampling,
    "k400_sampling": check_k400_sampling,
    "sth_flip_label_swap": check_flip_label_swap,
    "test_crop_geometry": check_test_crop_geometry,
}


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_parity(path):
    fx = _load(path)
    assert fx["name"] == path.stem
    if fx["name"] not in CHECKERS:
        pytest.fail(f"fixture {path.name} (kind {fx.get('kind')!r}) is not dispatched by tdsclip's parity test")
    torch.manual_seed(0)
    CHECKERS[fx["name"]](fx)


def test_parity_fixtures_are_found():
    assert FIXTURES, "no tdsclip fixtures found (PARITY_ROOT)"
