"""Optimisation helpers: parameter groups, optimizers (incl. BertAdam), clipping, EMA teachers.

* :func:`param_groups` splits trainable parameters into weight-decay / no-decay groups and
  per-pattern lr multipliers. The papers' rules:

  - KICLIP, XKD pre-training: ``no_decay="1d_and_bias"`` (1-D tensors and ``*.bias``; a 0-d
    ``logit_scale`` *is* decayed), XKD puts the no-decay group first (``no_decay_first=True``);
  - DL-DKD (BertAdam): ``no_decay=("bias", "LayerNorm.bias", "LayerNorm.weight")`` (substrings);
  - TDS-CLIP, kd2d3d: ``no_decay=None`` (everything decays), lr multipliers by name
    (``lr_mult={"visual": clip_ratio}``; kd2d3d fine-tuning: ``lr_mult=lambda n: ...`` giving 0
    below ``ft_begin_index``); layer-wise decay (XKD fine-tuning) is a callable ``lr_mult`` too.

* :func:`build_optimizer` builds ``sgd`` / ``adamw`` / ``adam`` / ``bertadam`` from config values.
* :class:`BertAdam` is the HF ``pytorch-pretrained-bert`` optimizer DL-DKD trains with.
* :func:`clip_grad_norm` (global L2 norm, what KICLIP does) and :func:`clip_grad_norm_per_tensor`
  (DINO/XKD: every tensor separately).
* :func:`ema_update` moves a teacher towards a student, pairing tensors by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Callable, Optional, Union

import torch
from torch import nn

from .schedules import warmup_linear

__all__ = [
    "param_groups",
    "build_optimizer",
    "BertAdam",
    "clip_grad_norm",
    "clip_grad_norm_per_tensor",
    "ema_update",
]

NoDecayRule = Union[None, str, Sequence[str], Callable[[str, torch.Tensor], bool]]
LrMult = Union[None, Mapping[str, float], Callable[[str], float]]


def _named(model_or_named: Union[nn.Module, Iterable[tuple[str, torch.Tensor]]]) -> list[tuple[str, torch.Tensor]]:
    if isinstance(model_or_named, nn.parallel.DistributedDataParallel):
        model_or_named = model_or_named.module
    if isinstance(model_or_named, nn.Module):
        return list(model_or_named.named_parameters())
    return list(model_or_named)


def _no_decay_fn(rule: NoDecayRule) -> Callable[[str, torch.Tensor], bool]:
    if rule is None:
        return lambda name, p: False
    if callable(rule):
        return rule
    if isinstance(rule, str):
        if rule == "1d_and_bias":
            return lambda name, p: p.ndim == 1 or name.endswith(".bias")
        if rule == "norm_bias_embedding":
            # a common default: biases, 1-D (norm) weights, and anything named like an embedding/token
            embedding = re.compile(r"(pos_embed|embedding|cls_token|mask_token)")
            return lambda name, p: p.ndim <= 1 or name.endswith(".bias") or bool(embedding.search(name))
        raise ValueError(
            f"unknown no_decay rule {rule!r}; use '1d_and_bias', 'norm_bias_embedding', a list of substrings, a callable or None"
        )
    subs = tuple(rule)
    return lambda name, p: any(s in name for s in subs)


def _lr_mult_fn(rule: LrMult) -> Callable[[str], float]:
    if rule is None:
        return lambda name: 1.0
    if callable(rule):
        return rule
    table = [(re.compile(pattern), float(mult)) for pattern, mult in rule.items()]

    def lookup(name: str) -> float:
        for pattern, mult in table:  # first matching pattern wins
            if pattern.search(name):
                return mult
        return 1.0

    return lookup


def param_groups(
    model_or_named: Union[nn.Module, Iterable[tuple[str, torch.Tensor]]],
    *,
    weight_decay: float,
    lr: Optional[float] = None,
    no_decay: NoDecayRule = "1d_and_bias",
    lr_mult: LrMult = None,
    no_decay_first: bool = False,
    include_frozen: bool = False,
) -> list[dict[str, Any]]:
    """Optimizer parameter groups by (decay?, lr multiplier).

    Args:
        model_or_named: a module (``named_parameters()`` order, aliases once) or ``(name, param)`` pairs.
        weight_decay: the decay of decaying groups (no-decay groups get 0).
        lr: base lr; each group gets ``lr * lr_mult`` (omit to take the optimizer's default).
        no_decay: ``"1d_and_bias"``, ``"norm_bias_embedding"``, a list of name substrings, a
            ``(name, param) -> bool`` callable, or ``None`` (all decay).
        lr_mult: ``{regex: mult}`` (first ``re.search`` match wins, others 1) or ``name -> mult``.
        no_decay_first: put no-decay groups before decay groups (XKD); otherwise groups appear in
            the order their first parameter does.
        include_frozen: also list ``requires_grad=False`` parameters (they get no gradient anyway).
    Returns:
        ``[{"params", "param_names", "weight_decay", "lr_mult", "name"[, "lr"]}, ...]`` - the
        names make optimizer state dicts self-describing.
    """
    is_no_decay = _no_decay_fn(no_decay)
    mult_of = _lr_mult_fn(lr_mult)
    groups: dict[tuple[bool, float], dict[str, Any]] = {}
    for name, p in _named(model_or_named):
        if not p.requires_grad and not include_frozen:
            continue
        decays = not is_no_decay(name, p)
        mult = float(mult_of(name))
        key = (decays, mult)
        if key not in groups:
            label = ("decay" if decays else "no_decay") + ("" if mult == 1.0 else f"/lr_x{mult:g}")
            groups[key] = {
                "params": [],
                "param_names": [],
                "weight_decay": float(weight_decay) if decays else 0.0,
                "lr_mult": mult,
                "name": label,
            }
            if lr is not None:
                groups[key]["lr"] = float(lr) * mult
        groups[key]["params"].append(p)
        groups[key]["param_names"].append(name)
    out = list(groups.values())
    if not out:
        raise ValueError("param_groups: the model has no trainable parameters")
    if no_decay_first:
        out.sort(key=lambda g: g["name"].startswith("decay"))  # stable: False (no-decay) first
    return out


def build_optimizer(
    name: str,
    params: Union[Iterable[torch.Tensor], Iterable[dict[str, Any]]],
    *,
    lr: float,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    dampening: float = 0.0,
    nesterov: bool = False,
    betas: Sequence[float] = (0.9, 0.999),
    eps: float = 1e-8,
    **extra: Any,
) -> torch.optim.Optimizer:
    """Build ``sgd`` / ``adam`` / ``adamw`` / ``bertadam`` with config-style arguments.

    Group dicts (from :func:`param_groups`) keep their own ``weight_decay``/``lr``. For SGD,
    ``nesterov=True`` forces ``dampening=0`` (torch requires it; the kd2d3d lineage did the same).
    ``extra`` goes to the optimizer (e.g. BertAdam's ``warmup``, ``t_total``, ``max_grad_norm``).
    """
    key = name.lower()
    params = list(params)
    if key == "sgd":
        return torch.optim.SGD(
            params,
            lr=lr,
            momentum=momentum,
            dampening=0.0 if nesterov else dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            **extra,
        )
    if key == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, **extra)
    if key == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, **extra)
    if key == "bertadam":
        b1, b2 = betas
        return BertAdam(params, lr=lr, b1=b1, b2=b2, e=eps, weight_decay=weight_decay, **extra)
    raise ValueError(f"unknown optimizer {name!r}; choose sgd, adam, adamw or bertadam")


class BertAdam(torch.optim.Optimizer):
    """Adam as in HF ``pytorch-pretrained-bert`` (DL-DKD's optimizer).

    Per parameter, each step: clip *that tensor's* gradient to ``max_grad_norm``; update the moments
    ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2`` (no bias correction); ``u = m / (sqrt(v) + e)
    + weight_decay * p`` (decoupled decay); ``p -= lr * warmup_linear(step / t_total, warmup) * u``,
    where ``step`` is the parameter's own counter *before* it is incremented (so the first update
    uses multiplier 0) and a parameter without gradient keeps its counter. ``t_total=-1`` disables
    the schedule. The gradient clipping modifies ``p.grad`` in place, as upstream did.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        warmup: float = -1,
        t_total: int = -1,
        schedule: str = "warmup_linear",
        b1: float = 0.9,
        b2: float = 0.999,
        e: float = 1e-6,
        weight_decay: float = 0.01,
        max_grad_norm: float = 1.0,
    ) -> None:
        if lr < 0.0:
            raise ValueError(f"invalid learning rate {lr}")
        if schedule != "warmup_linear":
            raise ValueError(f"BertAdam: only the 'warmup_linear' schedule is implemented, got {schedule!r}")
        if not 0.0 <= warmup < 1.0 and warmup != -1:
            raise ValueError(f"invalid warmup {warmup}: should be in [0.0, 1.0) or -1")
        if not 0.0 <= b1 < 1.0 or not 0.0 <= b2 < 1.0:
            raise ValueError(f"invalid b1/b2 {b1}/{b2}: should be in [0.0, 1.0)")
        if e < 0.0:
            raise ValueError(f"invalid epsilon {e}")
        defaults = dict(
            lr=lr,
            schedule=schedule,
            warmup=warmup,
            t_total=t_total,
            b1=b1,
            b2=b2,
            e=e,
            weight_decay=weight_decay,
            max_grad_norm=max_grad_norm,
        )
        super().__init__(params, defaults)

    @staticmethod
    def multiplier(step: int, *, t_total: int, warmup: float) -> float:
        """The schedule factor for a parameter whose counter is ``step``."""
        if t_total == -1:
            return 1.0
        return warmup_linear(step / t_total, warmup)

    def get_lr(self) -> list[float]:
        """Current scheduled lr of the first parameter of each group (for logging)."""
        lrs = []
        for group in self.param_groups:
            state = self.state.get(group["params"][0], {}) if group["params"] else {}
            lrs.append(
                group["lr"]
                * self.multiplier(int(state.get("step", 0)), t_total=group["t_total"], warmup=group["warmup"])
            )
        return lrs

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], torch.Tensor]] = None) -> Optional[torch.Tensor]:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if grad.is_sparse:
                    raise RuntimeError("BertAdam does not support sparse gradients")
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["next_m"] = torch.zeros_like(p)
                    state["next_v"] = torch.zeros_like(p)
                m, v = state["next_m"], state["next_v"]
                if group["max_grad_norm"] > 0:
                    # per-tensor clipping, exactly clip_grad_norm_ on this one tensor
                    nn.utils.clip_grad_norm_(p, group["max_grad_norm"])
                m.mul_(group["b1"]).add_(grad, alpha=1 - group["b1"])
                v.mul_(group["b2"]).addcmul_(grad, grad, value=1 - group["b2"])
                update = m / (v.sqrt() + group["e"])
                if group["weight_decay"] > 0.0:
                    update += group["weight_decay"] * p
                lr_scheduled = group["lr"] * self.multiplier(
                    state["step"], t_total=group["t_total"], warmup=group["warmup"]
                )
                p.add_(update * lr_scheduled, alpha=-1.0)
                state["step"] += 1
        return loss


def _grads(parameters: Union[torch.Tensor, Iterable[torch.Tensor]]) -> list[torch.Tensor]:
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm(
    parameters: Union[torch.Tensor, Iterable[torch.Tensor]], max_norm: float, *, norm_type: float = 2.0
) -> torch.Tensor:
    """Clip the **global** gradient norm to ``max_norm`` (scale ``min(1, max_norm / (norm + 1e-6))``).

    Returns the total norm before clipping (0-d tensor). Non-finite norms are returned, not
    raised: with fp16 the GradScaler skips such steps.
    """
    return nn.utils.clip_grad_norm_(parameters, max_norm, norm_type=norm_type, error_if_nonfinite=False)


def clip_grad_norm_per_tensor(parameters: Union[torch.Tensor, Iterable[torch.Tensor]], clip: float) -> torch.Tensor:
    """DINO/XKD clipping: every gradient tensor separately to L2 norm ``clip``.

    A tensor with norm ``n`` is multiplied by ``clip / (n + 1e-6)`` when that is below 1. Returns
    the pre-clip norms ``(K,)`` (float32) of the K tensors that have a gradient, in order.
    """
    grads = _grads(parameters)
    if not grads:
        return torch.zeros(0)
    norms = torch.stack(torch._foreach_norm(grads, 2.0)).float()
    coefs = (clip / (norms + 1e-6)).clamp(max=1.0)
    # multiply every tensor by its own coefficient in one fused call (1.0 leaves it bit-identical)
    torch._foreach_mul_(grads, [c.to(g.dtype) for c, g in zip(coefs.unbind(), grads)])
    return norms


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, momentum: float, *, buffers: bool = False) -> None:
    """``theta_t <- m * theta_t + (1 - m) * theta_s`` for every distinct teacher parameter.

    Tensors are paired by name: the teacher's parameter at path ``p`` moves towards the student's
    tensor at the same path (a shared student tensor is found under each of its paths). A tensor
    shared *within* the teacher is updated once per call; one shared *between two teachers*
    updated by two calls moves twice (XKD-MATS' effective momentum ``m_v * m_a``).
    ``buffers=True`` also averages floating-point buffers (BatchNorm statistics).
    """
    student_params = dict(student.named_parameters(remove_duplicate=False))
    t_list, s_list = [], []
    for name, t in teacher.named_parameters():
        s = student_params.get(name)
        if s is None:
            raise KeyError(
                f"ema_update: teacher parameter {name!r} has no student counterpart (student has {len(student_params)} parameters)"
            )
        if s.shape != t.shape:
            raise ValueError(
                f"ema_update: {name!r} is {tuple(t.shape)} in the teacher but {tuple(s.shape)} in the student"
            )
        t_list.append(t)
        s_list.append(s.detach())
    if buffers:
        student_buffers = dict(student.named_buffers(remove_duplicate=False))
        for name, t in teacher.named_buffers():
            if t.is_floating_point() and name in student_buffers:
                t_list.append(t)
                s_list.append(student_buffers[name])
    if not t_list:
        return
    torch._foreach_mul_(t_list, momentum)
    torch._foreach_add_(t_list, s_list, alpha=1.0 - momentum)
