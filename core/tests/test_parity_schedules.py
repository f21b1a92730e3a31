"""Parity of the engine's schedules and generic optimizer steps with the five originals.

Reads every fixture of kind ``schedule`` / ``optimizer_step`` under ``$PARITY_ROOT/<pkg>/`` and
dispatches on its name. Fixtures that need a paper's model or pin a loss-weight schedule belong to
the package / losses tests and are listed in ``OWNED_ELSEWHERE``; a schedule or optimizer fixture
that is in neither table fails ``test_every_schedule_fixture_is_dispatched`` instead of silently
going untested. All sizes and hyper-parameters come from each fixture.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from videokd.engine import (
    BertAdam,
    ParamScheduler,
    PlateauScheduler,
    build_optimizer,
    cosine_schedule,
    ema_update,
    held_every,
    param_groups,
    teacher_temp_schedule,
    warmup_cosine,
    warmup_linear,
)
from videokd.testing import assert_matches, fixture_files, load_fixture

PACKAGES = ("dldkd", "kiclip", "tdsclip", "xkd", "kd2d3d")
KINDS = ("schedule", "optimizer_step")

# name -> why it is tested elsewhere
OWNED_ELSEWHERE = {
    ("dldkd", "schedule_kd_weight"): "KD-weight schedule: videokd.losses (losses helper)",
    ("dldkd", "schedule_pp"): "DL-DKD++ distill/alpha/belta schedules: videokd.losses (losses helper)",
    ("tdsclip", "optimizer_step"): "needs the TDS-CLIP model forward: tdsclip package",
    ("xkd", "xkd_train_step"): "needs the XKD model forward: xkd package",
}


def _tol(fx: dict) -> dict:
    return {"atol": float(fx.get("atol", 0.0)), "rtol": float(fx.get("rtol", 0.0))}


# ---------------------------------------------------------------------------------------- dldkd


def check_schedule_lr_warmup_linear(fx: dict) -> None:
    got = []
    for case, steps in zip(fx["inputs"]["cases_config"], fx["inputs"]["steps"]):
        t_total, warmup = case["t_total"], case["lr_warmup_proportion"]
        got.append(torch.tensor([warmup_linear(int(s) / t_total, warmup) for s in steps], dtype=torch.float64))
        # the same multiplier as BertAdam applies it
        assert BertAdam.multiplier(int(steps[-1]), t_total=t_total, warmup=warmup) == got[-1][-1].item()
    assert_matches(got, fx["outputs"]["multiplier"], **_tol(fx), context=fx["name"])


def _params_from(names: list[str], init: dict[str, torch.Tensor]) -> list[tuple[str, nn.Parameter]]:
    return [(n, nn.Parameter(init[n].clone())) for n in names]


def check_optimizer_step_bertadam(fx: dict) -> None:
    cfg, inp, out = fx["config"], fx["inputs"], fx["outputs"]
    named = _params_from(inp["param_names"], inp["init_params"])
    groups = param_groups(named, weight_decay=cfg["weight_decay"], no_decay=list(cfg["no_decay_substrings"]))
    decay_of = {n: g["weight_decay"] for g in groups for n in g["param_names"]}
    assert_matches(decay_of, inp["weight_decay_per_param"], atol=0.0, rtol=0.0, context="weight_decay_per_param")
    opt = build_optimizer(
        "bertadam",
        groups,
        lr=cfg["lr"],
        betas=(cfg["b1"], cfg["b2"]),
        eps=cfg["e"],
        weight_decay=cfg["weight_decay"],
        warmup=cfg["warmup"],
        t_total=cfg["t_total"],
        schedule=cfg["schedule"],
        max_grad_norm=cfg["max_grad_norm"],
    )
    assert isinstance(opt, BertAdam)
    params = dict(named)
    got = {k: [] for k in out}
    for grads in inp["grads_per_step"]:
        for name, p in params.items():
            g = grads[name]
            p.grad = None if g is None else g.clone()
        opt.step()
        got["grad_after_clip"].append({n: (None if p.grad is None else p.grad.clone()) for n, p in params.items()})
        got["params_after_step"].append({n: p.detach().clone() for n, p in params.items()})
        got["next_m_after_step"].append(
            {n: (opt.state[p]["next_m"].clone() if p in opt.state else None) for n, p in params.items()}
        )
        got["next_v_after_step"].append(
            {n: (opt.state[p]["next_v"].clone() if p in opt.state else None) for n, p in params.items()}
        )
        got["step_count_after_step"].append(
            {n: (opt.state[p]["step"] if p in opt.state else 0) for n, p in params.items()}
        )
    assert_matches(got, out, **_tol(fx), context=fx["name"])


# --------------------------------------------------------------------------------------- kiclip


def check_kiclip_lr_schedule(fx: dict) -> None:
    cfg = fx["config"]

    def lr_at(x: float) -> float:
        lr = warmup_cosine(
            x,
            base=cfg["SOLVER.BASE_LR"],
            final=cfg["SOLVER.COSINE_END_LR"],
            total=cfg["SOLVER.MAX_EPOCH"],
            warmup=cfg["SOLVER.WARMUP_EPOCHS"],
            warmup_start=cfg["SOLVER.WARMUP_START_LR"],
            cosine_after_warmup=cfg["SOLVER.COSINE_AFTER_WARMUP"],
        )
        return lr * cfg.get("layer_decay", 1.0) * cfg.get("lr_factor", 1.0)

    assert cfg["SOLVER.LR_POLICY"] == "cosine"
    iters = int(cfg["iters_per_epoch"])
    # drive it the way the loop does: a ParamScheduler on global steps g -> lr(g / iters)
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.0)
    sched = ParamScheduler(opt, lambda g: lr_at(g / iters), key="lr")
    n = fx["inputs"]["epoch_exact"].numel()
    per_iter = []
    for g in range(n):
        sched.step(g)
        per_iter.append(opt.param_groups[0]["lr"])
    # the fixture's fractional epochs are the same g / iters
    assert_matches(
        torch.tensor([g / iters for g in range(n)], dtype=torch.float64),
        fx["inputs"]["epoch_exact"],
        atol=1e-15,
        rtol=0.0,
    )
    got = {
        "lr": torch.tensor(per_iter, dtype=torch.float64),
        "probe_lr": torch.tensor([lr_at(float(x)) for x in fx["inputs"]["probe_epochs"]], dtype=torch.float64),
    }
    assert_matches(got, fx["outputs"], **_tol(fx), context=fx["name"])


# -------------------------------------------------------------------------------------- tdsclip


def check_tdsclip_lr_schedule(fx: dict) -> None:
    cfg, inp, out = fx["config"], fx["inputs"], fx["outputs"]
    assert cfg["solver.type"] == "cosine" and int(cfg["warmup_powers"]) == 1
    lr, accum = cfg["solver.lr"], int(cfg["solver.grad_accumulation_steps"])
    # TDS-CLIP's three groups (visual, fc, side BN) and their base lrs
    base = [lr * cfg["solver.clip_ratio"], lr, lr if cfg["network.sync_bn"] else lr / accum]
    epochs, iters = int(inp["epochs"]), int(inp["iters_per_epoch"])

    def factor(e: float) -> float:
        return warmup_cosine(
            e,
            base=1.0,
            final=cfg["final_factor"],
            total=epochs,
            warmup=cfg["solver.lr_warmup_step"],
            warmup_start=cfg["warmup_lrs"],
        )

    opt = torch.optim.AdamW([{"params": [nn.Parameter(torch.zeros(1))], "lr": b} for b in base])
    sched = ParamScheduler(opt, held_every(factor, iters_per_epoch=iters, every=10), key="lr", mode="factor")
    lr_per_iter = []
    for g in range(epochs * iters):
        sched.step(g)
        lr_per_iter.append([pg["lr"] for pg in opt.param_groups])
    step_iters = [e * iters + i for e in range(epochs) for i in range(iters) if i == 0 or (i + 1) % 10 == 0]
    got = {
        "group_base_lrs": base,
        "lr_after_construction": [b * factor(0.0) for b in base],
        "lr_per_iter": torch.tensor(lr_per_iter, dtype=torch.float64),
        "scheduler_step_iters": step_iters,
        "scheduler_step_args": [g // iters + (g % iters) / iters for g in step_iters],
        # upstream steps the optimizer when (i + 1) % accum == 0 within the epoch (no end-of-epoch flush)
        "optimizer_step_iters": [e * iters + i for e in range(epochs) for i in range(iters) if (i + 1) % accum == 0],
        "probe_lrs": torch.tensor(
            [[b * factor(float(x)) for b in base] for x in inp["probe_epochs"]], dtype=torch.float64
        ),
    }
    assert_matches(got, out, **_tol(fx), context=fx["name"])


# ------------------------------------------------------------------------------------------ xkd


def _cosine_from(case: dict) -> torch.Tensor:
    return cosine_schedule(
        case["base_value"],
        case["final_value"],
        case["epochs"],
        case["niter_per_ep"],
        case["warmup_epochs"],
        case["start_warmup_value"],
    )


def check_xkd_cosine(fx: dict) -> None:
    inp = fx["inputs"]
    if "cases" in inp:
        got = {"schedules": [_cosine_from(c) for c in inp["cases"]]}
    else:
        got = {"schedule": _cosine_from(inp)}
    assert_matches(got, fx["outputs"], **_tol(fx), context=fx["name"])
    if fx["name"] == "schedule_weight_decay":
        # applied to group 1 only (group 0 is the no-decay group)
        values = got["schedules"][-1]
        opt = torch.optim.AdamW(
            [
                {"params": [nn.Parameter(torch.zeros(1))], "weight_decay": 0.0},
                {"params": [nn.Parameter(torch.zeros(1))]},
            ]
        )
        sched = ParamScheduler(opt, values, key="weight_decay", groups=[1])
        sched.step(len(values) - 1)
        assert opt.param_groups[0]["weight_decay"] == 0.0
        assert opt.param_groups[1]["weight_decay"] == pytest.approx(float(values[-1]), abs=1e-15)


def check_xkd_teacher_temp(fx: dict) -> None:
    got = []
    for case in fx["inputs"]["cases"]:
        epochs = int(case["hyperparams.num_epochs"])
        entry = {}
        for modality in ("video", "audio"):
            kw = case[f"model.{modality}_temp_kwargs"]
            entry[f"{modality}_teacher_temp_schedule"] = teacher_temp_schedule(
                kw["warmup_teacher_temp"], kw["teacher_temp"], int(kw["warmup_teacher_temp_epochs"]), epochs
            )
            entry[f"{modality}_student_temp_schedule"] = torch.full(
                (epochs,), float(kw["student_temp"]), dtype=torch.float64
            )
        got.append(entry)
    assert_matches({"schedules": got}, fx["outputs"], **_tol(fx), context=fx["name"])


def _module_tree(state: dict[str, torch.Tensor]) -> nn.Module:
    """Rebuild a module hierarchy from dotted state-dict names; tensors that share storage in the
    fixture (tied/shared blocks) become the *same* Parameter object, as in the original model."""
    root = nn.Module()
    shared: dict[tuple, nn.Parameter] = {}
    for name, tensor in state.items():
        *path, leaf = name.split(".")
        mod = root
        for part in path:
            if not hasattr(mod, part):
                mod.add_module(part, nn.Module())
            mod = getattr(mod, part)
        key = (
            tensor.untyped_storage().data_ptr(),
            tensor.storage_offset(),
            tuple(tensor.shape),
            tuple(tensor.stride()),
        )
        if key not in shared:
            shared[key] = nn.Parameter(tensor.clone(), requires_grad=False)
        mod.register_parameter(leaf, shared[key])
    return root


def check_xkd_ema_update(fx: dict) -> None:
    model = _module_tree(fx["state_dict"])
    vm, am = float(fx["inputs"]["vm"]), float(fx["inputs"]["am"])
    ema_update(model.vid_teacher, model.vid_student, vm)
    ema_update(model.aud_teacher, model.aud_student, am)
    expected = fx["outputs"]["teacher_state_after"]
    after = dict(model.named_parameters(remove_duplicate=False))
    got = {k: after[k].detach() for k in expected}
    assert_matches(got, expected, **_tol(fx), context=fx["name"])


# --------------------------------------------------------------------------------------- kd2d3d


def check_reduce_lr_on_plateau(fx: dict) -> None:
    for case, exp in fx["outputs"].items():
        losses = fx["inputs"][case]["validation_losses"]
        args = exp["scheduler"]
        # groups with lr 0 are the frozen fine-tuning groups (lr 0 from the start, never reduced);
        # every other group starts at the configured learning rate
        first = exp["lr_after_each_step"][0]
        init = [fx["config"]["learning_rate"] if v > 0 else 0.0 for v in first]
        assert len(init) == exp["n_param_groups"]
        opt = torch.optim.SGD(
            [{"params": [nn.Parameter(torch.zeros(1))], "lr": lr} for lr in init], lr=fx["config"]["learning_rate"]
        )
        sched = PlateauScheduler(
            opt,
            monitor="val/loss",
            mode=args["mode"],
            factor=args["factor"],
            patience=args["patience"],
            threshold=args["threshold"],
            threshold_mode=args["threshold_mode"],
            cooldown=args["cooldown"],
            min_lr=list(args["min_lrs"]),
            eps=args["eps"],
        )
        lrs, bad, best = [], [], []
        for loss in losses:
            sched.step_epoch({"val/loss": loss})
            lrs.append([g["lr"] for g in opt.param_groups])
            bad.append(sched.num_bad_epochs)
            best.append(sched.best)
        state = sched.state_dict()
        got = {
            "lr_after_each_step": lrs,
            "num_bad_epochs": bad,
            "best": best,
            "scheduler": {
                k: state[k]
                for k in ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lrs", "eps")
            },
            "n_param_groups": len(opt.param_groups),
        }
        assert_matches(got, exp, **_tol(fx), context=f"{fx['name']}[{case}]")


def check_sgd_train_steps(fx: dict) -> None:
    for variant, run in fx["outputs"]["runs"].items():
        inp = fx["inputs"][variant]
        named = _params_from(inp["parameter_order"], inp["initial_params"])
        # each variant carries its own hyper-parameters (its argv): take them from its recorded groups
        # (momentum, dampening, weight decay, nesterov) and per-parameter learning rates
        hyper = run["optimizer"]["param_groups"][0]
        per_param_lr = run["steps"][0]["lr_per_parameter"]
        lr = max(per_param_lr.values()) or fx["config"]["learning_rate"]
        groups = param_groups(
            named, weight_decay=hyper["weight_decay"], lr=lr, no_decay=None, lr_mult=lambda n: per_param_lr[n] / lr
        )
        nesterov = bool(hyper["nesterov"])
        assert nesterov == ("--nesterov" in inp["argv"])
        opt = build_optimizer(
            "sgd",
            groups,
            lr=lr,
            momentum=hyper["momentum"],
            dampening=hyper["dampening"],
            weight_decay=hyper["weight_decay"],
            nesterov=nesterov,
        )
        exp_group = run["optimizer"]["param_groups"][0]
        assert (
            opt.param_groups[0]["dampening"] == exp_group["dampening"]
            and opt.param_groups[0]["nesterov"] == exp_group["nesterov"]
        )
        params = dict(named)
        got_steps = []
        for step in run["steps"]:
            before = {n: p.detach().clone() for n, p in params.items()}
            for n, p in params.items():
                p.grad = step["grads"][n].clone()
            opt.step()
            got_steps.append(
                {
                    "params_before": before,
                    "params_after": {n: p.detach().clone() for n, p in params.items()},
                    "momentum_buffer_after": {n: opt.state[p]["momentum_buffer"].clone() for n, p in params.items()},
                    "lr_per_parameter": {n: g["lr"] for g in opt.param_groups for n in g["param_names"]},
                }
            )
        expected = [{k: s[k] for k in got_steps[0]} for s in run["steps"]]
        assert_matches(got_steps, expected, **_tol(fx), context=f"{fx['name']}[{variant}]")


DISPATCH = {
    ("dldkd", "schedule_lr_warmup_linear"): check_schedule_lr_warmup_linear,
    ("dldkd", "optimizer_step_bertadam"): check_optimizer_step_bertadam,
    ("kiclip", "lr_schedule"): check_kiclip_lr_schedule,
    ("kiclip", "lr_schedule_no_offset"): check_kiclip_lr_schedule,
    ("tdsclip", "lr_schedule"): check_tdsclip_lr_schedule,
    ("xkd", "schedule_lr"): check_xkd_cosine,
    ("xkd", "schedule_weight_decay"): check_xkd_cosine,
    ("xkd", "schedule_ema_momentum"): check_xkd_cosine,
    ("xkd", "schedule_teacher_temp"): check_xkd_teacher_temp,
    ("xkd", "ema_update_xkd"): check_xkd_ema_update,
    ("xkd", "ema_update_mas"): check_xkd_ema_update,
    ("xkd", "ema_update_mats"): check_xkd_ema_update,
    ("kd2d3d", "reduce_lr_on_plateau"): check_reduce_lr_on_plateau,
    ("kd2d3d", "sgd_train_steps"): check_sgd_train_steps,
}


def _cases() -> list:
    cases = []
    for pkg in PACKAGES:
        for path in fixture_files(pkg, missing_ok=True):
            if (pkg, path.stem) in DISPATCH:
                cases.append(pytest.param(pkg, path, id=f"{pkg}/{path.stem}"))
    return cases


CASES = _cases()


@pytest.mark.skipif(not CASES, reason="no parity fixtures found (set PARITY_ROOT)")
@pytest.mark.parametrize("pkg,path", CASES)
def test_parity_schedule(pkg: str, path: Path) -> None:
    fx = load_fixture(path)
    assert fx["name"] == path.stem, f"{path}: name {fx['name']!r} != file stem"
    DISPATCH[(pkg, fx["name"])](fx)


@pytest.mark.filterwarnings("ignore:Validating sparse tensor invariants")
def test_every_schedule_fixture_is_dispatched() -> None:
    found = 0
    for pkg in PACKAGES:
        for path in fixture_files(pkg, missing_ok=True):
            fx = load_fixture(path)
            if fx["kind"] not in KINDS:
                continue
            found += 1
            key = (pkg, fx["name"])
            assert key in DISPATCH or key in OWNED_ELSEWHERE, (
                f"{path}: {fx['kind']} fixture {fx['name']!r} is neither tested here nor owned elsewhere"
            )
    if found == 0:
        pytest.skip("no parity fixtures found (set PARITY_ROOT)")


def test_warmup_linear_shape() -> None:
    # rises to 1 at the warm-up fraction, falls to 0 at t_total, stays 0 after
    assert warmup_linear(0.0, 0.1) == 0.0
    assert warmup_linear(0.1, 0.1) == pytest.approx(1.0)
    assert warmup_linear(1.0, 0.1) == 0.0 and warmup_linear(1.5, 0.1) == 0.0
    assert math.isclose(warmup_linear(0.55, 0.1), 0.5)
