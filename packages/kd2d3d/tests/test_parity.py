"""Parity with the 3D-ResNets (CVPR 2018) lineage: every fixture under ``$PARITY_ROOT/kd2d3d/``
goes through the kd2d3d API. Fixtures are dispatched on their name (model fixtures on their kind);
a fixture nobody dispatches fails. Every size and hyper-parameter is read from the fixture."""

from __future__ import annotations

import random
import shlex
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kd2d3d import data as D
from kd2d3d import evaluate as E
from kd2d3d import models as M
from kd2d3d import opts as O
from kd2d3d import runner as R
from kd2d3d import tools as T
from videokd.testing import assert_matches, fixture_files, load_fixture

CHECKS: dict[str, Callable[[dict, Path], None]] = {}


def check(name: str):
    def register(fn):
        CHECKS[name] = fn
        return fn

    return register


def _tol(fx: dict) -> dict:
    return {"atol": float(fx.get("atol") or 0.0), "rtol": float(fx.get("rtol") or 0.0)}


def _exact(got, expected, context: str = "") -> None:
    assert_matches(got, expected, atol=0, rtol=0, context=context)


def _checker(fx: dict) -> Callable[[dict, Path], None]:
    if fx["name"] in CHECKS:
        return CHECKS[fx["name"]]
    if fx["kind"] == "model_forward" and "state_dict" in fx:
        return check_model_forward
    raise AssertionError(f"kd2d3d fixture {fx['name']!r} (kind {fx['kind']!r}) is dispatched by no check")


@pytest.mark.parametrize("path", fixture_files("kd2d3d"), ids=lambda p: p.stem)
def test_parity(path: Path, tmp_path: Path):
    fx = load_fixture(path)
    assert fx["name"] == path.stem
    _checker(fx)(fx, tmp_path)


def test_parity_fixtures_found():
    assert fixture_files("kd2d3d"), "no kd2d3d fixtures: set PARITY_ROOT"


# ==================================================================================== models
def _build(cfg: dict, **kw) -> torch.nn.Module:
    return M.build_model(
        model=cfg["model"],
        model_depth=cfg["model_depth"],
        n_classes=cfg["n_classes"],
        sample_size=cfg["sample_size"],
        sample_duration=cfg["sample_duration"],
        resnet_shortcut=cfg["resnet_shortcut"],
        wide_resnet_k=cfg.get("wide_resnet_k", 2),
        resnext_cardinality=cfg.get("resnext_cardinality", 32),
        **kw,
    )


def _grads(model, clip, targets, names):
    model.zero_grad()
    F.cross_entropy(model(clip), targets).backward()
    params = dict(model.named_parameters())
    return {n: params[n].grad.detach().clone() for n in names}


def _loaded(cfg: dict, state: dict, **kw) -> torch.nn.Module:
    """The network with the fixture's weights (built on the meta device: no init of 100M+ params)."""
    with torch.device("meta"):
        model = _build(cfg, **kw)
    assert list(model.state_dict()) == list(state), "state-dict keys/order differ from the lineage"
    model.load_state_dict({k: v.clone() for k, v in state.items()}, strict=True, assign=True)
    return model


def check_model_forward(fx: dict, _tmp: Path) -> None:
    cfg, inp, out = fx["config"], fx["inputs"], fx["outputs"]
    tol = fx.get("tolerances") or {}

    def t(name: str) -> dict:
        a, r = tol.get(name, (fx["atol"], fx["rtol"]))
        return {"atol": float(a), "rtol": float(r)}

    state = fx["state_dict"]  # conv weights are read-only strided views: _loaded clones
    model = _loaded(cfg, state).double().eval()
    clip, targets = inp["clip"].double(), inp["targets"]
    with torch.no_grad():
        feats, acts = model.forward_features(clip, stages=True)
        logits = model.fc(feats)
    assert_matches(logits, out["logits_eval"], **t("logits_eval"), context="logits")
    assert_matches(feats, out["features"], **t("features"), context="features")
    assert abs(F.cross_entropy(logits, targets).item() - out["loss_eval"]) <= 1e-9 + 1e-7 * abs(out["loss_eval"])
    for stage in ("stem", "layer1", "layer2", "layer3", "layer4"):
        assert_matches(acts[stage].float(), out[f"act_{stage}"], **t(f"act_{stage}"), context=stage)
    # the lineage's fixed pooling (built for this size) gives the same features
    fixed = M.build_model(
        model="resnet",
        model_depth=10,
        n_classes=1,
        sample_size=cfg["sample_size"],
        sample_duration=cfg["sample_duration"],
        pooling="fixed",
    ).head
    assert_matches(fixed(acts["layer4"]), out["features"], **t("features"), context="fixed pooling")
    # gradients: the default keeps the shortcut-A gradient, the parity flag cuts it like the lineage
    default = _grads(model, clip, targets, list(fx["grads"]))
    if cfg["resnet_shortcut"] == "A":
        assert sorted(n for n, m in model.named_modules() if isinstance(m, M.ShortcutA)) == sorted(
            f"{b}.downsample" for b in out["shortcut_a_blocks"]
        )
        want = out["grads_if_shortcut_not_detached"]
        for n in want:
            assert_matches(default[n], want[n], **t(f"grads_if_shortcut_not_detached.{n}"), context=f"grad {n}")
        model.set_detach_shortcut_a(True)
        lineage = _grads(model, clip, targets, list(fx["grads"]))
    else:
        lineage = default
    for n, want in fx["grads"].items():
        assert_matches(lineage[n], want, **t(f"grads.{n}"), context=f"lineage grad {n}")
    # float32 forward
    model32 = _loaded(cfg, state).eval()
    with torch.no_grad():
        assert_matches(model32(inp["clip"]), out["logits_eval_fp32"], **t("logits_eval_fp32"), context="fp32")
    # BN buffers after one train-mode forward
    model = _loaded(cfg, state).double().train()
    with torch.no_grad():
        model(clip)
    bufs = out["buffers_after_train_forward"]
    assert_matches(model.bn1.running_mean, bufs["bn1.running_mean"], **_tol(fx))
    assert_matches(model.bn1.running_var, bufs["bn1.running_var"], **_tol(fx))
    assert int(model.bn1.num_batches_tracked) == bufs["bn1.num_batches_tracked"]
    # lineage checkpoints: DataParallel "module." prefix, no num_batches_tracked (2017/2018 torch)
    old = {f"module.{k}": v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    with torch.device("meta"):
        fresh = _build(cfg)
    fresh.load_state_dict(M.lineage_state_dict(old, fresh), strict=True, assign=True)
    assert torch.equal(fresh.conv1.weight, state["conv1.weight"])


@check("model_state_dict_layout")
def _layout(fx: dict, _tmp: Path) -> None:
    cfg, out = fx["config"], fx["outputs"]
    for key, layout in out["layouts"].items():
        parts = key.split("-")
        with torch.device("meta"):  # shapes only: no memory for the 100M+ parameter nets
            model = M.build_model(
                model=parts[0],
                model_depth=int(parts[1]),
                resnet_shortcut=parts[2] if len(parts) > 2 else "B",
                n_classes=cfg["n_classes"],
                sample_size=cfg["sample_size"],
                sample_duration=cfg["sample_duration"],
                wide_resnet_k=cfg["wide_resnet_k"],
                resnext_cardinality=cfg["resnext_cardinality"],
            )
        _exact(M.state_dict_layout(model), layout, key)
        assert M.n_parameters(model) == out["n_parameters"][key], key
    # DenseNet constructs and runs here (the lineage cannot); a tiny input through densenet-121
    net = M.build_model(model="densenet", model_depth=121, n_classes=3).eval()
    assert net(torch.randn(1, 3, 16, 32, 32)).shape == (1, 3)
    # ResNeXt with another cardinality works (the lineage failed at fc)
    assert "reduction dim" in out["failures"]["resnext_cardinality_16_forward"]
    net = M.build_model(model="resnext", model_depth=50, resnext_cardinality=16, n_classes=3).eval()
    assert net(torch.randn(1, 3, 4, 32, 32)).shape == (1, 3)
    # which input sizes the lineage's fixed pooling accepts; adaptive pooling accepts all
    grid = out["valid_input_sizes"]
    ts, ss = grid["input_T"], grid["input_S"]
    for key, accepted in grid["accepted"].items():
        t0, s0 = (int(x[1:]) for x in key.split("_")[2:])
        got = torch.tensor([[M.accepts_input_size(t, s, sample_duration=t0, sample_size=s0) for s in ss] for t in ts])
        _exact(got, accepted, key)
        assert all(
            M.accepts_input_size(t, s, sample_duration=t0, sample_size=s0, pooling="adaptive") for t in ts for s in ss
        )
        # the rule is what the network does: a few real forwards of a fixed-pooling resnet-10
        net = M.build_model(
            model="resnet", model_depth=10, n_classes=2, sample_duration=t0, sample_size=s0, pooling="fixed"
        )
        net.eval()
        rng = random.Random(key)
        picks = [(i, j) for i in range(len(ts)) for j in range(len(ss)) if ts[i] <= 20 and ss[j] <= 72]
        for i, j in rng.sample(picks, 4):
            try:
                with torch.no_grad():
                    net(torch.zeros(1, 3, ts[i], ss[j], ss[j]))
                ran = True
            except RuntimeError:
                ran = False
            assert ran == bool(accepted[i, j]), (key, ts[i], ss[j])


# ==================================================================================== options
def _base_argv(fx: dict, case_argv: list[str]) -> list[str]:
    """The fixture's base command (``config.command``) plus its temporary paths and worker count,
    which the command leaves out (taken from the defaults case), then the case's own arguments."""
    base = [a for a in shlex.split(fx["config"]["command"])[1:] if a != "<case"]
    base = base[: base.index("args>")] if "args>" in base else base
    defaults = fx["outputs"]["cases"]["defaults"]["opts_json"]
    argv = list(base)
    for key in ("video_path", "annotation_path", "result_path", "n_threads"):
        if f"--{key}" not in case_argv and f"--{key}" not in base:
            argv += [f"--{key}", str(defaults[key])]
    return argv + case_argv


@check("main_config_resolution")
def _main_config(fx: dict, _tmp: Path) -> None:
    for name, case_argv in fx["inputs"]["cases"].items():
        exp = fx["outputs"]["cases"][name]
        cfg = O.load_options(overrides=O.lineage_argv_to_overrides(_base_argv(fx, list(case_argv))))
        opts = O.resolve(cfg)
        assert_matches(opts, exp["opts_json"], **_tol(fx), context=f"{name} opts.json")
        mean, std = O.norm_method(opts)
        assert_matches({"mean": mean, "std": std}, {k: exp["norm_method"][k] for k in ("mean", "std")}, **_tol(fx))
        assert_matches(O.describe_datasets(opts), exp["dataset_constructions"], **_tol(fx), context=name)
        assert int(opts["test"]) == exp["test_loop_called"]
        if "optimizer" in exp:
            p = torch.nn.Parameter(torch.zeros(1))
            sgd = O.build_sgd([("w", p)], opts)
            groups = [
                {k: g[k] for k in ("lr", "momentum", "dampening", "weight_decay", "nesterov")} for g in sgd.param_groups
            ]
            assert_matches(groups, exp["optimizer"]["param_groups"], **_tol(fx), context=f"{name} optimizer")
            plateau = O.build_plateau(sgd, opts).state_dict()
            assert_matches({k: plateau[k] for k in exp["scheduler"]}, exp["scheduler"], **_tol(fx), context=name)


@check("normalization")
def _normalization(fx: dict, _tmp: Path) -> None:
    from videokd.data.transforms import resnet3d_mean, resnet3d_std

    out = fx["outputs"]
    for key, want in out["get_mean"].items():
        dataset, nv = key.split("/norm_value=")
        cfg = O.load_options(overrides=[f"mean_dataset={dataset}", f"norm_value={nv}"])
        assert_matches(O.resolve(cfg)["mean"], want, atol=1e-12, rtol=0, context=key)
    for key, want in out["get_std"].items():
        cfg = O.load_options(overrides=[f"norm_value={key.split('=')[1]}"])
        assert_matches(O.resolve(cfg)["std"], want, atol=1e-12, rtol=0, context=key)
    assert_matches(resnet3d_mean(), out["function_defaults"]["get_mean()"], atol=1e-12, rtol=0)
    assert_matches(resnet3d_std(), out["function_defaults"]["get_std()"], atol=1e-12, rtol=0)
    frame = fx["inputs"]["frame_uint8_HWC"]
    h, w = frame.shape[:2]
    for name, argv in fx["inputs"]["cases"].items():
        opts = O.resolve(O.load_options(overrides=O.lineage_argv_to_overrides(list(argv))))
        mean, std = O.norm_method(opts)
        exp = out["cases"][name]
        assert_matches([mean, std], [exp["mean"], exp["std"]], **_tol(fx), context=name)
        # through the val pipeline: a square frame of the clip's size is neither resized nor cropped
        side = min(h, w)
        tf = D.ClipTransform("val", side, norm_value=opts["norm_value"], mean=mean, std=std)
        got = tf(frame[None, :side, :side].clone())[:, 0]
        assert_matches(got, exp["normalized"][:, :side, :side], **_tol(fx), context=name)
        assert_matches(
            got * torch.tensor(std)[:, None, None] + torch.tensor(mean)[:, None, None],
            exp["to_tensor"][:, :side, :side],
            **_tol(fx),
            context=name,
        )
        assert torch.equal(frame, fx["inputs"]["frame_uint8_HWC"])  # never in place


@check("fine_tuning_parameters")
def _fine_tuning(fx: dict, _tmp: Path) -> None:
    for key, want in fx["outputs"]["groups"].items():
        arch, k = key.split("/ft_begin_index=")
        model, depth, shortcut = arch.split("-")
        with torch.device("meta"):
            net = M.build_model(model=model, model_depth=int(depth), resnet_shortcut=shortcut, n_classes=2)
        named = list(net.named_parameters())
        opts = {"pretrain_path": "x.pth", "ft_begin_index": int(k)}
        groups = O.sgd_param_groups(named, opts)
        got = [[n, g.get("lr")] for g in groups for n in g["param_names"]]
        if int(k) == 0:
            assert len(groups) == 1
        _exact(got, [list(x) for x in want], key)


@check("sgd_train_steps")
def _sgd(fx: dict, _tmp: Path) -> None:
    for variant, run in fx["outputs"]["runs"].items():
        inp = fx["inputs"][variant]
        # each variant's own hyper-parameters: its argv over the lineage defaults
        opts = O.resolve(O.load_options(overrides=O.lineage_argv_to_overrides(list(inp["argv"]))))
        params = {n: torch.nn.Parameter(inp["initial_params"][n].clone()) for n in inp["parameter_order"]}
        opt = O.build_sgd(list(params.items()), opts)
        assert len(opt.param_groups) == run["n_param_groups"]
        groups = [
            {k: g[k] for k in ("lr", "momentum", "dampening", "weight_decay", "nesterov")} for g in opt.param_groups
        ]
        assert_matches(groups, [{k: g[k] for k in groups[0]} for g in run["optimizer"]["param_groups"]], **_tol(fx))
        for s, step in enumerate(run["steps"]):
            assert_matches(
                {n: p.detach() for n, p in params.items()}, step["params_before"], **_tol(fx), context=f"{variant} {s}"
            )
            for n, p in params.items():
                p.grad = step["grads"][n].clone()
            opt.step()
            lr_of = {n: g["lr"] for g in opt.param_groups for n in g["param_names"]}
            _exact(lr_of, step["lr_per_parameter"], f"{variant} lr")
            assert_matches(
                {n: p.detach() for n, p in params.items()},
                step["params_after"],
                **_tol(fx),
                context=f"{variant} step {s}",
            )
            bufs = {n: opt.state[p]["momentum_buffer"] for n, p in params.items()}
            assert_matches(bufs, step["momentum_buffer_after"], **_tol(fx), context=f"{variant} buffers {s}")
        # the logged lr is that of parameter group 0 (0 when fine-tuning); the logs' headers
        logged = float(run["train_log_text"].splitlines()[1].split("\t")[-1])
        assert opt.param_groups[0]["lr"] == logged
        assert run["train_log_text"].splitlines()[0] == "\t".join(R.LOG_HEADERS["train"])
        assert run["train_batch_log_text"].splitlines()[0] == "\t".join(R.LOG_HEADERS["train_batch"])
        # the checkpoint layout, through save_lineage_checkpoint on a network with these parameters
        net = torch.nn.Module()
        for name, p in params.items():
            holder, leaf = net, name.split(".")
            for part in leaf[:-1]:
                if not hasattr(holder, part):
                    holder.add_module(part, torch.nn.Module())
                holder = getattr(holder, part)
            holder.register_parameter(leaf[-1], p)
        want = run["checkpoint"]
        ckpt_path = _tmp / f"{variant}.pth"
        R.save_lineage_checkpoint(ckpt_path, epoch=want["epoch"] - 1, arch=want["arch"], net=net, optimizer=opt)
        ckpt = torch.load(ckpt_path, weights_only=True)
        assert sorted(ckpt) == sorted(want["keys"]) and ckpt["epoch"] == want["epoch"]
        assert sorted(ckpt["optimizer"]) == sorted(want["optimizer_state_keys"])
        params_only = [k for k in want["state_dict_keys"] if k in params]
        assert list(ckpt["state_dict"]) == params_only
        groups = [{k: g[k] for k in want["optimizer_param_groups"][0]} for g in ckpt["optimizer"]["param_groups"]]
        assert_matches(groups, want["optimizer_param_groups"], **_tol(fx))


@check("reduce_lr_on_plateau")
def _plateau(fx: dict, _tmp: Path) -> None:
    for case, exp in fx["outputs"].items():
        inp = fx["inputs"][case]
        opts = O.resolve(O.load_options(overrides=O.lineage_argv_to_overrides(list(inp["argv"]))))
        names = [f"layer{i}.w" for i in range(exp["n_param_groups"])] if exp["n_param_groups"] > 1 else ["w"]
        first = exp["lr_after_each_step"][0]
        # fine-tuning groups: the frozen ones are named outside layer{k..4}/fc
        if opts["pretrain_path"] and opts["ft_begin_index"]:
            k = opts["ft_begin_index"]
            names = [f"layer{k}.w{i}" if lr > 0 else f"conv{i}.w" for i, lr in enumerate(first)]
        named = [(n, torch.nn.Parameter(torch.zeros(1))) for n in names]
        opt = O.build_sgd(named, opts)
        sched = O.build_plateau(opt, opts)
        lrs, bad, best = [], [], []
        for loss in inp["validation_losses"]:
            sched.step_epoch({"val/loss": loss})
            lrs.append([g["lr"] for g in opt.param_groups])
            bad.append(sched.num_bad_epochs)
            best.append(sched.best)
        state = sched.state_dict()
        got = {
            "lr_after_each_step": lrs,
            "num_bad_epochs": bad,
            "best": best,
            "scheduler": {k: state[k] for k in exp["scheduler"]},
            "n_param_groups": len(opt.param_groups),
        }
        assert_matches(got, {k: exp[k] for k in got}, **_tol(fx), context=case)


# ==================================================================================== data
@check("temporal_transforms")
def _temporal(fx: dict, _tmp: Path) -> None:
    from videokd.data import samplers as S

    for case, exp in zip(fx["inputs"]["cases"], fx["outputs"]["cases"]):
        idx, size, n = case["frame_indices"], case["size"], case["n_frames"]
        original = list(idx)
        assert S.loop_pad(idx, size).tolist() == exp["loop_padding"]
        assert list(idx) == original  # the lineage extended its input in place; we never do
        assert S.temporal_begin_crop(idx, size).tolist() == exp["begin_crop"]
        assert S.temporal_center_crop(idx, size).tolist() == exp["center_crop"]
        assert list(S.temporal_random_crop_bounds(n, size)) == exp["random_crop_randint_bounds"]
        for begin, want in enumerate(exp["random_crop_by_begin_index"]):
            assert S.temporal_random_crop(idx, size, begin=begin).tolist() == want
        # the dataset draws its begin inside those bounds
        ds = D.FrameClipDataset(
            [{"video": "v", "frame_indices": list(idx), "label": 0}],
            D.ClipTransform("train", 2),
            size,
            reader=lambda _v, ids: torch.zeros(len(ids), 2, 2, 3, dtype=torch.uint8),
        )
        if n:
            assert ds[0]["clip"].shape == (3, size, 2, 2)


def _strip_paths(samples: list[dict]) -> list[dict]:
    return samples


@check("clip_sampling")
def _clip_sampling(fx: dict, _tmp: Path) -> None:
    inp = fx["inputs"]
    tables = {
        "ucf101": (inp["annotation_ucf101"], inp["n_frames_by_video"]),
        "kinetics": (inp["annotation_kinetics"], inp["kinetics_n_frames"]),
    }
    for dataset, (annotation, n_frames) in tables.items():
        for key, want in fx["outputs"][dataset].items():
            t_str, subset, n_str = key.split("_")
            samples, idx_to_class = D.make_samples(
                annotation,
                "<video_path>",
                subset,
                dataset=dataset,
                n_samples=int(n_str[1:]),
                sample_duration=int(t_str[1:]),
                n_frames_of=lambda video: n_frames.get(video.rsplit("/", 1)[1]),
            )
            _exact(samples, want["samples"], f"{dataset} {key}")
            _exact(idx_to_class, want["idx_to_class"], f"{dataset} {key}")


@check("activitynet_clip_sampling")
def _activitynet(fx: dict, _tmp: Path) -> None:
    inp = fx["inputs"]

    def key_of(video: str) -> str:
        return video.rsplit("/v_", 1)[1]

    for key, want in fx["outputs"]["datasets"].items():
        parts = key.split("_")
        samples, idx_to_class = D.make_activitynet_samples(
            inp["annotation"],
            "<video_path>",
            parts[1],
            n_samples=int(parts[-1][1:]),
            sample_duration=int(parts[0][1:]),
            untrimmed="untrimmed" in key,
            n_images_of=lambda v: inp["images_per_video"][key_of(v)],
            fps_of=lambda v: float(inp["fps_file_text"][key_of(v)]),
        )
        _exact(samples, want["samples"], key)
        _exact(idx_to_class, want["idx_to_class"], key)


@check("spatial_crops")
def _crops(fx: dict, _tmp: Path) -> None:
    inp, out, cfg = fx["inputs"], fx["outputs"], fx["config"]
    opts = O.resolve(
        O.load_options(
            overrides=[
                f"initial_scale={cfg['initial_scale']}",
                f"n_scales={cfg['n_scales']}",
                f"scale_step={cfg['scale_step']}",
            ]
        )
    )
    assert_matches(opts["scales"], cfg["scales"], atol=1e-12, rtol=0)

    def image(w: int, h: int) -> torch.Tensor:  # pixel value = a code of (x, y): shows which box was cut
        y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        return torch.stack([x % 256, y % 256, (x // 256) * 16 + y // 256], -1).to(torch.uint8)[None]

    def cut_box(frames: torch.Tensor, got: torch.Tensor) -> list[int]:
        x0, y0 = (
            int(got[0, 0, 0, 0]) + 256 * (int(got[0, 0, 0, 2]) // 16),
            int(got[0, 0, 0, 1]) + 256 * (int(got[0, 0, 0, 2]) % 16),
        )
        return [x0, y0, x0 + got.shape[2], y0 + got.shape[1]]

    for case, exp in zip(inp["multiscale_corner_crop"], out["multiscale_corner_crop"]):
        w, h = case["image_wh"]
        tf = D.ClipTransform("train", case["size"], scales=opts["scales"])
        params = {"scale": case["scale"], "crop_position": case["crop_position"], "flip_p": 1.0}
        assert opts["scales"][case["scale_index"]] == case["scale"]
        clip = tf(image(w, h), params)
        assert list(clip.shape[-2:][::-1]) == exp["output_wh"]
        # the crop alone (resize to the crop's own size is the identity)
        c = exp["effective_box"][2] - exp["effective_box"][0]
        raw = D._crop(image(w, h), D.TF.multiscale_corner_box(w, h, case["scale"], case["crop_position"]))
        _exact(cut_box(image(w, h), raw), exp["effective_box"], str(case))
        assert raw.shape[1] == raw.shape[2] == c
    for case, exp in zip(inp["multiscale_random_crop"], out["multiscale_random_crop"]):
        w, h = case["image_wh"]
        box, eff = D.TF.multiscale_random_box(w, h, case["scale"], case["tl_x"], case["tl_y"])
        assert_matches(box, exp["crop_box"], atol=1e-9, rtol=0)
        _exact(cut_box(None, D._crop(image(w, h), eff)), exp["effective_box"], str(case))
    for key, phase in (("corner_crop", "test"), ("center_crop", "val")):
        for case, exp in zip(inp[key], out[key]):
            w, h = case["image_wh"]
            short = min(w, h)
            tf = D.ClipTransform(
                phase,
                case["size"],
                scale_in_test=case["size"] / short,
                crop_position_in_test=case.get("crop_position", "c"),
            )
            if phase == "val" and short != case["size"]:
                continue  # validation rescales first; the box alone is checked below
            got = tf(image(w, h)).permute(1, 2, 3, 0).round().to(torch.uint8)
            _exact(cut_box(None, got), exp["effective_box"], str(case))
            _exact(D.TF.corner_box(w, h, case["size"], case.get("crop_position", "c")), exp["effective_box"])
    for case, exp in zip(inp["scale"], out["scale"]):
        w, h = case["image_wh"]
        tf = D.ClipTransform("val", case["size"])
        frames = torch.zeros(1, h, w, 3, dtype=torch.uint8)
        # the val pipeline rescales the short side (unchanged when equal), then centre-crops
        rh, rw = (h, w) if min(w, h) == case["size"] else D.TF.short_side_size(h, w, case["size"], order="product")
        _exact([rw, rh], exp["output_wh"], str(case))
        assert (min(w, h) == case["size"]) == exp["unchanged"]
        assert tf(frames).shape[-2:] == (case["size"], case["size"])
    for p, flipped in zip(inp["hflip_p"], out["hflip_flipped"]):
        tf = D.ClipTransform("train", 2, scales=[1.0])
        frames = image(2, 2)
        got = tf(frames, {"scale": 1.0, "crop_position": "tl", "flip_p": p})
        assert (
            bool(torch.equal(got, tf(frames.flip(2), {"scale": 1.0, "crop_position": "tl", "flip_p": 1.0}))) == flipped
        )


@check("dataset_getitem")
def _getitem(fx: dict, tmp: Path) -> None:
    cfg, inp, out = fx["config"], fx["inputs"], fx["outputs"]
    s, t = cfg["sample_size"], cfg["sample_duration"]
    # the frames as a real frame tree (PNG data under .jpg names: lossless) + annotation
    annotation = {"labels": inp["labels"], "database": {}}
    for vid, n in zip(inp["video_ids"], inp["n_frames"]):
        label = vid.split("_")[1]
        folder = tmp / "jpg" / label / vid
        folder.mkdir(parents=True)
        for k, frame in enumerate(inp["frames"][vid].numpy()):
            from PIL import Image

            Image.fromarray(frame).save(folder / f"image_{k + 1:05d}.jpg", format="PNG")
        (folder / "n_frames").write_text(str(n))
        annotation["database"][vid] = {"subset": "validation", "annotations": {"label": label}}

    def phase_opts(phase: str) -> dict:
        over = [f"sample_size={s}", f"sample_duration={t}", f"n_val_samples={cfg['n_val_samples']}"]
        over += [f"scale_in_test={cfg['scale_in_test']}", f"crop_position_in_test={cfg['crop_position_in_test']}"]
        over += [f"{k}={v}" for k, v in cfg[phase].items()]
        return O.resolve(O.load_options(overrides=over))

    for phase, n_samples in (("train", 1), ("val", cfg["n_val_samples"]), ("test", 0)):
        opts = phase_opts(phase)
        mean, std = O.norm_method(opts)
        if phase == "val":
            assert_matches([mean, std], [cfg["mean_val"], cfg["std_val"]], atol=1e-12, rtol=0)
        if phase == "train":
            assert_matches(mean, cfg["mean_train"], atol=1e-12, rtol=0)
        samples, _ = D.make_samples(
            annotation, str(tmp / "jpg"), "validation", dataset="ucf101", n_samples=n_samples, sample_duration=t
        )
        tf = D.ClipTransform.from_opts(phase, opts, mean, std)
        if phase == "test":
            assert int(s / opts["scale_in_test"]) == cfg["test_resize_short_side"]
        ds = D.FrameClipDataset(samples, tf, t)
        for item in out[phase]:
            sample = samples[item["index"]]
            if phase == "train":
                idx = item["frame_indices"]
                params = {k: item[k] for k in ("scale", "crop_position", "tl_x", "tl_y", "flip_p") if k in item}
                assert opts["scales"][item["scale_index"]] == item["scale"]
                assert item["flipped"] == (item["flip_p"] < 0.5)
                clip = tf(D.read_frames(sample["video"], idx), params)
                assert sample["label"] == item["target"]
            else:
                got = ds[item["index"]]
                clip = got["clip"]
                _exact(ds.samples[item["index"]]["frame_indices"][:1], item["frame_indices"][:1])
                want_target = sample["video_id"] if phase == "test" else sample["label"]
                assert want_target == item["target"]
            assert_matches(clip, item["clip"], **_tol(fx), context=f"{phase} {item['index']}")


# ==================================================================================== tools
@check("ucf101_json")
def _ucf(fx: dict, tmp: Path) -> None:
    files = fx["inputs"]["files"]
    for name, text in files.items():
        (tmp / name).write_bytes(text.encode())
    for name, want in fx["outputs"]["parsed"].items():
        split = int(name.split("_")[1][:2])
        got = T.ucf101_json({n: (tmp / n).read_bytes().decode() for n in files}, split)
        _exact(got, want, name)
        _exact(T.json.dumps(got), fx["outputs"]["files"][name], name)


@check("hmdb51_json")
def _hmdb(fx: dict, tmp: Path) -> None:
    files = dict(fx["inputs"]["files"])
    out = fx["outputs"]
    for run in ("first_run", "second_run"):
        listing = sorted(files)
        written = {}
        for name, want in out[f"parsed_{run}"].items():
            split = int(name.split("_")[1].split(".")[0])
            got = T.hmdb51_json(
                {n: files[n] for n in files if n.endswith(".txt")}, split, lineage=True, listing=listing
            )
            _exact(got, want, f"{run} {name}")
            _exact(T.json.dumps(got), out[f"files_{run}"][name])
            written[name] = T.json.dumps(got)
            listing = sorted([*listing, name]) if name not in listing else listing
        files.update(written)
    # the fix: labels from the split files only, identical for every split and run
    fixed = [T.hmdb51_json(dict(fx["inputs"]["files"]), k) for k in (1, 2, 3)]
    assert all(f["labels"] == out["parsed_first_run"]["hmdb51_1.json"]["labels"] for f in fixed)
    assert "" not in fixed[1]["labels"]
    keys = set(fixed[0]["database"])
    assert any(k.startswith("Mr._Bean") for k in keys) and "Mr" not in keys  # whole stem as key


@check("kinetics_json")
def _kinetics(fx: dict, _tmp: Path) -> None:
    f = fx["inputs"]["files"]
    args = (f["kinetics_train.csv"], f["kinetics_val.csv"], f["kinetics_test.csv"])
    got = T.kinetics_json(*args, lineage=True)
    _exact(got, fx["outputs"]["parsed"])
    _exact(T.json.dumps(got), fx["outputs"]["json_text"])
    fixed = T.kinetics_json(*args)
    assert fixed["labels"] == sorted(fx["outputs"]["parsed"]["labels"])
    assert fixed["database"] == fx["outputs"]["parsed"]["database"]


@check("n_frames")
def _n_frames(fx: dict, tmp: Path) -> None:
    for folder, names in fx["inputs"]["folders"].items():
        path = tmp / folder
        path.mkdir(parents=True)
        for name in names:
            (path / name).write_bytes(b"")
    for script, want in fx["outputs"]["n_frames_text"].items():
        T.write_n_frames_tree(tmp)
        got = {folder: (tmp / folder / "n_frames").read_text() for folder in want}
        _exact(got, want, script)


@check("fps")
def _fps(fx: dict, tmp: Path) -> None:
    for case in fx["inputs"]["cases"]:
        stem = case["video"].rsplit(".", 1)[0]
        entries = [f"image_{k + 1:05d}.jpg" for k in range(case["n_image_files"])] + list(case["other_files"])
        got = T.lineage_fps_text(entries, case["ffprobe_stderr"])
        assert got == fx["outputs"]["fps_text"][stem], case
    # the fix: frames over the exact duration (13 frames in 0.52 s -> 25.0, the lineage said 26.0)
    assert T.fps_text(13, 0.52) == "25.0\n"


@check("video_jpg_extraction")
def _extraction(fx: dict, tmp: Path) -> None:
    from videokd.data.synthetic import write_video

    cfg = fx["config"]
    w, h = cfg["video_wh"]
    rng = np.random.default_rng(0)
    for script, videos in fx["inputs"]["videos"].items():
        exp = fx["outputs"]["results"][script]
        # source / destination folders and the frame height from the recorded command lines
        first = shlex.split(exp["commands"][0].replace("<TMP>", str(tmp)))
        src = videos[0].split("/")[0]
        dst = Path(first[-1]).relative_to(tmp).parts[0]
        height = int(first[first.index("-vf") + 1].split(":")[1])
        layout = "flat" if script.endswith("/video_jpg.py") else "classes"
        for rel in videos:
            path = tmp / rel
            if path.suffix.lower() in T.VIDEO_EXTENSIONS:
                frames = rng.integers(0, 255, (cfg["n_frames"], h, w, 3), dtype=np.uint8)
                write_video(path, frames, fps=cfg["frame_rate"])
            else:  # not a video: skipped by the tools
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("not a video")
        cmds = T.lineage_commands(str(tmp / src), str(tmp / dst), layout=layout, height=height)
        want = [shlex.split(c.replace("<TMP>", str(tmp))) for c in exp["commands"]]
        _exact(sorted(cmds), sorted(want), script)
        report = T.extract_tree(tmp / src, tmp / dst, layout=layout, height=height, workers=1, progress=False)
        assert not report.failed, report.failed
        produced = {}
        for folder in sorted(p for p in (tmp / dst).rglob("*") if (p / "image_00001.jpg").is_file()):
            from PIL import Image

            with Image.open(folder / "image_00001.jpg") as im:
                size = list(im.size)
            files = sorted(n.name for n in folder.iterdir() if n.name.startswith("image_"))
            produced[str(folder.relative_to(tmp / dst))] = {"files": files, "first_frame_wh": size}
        _exact(produced, exp["produced"], script)
        # resumable: a second run skips every finished video
        again = T.extract_tree(tmp / src, tmp / dst, layout=layout, height=height, workers=1, progress=False)
        assert not again.done and len(again.skipped) == len(report.done)


# ==================================================================================== metrics
@check("clip_accuracy")
def _clip_accuracy(fx: dict, _tmp: Path) -> None:
    inp, out = fx["inputs"], fx["outputs"]
    got = [E.clip_accuracy(c["outputs"], c["targets"]) for c in inp["accuracy_cases"]]
    assert_matches(got, out["accuracy"], **_tol(fx))
    val = E.ValEpoch()
    per_batch = [val.update(b["outputs"], b["targets"]) for b in inp["val_batches"]]
    assert_matches(per_batch, out["val_per_batch"], **_tol(fx))
    epoch = val.compute()
    assert_matches(epoch["loss"], out["val_epoch_loss"], **_tol(fx))
    text = E.val_log_text([{"epoch": fx["config"]["epoch"], **epoch}])
    got_rows = [line.split("\t") for line in text.splitlines()]
    want_rows = [line.split("\t") for line in out["val_log_text"].splitlines()]
    assert got_rows[0] == want_rows[0]
    assert_matches([float(x) for x in got_rows[1]], [float(x) for x in want_rows[1]], **_tol(fx))


@check("test_video_aggregation")
def _aggregation(fx: dict, _tmp: Path) -> None:
    inp, cfg, out = fx["inputs"], fx["config"], fx["outputs"]
    args = (inp["clip_logits"], inp["clip_video_ids"], inp["class_names"])
    for no_softmax, key in zip(
        cfg["no_softmax_in_test"], ("results_json_with_trailing_sentinel_clip", "results_json_no_softmax")
    ):
        got = E.video_results(*args, softmax=not no_softmax, top_k=cfg["top_k"])
        want = out[key]["results"]
        assert set(want) <= set(got)
        assert_matches({v: got[v] for v in want}, want, **_tol(fx), context=key)
    # every video is written (fixed); the lineage's output misses the last one (compat switch)
    got = E.video_results(*args, top_k=cfg["top_k"], drop_last=True)
    assert_matches(got, out["results_json"]["results"], **_tol(fx))
    full = E.video_results(*args, top_k=cfg["top_k"])
    assert list(full)[-1] == inp["clip_video_ids"][-1]
    # fewer classes than top_k: clamped (the lineage crashed)
    assert "out of range" in out["fewer_than_10_classes"]
    few = E.video_results(inp["clip_logits"][:, :3], inp["clip_video_ids"], inp["class_names"], top_k=10)
    assert all(len(v) == 3 for v in few.values())


@check("video_level_accuracy")
def _video_accuracy(fx: dict, _tmp: Path) -> None:
    inp, cfg, out = fx["inputs"], fx["config"], fx["outputs"]
    for k in cfg["top_k"]:
        got = {
            "ucf101": E.video_accuracy(inp["ground_truth"], inp["prediction"]["results"], subset=cfg["subset"], k=k),
            "hmdb51": E.video_accuracy(
                inp["ground_truth"], inp["prediction"]["results"], subset=cfg["subset"], dataset="hmdb51", k=k
            ),
            "kinetics": E.video_accuracy(
                inp["ground_truth_kinetics"],
                inp["prediction_kinetics"]["results"],
                subset=cfg["subset"],
                dataset="kinetics",
                k=k,
            ),
        }
        assert_matches(got, out[f"top_{k}"], **_tol(fx), context=f"top_{k}")
