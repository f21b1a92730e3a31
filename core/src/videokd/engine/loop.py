"""The training loop every package uses: :class:`Trainer` (read :meth:`Trainer.fit` top to bottom).

A package supplies the model, the optimizer (``param_groups`` + ``build_optimizer``), a training
loader (``build_train_loader``: seeded, sharded, resumable), and a ``step_fn``::

    def step_fn(model, batch) -> dict[str, Tensor]:
        out = model(batch["video"])
        terms = {"ce": F.cross_entropy(out, batch["label"]), "kd": kd_loss(...)}
        terms["loss"] = terms["ce"] + 0.5 * terms["kd"]   # the total, under "loss"
        return terms

The Trainer runs it under autocast, accumulates gradients, clips, steps (skipping fp16 steps with
inf/nan gradients), applies per-step schedules, calls ``on_step_end`` (e.g. the EMA teacher
update), logs the named terms (rank-averaged) to TensorBoard + ``metrics.jsonl``, evaluates every
``eval_every_epochs`` with ``eval_fn``, keeps ``best.pt`` by ``monitor``, stops early after
``patience`` non-improving evaluations, and writes ``last.pt`` atomically at every epoch end and
every ``ckpt_every_steps`` steps. Starting again with the same ``out_dir`` resumes from
``last.pt`` at the exact step: model, optimizer, GradScaler, schedulers, extra state (EMA teacher,
centres...), epoch, step, position inside the epoch, best metric, and the RNG state of every rank.

Conventions
-----------
* ``step`` counts optimizer steps (0-based when passed to schedules: the schedule value of step
  ``g`` is applied before the ``g``-th update). A gradient-accumulation group is the ``accum``
  consecutive batches ``i`` with ``(i + 1) % accum == 0`` closing it; a partial group at the end
  of an epoch is stepped too (its loss averaged over its own size).
* Hooks (all optional, all called on every rank; only rank 0 should write files from them):

  - ``on_epoch_start(trainer, epoch)``: start of every epoch, including a resumed partial one (set
    per-epoch weights such as the KD weight w(e) there).
  - ``before_optimizer_step(trainer)``: after the accumulated gradients are unscaled (fp16) and
    before clipping and ``optimizer.step()`` (per-tensor clipping of a subset of parameters,
    cancelling gradients of a frozen-for-now layer).
  - ``on_step_end(trainer)``: after each optimizer step, with ``trainer.step`` already counting it
    (the EMA teacher update).
  - ``on_best(trainer, metrics)``: after an evaluation that improved ``monitor`` (strictly), with
    ``trainer.best`` / ``trainer.best_epoch`` updated (write the paper's own best-model file here).
  - ``on_epoch_end(trainer, metrics)``: after every epoch's evaluation and logging, before ``last.pt``
    is written; ``metrics`` holds the epoch's averaged training terms (``epoch/train_<name>``) and
    the evaluation results (a per-epoch text log, a per-epoch eval file).

  ``trainer.eval_epoch`` is the epoch an evaluation belongs to (-1 for ``eval_before_training``).
* ``max_batches_per_epoch`` caps the batches of every epoch (smoke runs, ``--debug``); the schedule
  length a package computes should use :attr:`Trainer.batches_per_epoch`.
* ``eval_fn(model) -> {name: float}`` runs on every rank with the unwrapped model in eval mode
  under ``torch.no_grad()``; it should reduce over ranks itself (``gather_exact`` /
  ``reduce_metrics``). Its names are logged as given (use ``"val/..."``).
* Only rank 0 writes files. ``frozen`` modules (teachers) are set to eval mode and
  ``requires_grad=False``; run their forward under ``torch.no_grad()`` inside ``step_fn``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Union

import torch
from torch import nn

from .checkpoint import CheckpointError, CheckpointManager
from .distributed import DistInfo, all_gather_objects, barrier, get_dist_info, reduce_metrics
from .logger import MetricLogger, Progress
from .optim import clip_grad_norm
from .precision import Precision
from .seed import derive_seed, rng_state, set_rng_state

__all__ = ["TrainConfig", "Trainer", "to_device", "is_step_boundary"]

CHECKPOINT_FORMAT = "videokd.engine/1"


@dataclass
class TrainConfig:
    """What the loop does; every field maps to a config key of the packages.

    Attributes:
        epochs: number of epochs.
        max_steps: stop after this many optimizer steps in total (``None``: no limit).
        grad_accum: batches per optimizer step.
        clip_grad_norm: clip the global gradient L2 norm to this (``None``: no clipping).
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"`` (GradScaler).
        out_dir: run folder (``metrics.jsonl``, TensorBoard events, ``checkpoints/``); ``None``
            writes nothing and cannot resume.
        log_every: optimizer steps between training-metric log records.
        ckpt_every_steps: also write ``last.pt`` every N steps inside an epoch.
        save_every_epochs: keep ``checkpoints/epoch_XXXX.pt`` every N epochs.
        eval_every_epochs: run ``eval_fn`` every N epochs (and after the last one).
        monitor: the ``eval_fn`` metric that picks ``best.pt`` and drives early stopping.
        monitor_mode: ``"max"`` or ``"min"``; improvement is strict (``>`` / ``<``).
        patience: stop when the number of consecutive non-improving evaluations exceeds this.
        resume: continue from ``out_dir/checkpoints/last.pt`` when it exists.
        max_batches_per_epoch: use only the first N batches of every epoch (``None``: all).
        eval_before_training: evaluate once before the first epoch of a fresh run (epoch -1;
            counts for ``best`` like any evaluation, not for early stopping's patience).
        tensorboard / progress: write TensorBoard events / show a progress display (rank 0).
        detect_anomaly: run the epoch under ``torch.autograd.detect_anomaly`` (slow; debugging).
        stop_on_nonfinite: raise when a logged loss is inf/nan (checked at log time, no extra sync).
    """

    epochs: int = 1
    max_steps: Optional[int] = None
    grad_accum: int = 1
    clip_grad_norm: Optional[float] = None
    precision: str = "fp32"
    out_dir: Optional[str] = None
    log_every: int = 10
    ckpt_every_steps: Optional[int] = None
    save_every_epochs: Optional[int] = None
    eval_every_epochs: int = 1
    monitor: Optional[str] = None
    monitor_mode: str = "max"
    patience: Optional[int] = None
    resume: bool = True
    max_batches_per_epoch: Optional[int] = None
    eval_before_training: bool = False
    tensorboard: bool = True
    progress: bool = True
    detect_anomaly: bool = False
    stop_on_nonfinite: bool = True

    def __post_init__(self) -> None:
        if self.max_batches_per_epoch is not None and self.max_batches_per_epoch < 1:
            raise ValueError(
                f"TrainConfig.max_batches_per_epoch must be >= 1 or None, got {self.max_batches_per_epoch}"
            )
        if self.epochs < 0 or self.grad_accum < 1 or self.log_every < 1 or self.eval_every_epochs < 1:
            raise ValueError(
                f"TrainConfig: epochs >= 0, grad_accum/log_every/eval_every_epochs >= 1 required, got {self}"
            )
        if self.monitor_mode not in ("max", "min"):
            raise ValueError(f"TrainConfig.monitor_mode must be 'max' or 'min', got {self.monitor_mode!r}")
        if self.patience is not None and self.monitor is None:
            raise ValueError("TrainConfig.patience (early stopping) needs a monitor metric")


def to_device(batch: Any, device: torch.device, *, non_blocking: bool = True) -> Any:
    """Move every tensor inside nested dicts/lists/tuples to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking and device.type == "cuda")
    if isinstance(batch, Mapping):
        return {k: to_device(v, device, non_blocking=non_blocking) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(to_device(v, device, non_blocking=non_blocking) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, non_blocking=non_blocking) for v in batch)
    return batch


def is_step_boundary(i: int, grad_accum: int, n_batches: Optional[int] = None) -> bool:
    """Does batch ``i`` (0-based, within the epoch) close an accumulation group?"""
    return (i + 1) % grad_accum == 0 or (n_batches is not None and i + 1 == n_batches)


StepFn = Callable[[nn.Module, Any], Union[Mapping[str, torch.Tensor], torch.Tensor]]


class Trainer:
    """Train ``model`` with ``step_fn`` over ``train_loader`` (see the module docstring).

    Args:
        model: the student (moved to the device; wrapped in DDP when the world has > 1 rank).
        optimizer: built on ``model``'s parameters.
        train_loader: ideally from :func:`~videokd.engine.sampling.build_train_loader`; its
            sampler's ``set_epoch(epoch, start=...)`` is what makes mid-epoch resume exact.
        step_fn: ``(model, batch) -> {"loss": total, <term>: value, ...}`` (or the loss tensor).
        config: :class:`TrainConfig`.
        schedulers: objects with ``interval == "step"`` (``step(global_step)`` before each
            update, e.g. :class:`~videokd.engine.schedules.ParamScheduler`) or ``"epoch"``
            (``step_epoch(metrics)`` after each evaluation, e.g. ``PlateauScheduler``); all need
            ``state_dict``/``load_state_dict``.
        eval_fn: ``model -> {name: float}``.
        extra_state: more things to checkpoint, ``{name: obj with state_dict/load_state_dict}``
            (EMA teacher, DINO centres, a loss module with buffers...).
        frozen: modules kept in eval mode with ``requires_grad=False`` (teachers).
        on_epoch_start / before_optimizer_step / on_step_end / on_best / on_epoch_end: hooks, see
            the module docstring.
        run_config: the run's config, stored in checkpoints as plain data.
        dist: :class:`DistInfo` (default: the current one).
        ddp_kwargs: extra ``DistributedDataParallel`` arguments.
        checkpoint_model_keys: ``key -> bool``, which entries of the model's state dict the
            training checkpoints hold (default: all). The others (e.g. a frozen pretrained
            backbone, which the code that builds the model loads anyway) are left out, and a resume
            checks that the checkpoint holds exactly the selected keys.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        train_loader: Any,
        step_fn: StepFn,
        *,
        config: TrainConfig,
        schedulers: Sequence[Any] = (),
        eval_fn: Optional[Callable[[nn.Module], Mapping[str, float]]] = None,
        extra_state: Optional[Mapping[str, Any]] = None,
        frozen: Sequence[nn.Module] = (),
        on_epoch_start: Optional[Callable[[Trainer, int], None]] = None,
        on_step_end: Optional[Callable[[Trainer], None]] = None,
        before_optimizer_step: Optional[Callable[[Trainer], None]] = None,
        on_best: Optional[Callable[[Trainer, Mapping[str, float]], None]] = None,
        on_epoch_end: Optional[Callable[[Trainer, Mapping[str, float]], None]] = None,
        run_config: Optional[Mapping[str, Any]] = None,
        dist: Optional[DistInfo] = None,
        ddp_kwargs: Optional[Mapping[str, Any]] = None,
        checkpoint_model_keys: Optional[Callable[[str], bool]] = None,
    ) -> None:
        self.cfg = config
        self.checkpoint_model_keys = checkpoint_model_keys
        self.dist = dist or get_dist_info()
        self.device = self.dist.device
        self.raw_model = model.to(self.device)
        self.frozen = list(frozen)
        for module in self.frozen:
            module.to(self.device).eval().requires_grad_(False)
        if self.dist.world_size > 1 and not isinstance(model, nn.parallel.DistributedDataParallel):
            ids = [self.device] if self.device.type == "cuda" else None
            self.model: nn.Module = nn.parallel.DistributedDataParallel(model, device_ids=ids, **dict(ddp_kwargs or {}))
        else:
            self.model = model
        self.optimizer = optimizer
        self.train_loader = train_loader
        self.step_fn = step_fn
        self.schedulers = list(schedulers)
        for s in self.schedulers:
            if getattr(s, "interval", None) not in ("step", "epoch"):
                raise TypeError(
                    f"scheduler {type(s).__name__} needs interval 'step' or 'epoch' (ParamScheduler / PlateauScheduler)"
                )
        self.eval_fn = eval_fn
        self.extra_state = dict(extra_state or {})
        self.on_epoch_start = on_epoch_start
        self.on_step_end = on_step_end
        self.before_optimizer_step = before_optimizer_step
        self.on_best = on_best
        self.on_epoch_end = on_epoch_end
        self.run_config = run_config
        self.precision = Precision(config.precision, self.device)

        # progress counters (all restored on resume)
        self.epoch = 0  # the epoch being run (0-based)
        self.eval_epoch = 0  # the epoch the running/last evaluation belongs to (-1: before training)
        self.resumed_at: Optional[tuple[int, int]] = None  # (epoch, step) when fit() resumed from last.pt
        self.batch_in_epoch = 0  # batches of `epoch` already consumed
        self.step = 0  # optimizer steps done
        self.best: Optional[float] = None
        self.best_epoch: Optional[int] = None
        self.bad_evals = 0
        self.history: list[dict[str, Any]] = []
        self.last_metrics: dict[str, float] = {}
        self.stopped_early = False
        self._epoch_sums: dict[str, float] = {}
        self._epoch_count = 0
        self._loader_seed: Optional[int] = None
        # per-term sums since the last log record (checkpointed, so logs resume exactly too)
        self._window: dict[str, Any] = {}
        self._window_steps = 0
        self.last_step_taken = True  # False when fp16 skipped the last update (inf/nan gradients)

        out = Path(config.out_dir) if config.out_dir else None
        self.out_dir = out
        self.ckpt = (
            CheckpointManager(out / "checkpoints", every_epochs=config.save_every_epochs, enabled=self.dist.is_main)
            if out
            else None
        )
        self.logger: Optional[MetricLogger] = None

    # ------------------------------------------------------------------ the loop

    def fit(self) -> dict[str, Any]:
        """Train (resuming when ``last.pt`` exists); returns a summary dict."""
        cfg = self.cfg
        resumed = self._maybe_resume()
        self.resumed_at = (self.epoch, self.step) if resumed else None
        if self.out_dir is not None:
            self.logger = MetricLogger(
                self.out_dir,
                enabled=self.dist.is_main,
                tensorboard=cfg.tensorboard,
                resume_step=self.step if resumed else None,
            )
        try:
            if cfg.eval_before_training and not resumed and self.epoch == 0 and self.batch_in_epoch == 0:
                self._evaluate_before_training()
            while self.epoch < cfg.epochs and not self.stopped_early and not self._hit_max_steps():
                self._train_epoch(self.epoch)
                if self._hit_max_steps() and self.batch_in_epoch < self._n_batches():
                    break  # stopped inside an epoch: `last` already holds this exact point
                self._end_epoch(self.epoch)
        finally:
            if self.logger is not None:
                self.logger.close()
        return self.summary()

    def _train_epoch(self, epoch: int) -> None:
        cfg = self.cfg
        loader = self.train_loader
        n_batches = self._n_batches()
        start = self.batch_in_epoch
        skip = self._position_loader(epoch, start)
        if self.on_epoch_start is not None:
            self.on_epoch_start(self, epoch)
        self.model.train()
        for module in self.frozen:
            module.eval()
        if start == 0:
            self._epoch_sums, self._epoch_count = {}, 0
            self._window, self._window_steps = {}, 0
        window_start = time.monotonic()
        progress = Progress(
            n_batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", enabled=cfg.progress and self.dist.is_main, initial=start
        )
        anomaly = torch.autograd.detect_anomaly() if cfg.detect_anomaly else contextlib.nullcontext()
        # creating the iterator may draw worker seeds from the global RNG (loaders without their
        # own generator); fork it so the training stream is the same with and without a resume
        with torch.random.fork_rng(devices=[]):
            iterator = iter(loader)
        for _ in range(skip):  # only for loaders whose sampler cannot start mid-epoch
            next(iterator)
        with anomaly:
            for i in range(start, n_batches):
                batch = to_device(next(iterator), self.device)
                group_start = (i // cfg.grad_accum) * cfg.grad_accum
                group_size = min(cfg.grad_accum, n_batches - group_start)
                boundary = is_step_boundary(i, cfg.grad_accum, n_batches)
                if i == group_start:
                    self._apply_step_schedules()
                # DDP: all-reduce gradients only on the batch that closes the group
                sync = (
                    contextlib.nullcontext() if boundary or not hasattr(self.model, "no_sync") else self.model.no_sync()
                )
                with sync:
                    with self.precision.autocast():
                        terms = self._as_terms(self.step_fn(self.model, batch))
                    self.precision.backward(terms["loss"] / group_size)
                for k, v in terms.items():
                    v = v.detach().float() / group_size
                    self._window[k] = self._window[k] + v if k in self._window else v
                if not boundary:
                    continue

                grad_norm = self._optimizer_step()
                if grad_norm is not None:
                    self._window["grad_norm"] = self._window.get("grad_norm", 0.0) + grad_norm.detach().float()
                self.step += 1
                self.batch_in_epoch = i + 1
                self._window_steps += 1
                if self.on_step_end is not None:
                    self.on_step_end(self)
                shown: dict[str, float] = {}
                if self.step % cfg.log_every == 0 or i + 1 == n_batches or self._hit_max_steps():
                    values = self._log_train(self._window, self._window_steps, time.monotonic() - window_start)
                    shown = {"loss": values["train/loss"]}
                    self._window, self._window_steps, window_start = {}, 0, time.monotonic()
                progress.update(i + 1 - progress.count, **shown)
                if (cfg.ckpt_every_steps and self.step % cfg.ckpt_every_steps == 0) or self._hit_max_steps():
                    self.save_checkpoint()
                if self._hit_max_steps():
                    break
        progress.close()

    def _optimizer_step(self) -> Optional[torch.Tensor]:
        grad_norm = None
        self.precision.unscale_(self.optimizer)  # fp16: clip in real units
        if self.before_optimizer_step is not None:
            self.before_optimizer_step(self)
        if self.cfg.clip_grad_norm:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            grad_norm = clip_grad_norm(params, self.cfg.clip_grad_norm)
        self.last_step_taken = self.precision.step(self.optimizer)
        self.optimizer.zero_grad(set_to_none=True)
        return grad_norm

    def _end_epoch(self, epoch: int) -> None:
        cfg = self.cfg
        metrics: dict[str, float] = {}
        last_epoch = epoch + 1 == cfg.epochs
        if self.eval_fn is not None and ((epoch + 1) % cfg.eval_every_epochs == 0 or last_epoch):
            metrics = self.evaluate()
        for s in self.schedulers:
            if s.interval == "epoch" and metrics:
                s.step_epoch(metrics)
        is_best = self._track_best(metrics, epoch)
        epoch_train = {f"epoch/train_{k}": v / max(self._epoch_count, 1) for k, v in self._epoch_sums.items()}
        self.last_metrics = {**epoch_train, **metrics}
        self.history.append({"epoch": epoch, **self.last_metrics})
        if self.logger is not None:
            lr = {f"epoch/lr_group{g}": v for g, v in enumerate(self.group_lrs())}
            self.logger.log({**self.last_metrics, **lr}, step=self.step, epoch=epoch)
        if is_best and self.on_best is not None:
            self.on_best(self, dict(metrics))
        if self.on_epoch_end is not None:
            self.on_epoch_end(self, dict(self.last_metrics))
        # the epoch is complete: a resume starts the next one
        self.epoch, self.batch_in_epoch = epoch + 1, 0
        self.save_checkpoint(is_best=is_best, periodic_epoch=epoch + 1)

    def _track_best(self, metrics: Mapping[str, float], epoch: int, *, count_patience: bool = True) -> bool:
        """Update ``best`` / early stopping from one evaluation; True when ``monitor`` improved."""
        cfg = self.cfg
        if cfg.monitor is None or not metrics:
            return False
        if cfg.monitor not in metrics:
            raise KeyError(f"monitor {cfg.monitor!r} is not among the eval metrics {sorted(metrics)}")
        value = float(metrics[cfg.monitor])
        improved = self.best is None or (value > self.best if cfg.monitor_mode == "max" else value < self.best)
        if improved:
            self.best, self.best_epoch, self.bad_evals = value, epoch, 0
            return True
        if count_patience:
            self.bad_evals += 1
            if cfg.patience is not None and self.bad_evals > cfg.patience:
                self.stopped_early = True
        return False

    def _evaluate_before_training(self) -> None:
        metrics = self.evaluate(epoch=-1)
        if not metrics:
            return
        is_best = self._track_best(metrics, -1, count_patience=False)
        self.history.append({"epoch": -1, **metrics})
        if self.logger is not None:
            self.logger.log(dict(metrics), step=self.step, epoch=-1)
        if is_best and self.on_best is not None:
            self.on_best(self, dict(metrics))

    @torch.no_grad()
    def evaluate(self, *, epoch: Optional[int] = None) -> dict[str, float]:
        """Run ``eval_fn`` on the unwrapped model in eval mode; restores train mode after."""
        if self.eval_fn is None:
            return {}
        self.eval_epoch = self.epoch if epoch is None else epoch
        was_training = self.raw_model.training
        self.raw_model.eval()
        try:
            with self.precision.autocast():
                out = self.eval_fn(self.raw_model)
        finally:
            self.raw_model.train(was_training)
        return {k: float(v.item() if isinstance(v, torch.Tensor) else v) for k, v in out.items()}

    # ------------------------------------------------------------------ helpers

    @property
    def batches_per_epoch(self) -> int:
        """Batches run per epoch: the loader's length, capped by ``max_batches_per_epoch``."""
        n = len(self.train_loader)
        cap = self.cfg.max_batches_per_epoch
        return n if cap is None else min(n, cap)

    def group_lrs(self) -> list[float]:
        """The learning rate each parameter group is trained with now, as logged.

        An optimizer that schedules internally (``BertAdam``'s warmup-linear multiplier) reports
        its effective rates through ``get_lr()``; otherwise the groups' ``lr``.
        """
        get_lr = getattr(self.optimizer, "get_lr", None)
        if callable(get_lr):
            return [float(v) for v in get_lr()]
        return [float(pg["lr"]) for pg in self.optimizer.param_groups]

    def _n_batches(self) -> int:
        return self.batches_per_epoch

    def _hit_max_steps(self) -> bool:
        return self.cfg.max_steps is not None and self.step >= self.cfg.max_steps

    @staticmethod
    def _as_terms(out: Union[Mapping[str, torch.Tensor], torch.Tensor]) -> dict[str, torch.Tensor]:
        if isinstance(out, torch.Tensor):
            return {"loss": out}
        if "loss" not in out:
            raise KeyError(f"step_fn must return the total loss under 'loss'; got keys {sorted(out)}")
        return dict(out)

    def _apply_step_schedules(self) -> None:
        for s in self.schedulers:
            if s.interval == "step":
                s.step(self.step)

    def _position_loader(self, epoch: int, start: int) -> int:
        """Select the epoch's order and the start position; returns batches to skip by hand."""
        loader = self.train_loader
        sampler = getattr(loader, "sampler", None)
        batch_size = getattr(loader, "batch_size", None)
        generator = getattr(loader, "generator", None)
        if generator is not None:
            # worker base seeds then depend on the epoch only, not on how many epochs ran before
            if self._loader_seed is None:
                self._loader_seed = generator.initial_seed()
            generator.manual_seed(derive_seed(self._loader_seed, "epoch", epoch))
        if sampler is not None and hasattr(sampler, "set_epoch"):
            try:
                if start and batch_size:
                    sampler.set_epoch(epoch, start=start * batch_size)
                    return 0
                sampler.set_epoch(epoch)
            except TypeError:  # torch's DistributedSampler: no start position
                sampler.set_epoch(epoch)
        if start:
            warnings.warn(
                "resuming mid-epoch with a sampler that cannot start at a position: skipping "
                f"{start} batches by loading them (use videokd.engine.build_train_loader for exact, fast resume)"
            )
        return start

    def _log_train(self, window: dict[str, Any], steps: int, seconds: float) -> dict[str, float]:
        local = {f"train/{k}": (v / max(steps, 1)) for k, v in window.items()}
        values = reduce_metrics(local) if local else {}
        for k, v in values.items():
            if k.startswith("train/") and k != "train/grad_norm":
                name = k[len("train/") :]
                self._epoch_sums[name] = self._epoch_sums.get(name, 0.0) + v * steps
        self._epoch_count += steps
        if self.cfg.stop_on_nonfinite and not math.isfinite(values.get("train/loss", 0.0)):
            raise FloatingPointError(
                f"non-finite training loss {values['train/loss']} at step {self.step} (epoch {self.epoch + 1})"
            )
        extra = {f"train/lr_group{g}": v for g, v in enumerate(self.group_lrs())}
        extra["train/steps_per_s"] = steps / max(seconds, 1e-9)
        if self.precision.scaler is not None:
            extra["train/loss_scale"] = self.precision.loss_scale
        if self.logger is not None:
            self.logger.log({**values, **extra}, step=self.step, epoch=self.epoch)
        return values

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume (collective: every rank must call it)."""
        rngs = all_gather_objects(rng_state())
        return {
            "format": CHECKPOINT_FORMAT,
            "model": self._model_state(),
            "optimizer": self.optimizer.state_dict(),
            "precision": self.precision.state_dict(),
            "schedulers": [s.state_dict() for s in self.schedulers],
            "extra": {k: v.state_dict() for k, v in self.extra_state.items()},
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "step": self.step,
            "best": {
                "metric": self.cfg.monitor,
                "mode": self.cfg.monitor_mode,
                "value": self.best,
                "epoch": self.best_epoch,
                "bad_evals": self.bad_evals,
            },
            "stopped_early": self.stopped_early,
            "epoch_sums": dict(self._epoch_sums),
            "epoch_count": self._epoch_count,
            "window": {k: float(v) for k, v in self._window.items()},
            "window_steps": self._window_steps,
            "history": list(self.history),
            "rng": rngs,
            "world_size": self.dist.world_size,
            "train_config": dataclasses.asdict(self.cfg),
            "config": self.run_config.to_dict() if hasattr(self.run_config, "to_dict") else self.run_config,
        }

    def _model_state(self) -> dict[str, Any]:
        state = self.raw_model.state_dict()
        if self.checkpoint_model_keys is None:
            return state
        return {k: v for k, v in state.items() if self.checkpoint_model_keys(k)}

    def _load_model_state(self, saved: Mapping[str, Any]) -> None:
        if self.checkpoint_model_keys is None:
            self.raw_model.load_state_dict(saved)
            return
        expected = set(self._model_state())
        if set(saved) != expected:
            missing, unexpected = sorted(expected - set(saved)), sorted(set(saved) - expected)
            raise CheckpointError(
                f"checkpoint model state does not fit checkpoint_model_keys: missing {missing[:10]}, "
                f"unexpected {unexpected[:10]}"
            )
        self.raw_model.load_state_dict(saved, strict=False)

    def save_checkpoint(self, *, is_best: bool = False, periodic_epoch: Optional[int] = None) -> None:
        if self.ckpt is None:
            return
        state = self.state_dict()  # collective (RNG gather): all ranks
        if self.dist.is_main:
            self.ckpt.save(state, is_best=is_best, epoch=periodic_epoch)
        barrier()  # nobody runs ahead (or reads) before rank 0 finished writing

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(
                f"not a videokd training checkpoint (format {state.get('format')!r}); use load_weights() for weights only"
            )
        self._load_model_state(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.precision.load_state_dict(state["precision"])
        if len(state["schedulers"]) != len(self.schedulers):
            raise CheckpointError(
                f"checkpoint has {len(state['schedulers'])} scheduler states, this run {len(self.schedulers)}"
            )
        for s, sd in zip(self.schedulers, state["schedulers"]):
            s.load_state_dict(sd)
        missing = sorted(set(self.extra_state) - set(state["extra"]))
        if missing:
            raise CheckpointError(f"checkpoint lacks extra state {missing} (it has {sorted(state['extra'])})")
        for k, obj in self.extra_state.items():
            obj.load_state_dict(state["extra"][k])
        self.epoch, self.batch_in_epoch, self.step = (
            int(state["epoch"]),
            int(state["batch_in_epoch"]),
            int(state["step"]),
        )
        best = state["best"]
        self.best, self.best_epoch, self.bad_evals = best["value"], best["epoch"], int(best["bad_evals"])
        self.stopped_early = bool(state.get("stopped_early", False))
        self._epoch_sums = dict(state.get("epoch_sums", {}))
        self._epoch_count = int(state.get("epoch_count", 0))
        self._window = {
            k: torch.tensor(v, dtype=torch.float32, device=self.device) for k, v in state.get("window", {}).items()
        }
        self._window_steps = int(state.get("window_steps", 0))
        self.history = list(state.get("history", []))
        rngs = state["rng"]
        if len(rngs) == self.dist.world_size:
            set_rng_state(rngs[self.dist.rank])
        else:
            warnings.warn(
                f"checkpoint was written by {len(rngs)} ranks, this run has {self.dist.world_size}: RNG streams are not restored"
            )

    def _maybe_resume(self) -> bool:
        if self.ckpt is None or not self.cfg.resume or not self.ckpt.has_last():
            return False
        state = self.ckpt.load_last(map_location=self.device)
        self.load_state_dict(state)
        return True

    def summary(self) -> dict[str, Any]:
        return {
            "epochs_done": self.epoch,
            "steps": self.step,
            "best": {"metric": self.cfg.monitor, "value": self.best, "epoch": self.best_epoch},
            "stopped_early": self.stopped_early,
            "last_metrics": dict(self.last_metrics),
            "history": list(self.history),
            "last_checkpoint": str(self.ckpt.last_path)
            if self.ckpt and self.dist.is_main and self.ckpt.has_last()
            else None,
        }
