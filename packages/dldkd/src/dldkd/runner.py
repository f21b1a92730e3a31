"""DL-DKD runs: everything built from the options, training on the core Trainer, evaluating a run.

Imports run one way: the entry modules :mod:`dldkd.train` and :mod:`dldkd.test` (options, messages)
-> this module (data, model, optimizer, the Trainer and its hooks, checkpoints) ->
:mod:`dldkd.evaluate` (scoring and metrics, no I/O beyond the result files).

Training (``run_training``). Per epoch e (0-based): the KD coefficient c(e) (and, for DL-DKD++,
the soft-NCE ratios alpha/belta) is set once; every step minimises

    trip(S_inh) + 0.04 nce(U_inh) + c(e) KD + trip(S_exp) + 0.04 nce(U_exp)

with BertAdam (per-tensor grad clipping at 1.0, no bias correction, warmup_linear over
``iters_per_epoch * n_epoch`` steps). After every epoch the validation split is evaluated with the
fused score ``0.7 S_inh + 0.3 S_exp``; a strictly better SumR writes ``model.ckpt`` (the Trainer's
``on_best``), and after ``max_es_cnt`` + 1 epochs without improvement training stops. The best
checkpoint is then evaluated on the test split (the original ICCV script crashed at both points).

Run dir (``<root_path>/<collection>/results/<dset_name>-<exp_id>-<timestamp>/``): ``opt.json``,
``model.ckpt`` (plain data: ``model``, ``model_cfg``, ``epoch``, ``opt``; loads with
``weights_only=True``), ``train.log.txt`` (one line per epoch, from ``on_epoch_end``),
``performance.log``, ``eval/val_epoch_NNN.json``, ``eval_test_metrics.json`` +
``eval_test_ranks.tsv``, TensorBoard events and ``metrics.jsonl`` (core logger) and
``checkpoints/`` (the engine's resumable ``last.pt`` / ``best.pt``). A start that fails before
training (bad data, wrong options) removes the run dir it created.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any, Optional

import torch

from videokd import engine
from videokd.cli import run_dir_guard

from .checkpoint import (
    CheckpointError,
    from_original_state_dict,
    load_checkpoint_file,
    model_from_state_dict,
    model_state_from_checkpoint,
)
from .config import resolve_device, save_options, set_derived_paths
from .data import (
    DataError,
    PRVRTrainDataset,
    QueryEvalDataset,
    VideoEvalDataset,
    collate_frame_val,
    collate_text_val,
    collate_train,
    collection_paths,
    missing_data_message,
)
from .evaluate import evaluate_model, format_table, write_results
from .losses import LOSS_TERMS, DLDKDLoss, kd_coefficient_for_epoch, soft_nce_ratios_for_epoch
from .model import DLDKD, DLDKDConfig

__all__ = [
    "NO_DECAY",
    "lr_multiplier",
    "build_optimizer",
    "model_config_from_options",
    "build_model_from_options",
    "build_criterion",
    "save_model_checkpoint",
    "eval_loaders",
    "fusion_from_options",
    "run_training",
    "evaluate_run_dir",
    "load_model_from_run",
    "run_test",
]

# parameters whose names contain these get no weight decay (the original BertAdam groups)
NO_DECAY = ("bias", "LayerNorm.bias", "LayerNorm.weight")

# DLDKDConfig field -> the option holding it (the model's defaults live in DLDKDConfig alone)
_CONFIG_OPTIONS = {
    "query_input_size": "q_feat_size",
    "inheritance_hidden": "inheritance_hidden",
    "exploration_hidden": "exploration_hidden",
    "n_heads": "n_heads",
    "max_ctx_l": "max_ctx_l",
    "max_desc_l": "max_desc_l",
    "input_drop": "input_drop",
    "drop": "drop",
    "initializer_range": "initializer_range",
    "double_branch": "double_branch",
}

log = logging.getLogger("dldkd")


def lr_multiplier(step: int, *, t_total: int, warmup: float) -> float:
    """BertAdam's ``warmup_linear`` multiplier for a parameter whose step counter is ``step``."""
    return engine.BertAdam.multiplier(step, t_total=t_total, warmup=warmup)


def build_optimizer(
    named_parameters: Iterable[tuple[str, torch.Tensor]],
    *,
    lr: float,
    warmup: float,
    t_total: int,
    weight_decay: float = 0.01,
    b1: float = 0.9,
    b2: float = 0.999,
    e: float = 1e-6,
    max_grad_norm: float = 1.0,
) -> torch.optim.Optimizer:
    """The original optimizer: BertAdam over two groups (decay 0.01 / none for bias and LayerNorm)."""
    groups = engine.param_groups(list(named_parameters), weight_decay=weight_decay, no_decay=NO_DECAY)
    return engine.build_optimizer(
        "bertadam",
        groups,
        lr=lr,
        betas=(b1, b2),
        eps=e,
        weight_decay=weight_decay,
        warmup=warmup,
        t_total=t_total,
        max_grad_norm=max_grad_norm,
    )


def model_config_from_options(opt: Any, *, visual_input_size: int) -> DLDKDConfig:
    """The architecture of ``opt``; ``visual_input_size`` comes from the BigFile's shape.txt."""
    values = {name: getattr(opt, option) for name, option in _CONFIG_OPTIONS.items()}
    values["double_branch"] = bool(values["double_branch"])
    # the ICCV wiring for the ICCV objective; DL-DKD++ gives each branch its own projection
    values["share_query_input_proj"] = opt.label_style == "hard"
    assert set(values) | {"visual_input_size"} == {f.name for f in fields(DLDKDConfig)}
    return DLDKDConfig(visual_input_size=visual_input_size, **values)


def build_model_from_options(opt: Any, *, visual_input_size: int) -> DLDKD:
    """The student for ``opt``."""
    return DLDKD(model_config_from_options(opt, visual_input_size=visual_input_size))


def build_criterion(opt: Any) -> DLDKDLoss:
    return DLDKDLoss(
        margin=opt.margin,
        hard_pool_size=opt.hard_pool_size,
        use_hard_negative=opt.hard_negative_start_epoch >= 0,
        label_style=opt.label_style,
        inher_nce_weight=opt.inher_nce_weight,
        explore_nce_weight=opt.explore_nce_weight,
        use_teacher=bool(opt.use_clip),
        double_branch=bool(opt.double_branch),
    )


def _plain_opts(opt: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(opt).items() if isinstance(v, (str, int, float, bool, list, type(None)))}


def save_model_checkpoint(
    path: str | os.PathLike, model: DLDKD, *, epoch: int, opt: Any, extra: Optional[dict] = None
) -> None:
    """Write ``model.ckpt`` atomically as plain data (``weights_only=True`` loads it)."""
    state = {
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "model_cfg": model.config.to_dict(),
        "layout": "native",
        "epoch": int(epoch),
        "opt": _plain_opts(opt),
        **(extra or {}),
    }
    engine.save_checkpoint(path, state)


def _setup_logging(results_dir: Optional[Path], is_main: bool) -> None:
    log.setLevel(logging.INFO)
    for handler in list(log.handlers):
        handler.close()
        log.removeHandler(handler)
    log.propagate = False
    if not is_main:
        return
    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(logging.Formatter("%(asctime)s [dldkd] %(message)s", "%H:%M:%S"))
    log.addHandler(console)
    if results_dir is not None:
        perf = logging.FileHandler(results_dir / "performance.log")
        perf.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(perf)


def eval_loaders(paths: Any, opt: Any, split: str, *, visual: Optional[VideoEvalDataset] = None):
    """``(videos, queries, video_loader, query_loader)`` of one split, longest items first."""
    videos = visual or VideoEvalDataset(paths, split=split, max_ctx_l=opt.max_ctx_l)
    queries = QueryEvalDataset(paths, split=split, q_feat_size=opt.q_feat_size, max_desc_l=opt.max_desc_l)
    workers = min(opt.num_workers, 2)
    # longest first: batches of similar lengths pad little (rows go back to their place by index)
    v_order = sorted(range(len(videos)), key=videos.lengths().__getitem__, reverse=True)
    q_order = sorted(range(len(queries)), key=queries.lengths().__getitem__, reverse=True)
    vl = torch.utils.data.DataLoader(
        videos, batch_size=opt.eval_context_bsz, sampler=v_order, collate_fn=collate_frame_val, num_workers=workers
    )
    ql = torch.utils.data.DataLoader(
        queries, batch_size=opt.eval_query_bsz, sampler=q_order, collate_fn=collate_text_val, num_workers=workers
    )
    return videos, queries, vl, ql


def fusion_from_options(opt: Any, model: DLDKD) -> dict[str, float]:
    """Inference fusion weights: ``clip_scale_w`` / ``frame_scale_w`` (inheritance alone without exploration)."""
    if "exploration" in model.branches:
        return {"inheritance": float(opt.clip_scale_w), "exploration": float(opt.frame_scale_w)}
    return {"inheritance": 1.0}


def _append_train_log(path: Path, record: dict, *, stopped: bool = False) -> None:
    """One line per epoch, ``<ts> [Epoch] NNN [Loss] name avg ...`` as the original's train.log.txt."""
    losses = " ".join(f"{k[len('epoch/train_') :]} {v:.4f}" for k, v in record.items() if k.startswith("epoch/train_"))
    line = f"{time.strftime('%Y_%m_%d_%H_%M_%S')} [Epoch] {int(record['epoch']):03d} [Loss] {losses}\n"
    with open(path, "a") as f:
        f.write(line)
        if stopped:
            f.write(f"Early Stop at epoch {int(record['epoch'])}\n")


def _device_spec(opt: Any) -> Optional[str]:
    device = None if str(opt.device) == "auto" else str(opt.device)
    if device is not None and device.lstrip("-").isdigit():
        # the original integers: -1 = CPU, >= 0 = "the GPU" (this process's GPU under torchrun)
        device = "cpu" if int(device) < 0 else "cuda"
    return device


def run_training(opt: argparse.Namespace) -> dict[str, Any]:
    """Train with the parsed options; returns the engine's summary plus the test metrics."""
    paths = collection_paths(opt.root_path, opt.collection, opt.visual_feature)
    use_teacher = bool(opt.use_clip or opt.label_style == "soft")
    message = missing_data_message(paths, "train", use_teacher=use_teacher)
    if message:
        raise DataError(message)
    with engine.distributed_session(_device_spec(opt)) as dist:
        if dist.world_size > 1:  # every rank uses rank 0's run dir (the timestamps may differ)
            opt.results_dir = engine.broadcast_object(opt.results_dir)
            set_derived_paths(opt)
        results_dir = Path(opt.results_dir)
        resumed = bool(getattr(opt, "resume", None))
        with run_dir_guard(results_dir, enabled=dist.is_main) as guard:
            _setup_logging(results_dir if dist.is_main else None, dist.is_main)
            trainer, state = _build_trainer(opt, paths, dist, results_dir, use_teacher=use_teacher)
            if dist.is_main:
                save_options(opt, results_dir / "opt.json")  # a resume has checked these against the saved ones
            guard.keep()  # from here on the run dir holds training progress
        if resumed:
            log.info("resuming %s", results_dir)
        summary = trainer.fit()
        if dist.is_main:
            log.info(
                "best val SumR %.2f at epoch %s", summary["best"]["value"] or float("nan"), summary["best"]["epoch"]
            )
        test_metrics = None
        ckpt_path = Path(opt.ckpt_filepath)
        if not opt.debug and dist.is_main and paths.captions("test").is_file() and ckpt_path.is_file():
            test_metrics = evaluate_run_dir(results_dir, opt, split="test", device=dist.device)
        return {**summary, "results_dir": str(results_dir), "test_metrics": test_metrics}


def _build_trainer(
    opt: argparse.Namespace, paths: Any, dist: engine.DistInfo, results_dir: Path, *, use_teacher: bool
) -> tuple[engine.Trainer, dict]:
    engine.seed_everything(opt.seed + dist.rank)
    if opt.debug:
        torch.backends.cudnn.deterministic = True
    train_set = PRVRTrainDataset(
        paths,
        q_feat_size=opt.q_feat_size,
        max_ctx_l=opt.max_ctx_l,
        max_desc_l=opt.max_desc_l,
        use_teacher=use_teacher,
        # DL-DKD++ pools the student down to the teacher's frame count first (the ICCV code requires equal counts)
        resample_to_teacher=opt.label_style == "soft",
    )
    per_rank_bsz = max(1, opt.bsz // dist.world_size)
    loader = engine.build_train_loader(
        train_set,
        batch_size=per_rank_bsz,
        seed=opt.seed,
        num_workers=opt.num_workers,
        collate_fn=collate_train,
        per_sample_seeds=False,
        pin_memory=opt.pin_memory and dist.device.type == "cuda",
    )
    val_videos, val_queries, val_vl, val_ql = eval_loaders(paths, opt, "val")
    model = build_model_from_options(opt, visual_input_size=train_set.visual_input_size)
    criterion = build_criterion(opt)
    max_batches = 4 if opt.debug else None
    n_batches = len(loader) if max_batches is None else min(len(loader), max_batches)
    optimizer = build_optimizer(
        model.named_parameters(), lr=opt.lr, warmup=opt.lr_warmup_proportion, t_total=n_batches * opt.n_epoch
    )
    log.info(
        "train: %d videos (%d batches of %d), val: %d videos / %d queries, %d parameters, device %s x%d",
        len(train_set),
        n_batches,
        per_rank_bsz,
        len(val_videos),
        len(val_queries),
        sum(p.numel() for p in model.parameters()),
        dist.device,
        dist.world_size,
    )
    state: dict[str, Any] = {"coef": 0.0, "alpha": 1.0, "beta": 1.0, "announced": False}
    ckpt_path = Path(opt.ckpt_filepath)
    train_log = results_dir / "train.log.txt"

    def step_fn(m: torch.nn.Module, batch: dict) -> dict[str, torch.Tensor]:
        emb = m(batch["frame_video_features"], batch["videos_mask"], batch["text_feat"], batch["text_mask"])
        out = criterion(
            emb,
            videos_mask=batch["videos_mask"],
            labels=batch["text_labels"],
            teacher_text=batch.get("clip_text_feat"),
            teacher_video=batch.get("clip_video_features"),
            kd_coefficient=state["coef"],
            alpha=state["alpha"],
            beta=state["beta"],
        )
        terms = {k: out[k].reshape(()) for k in LOSS_TERMS if k in out}
        terms["loss"] = out["loss_overall"].reshape(())
        return terms

    def on_epoch_start(trainer: engine.Trainer, epoch: int) -> None:
        if trainer.resumed_at is not None and not state["announced"]:
            log.info("resumed at epoch %d, step %d", trainer.resumed_at[0], trainer.resumed_at[1])
        state["announced"] = True
        state["coef"] = kd_coefficient_for_epoch(opt, epoch)
        state["alpha"], state["beta"] = soft_nce_ratios_for_epoch(opt, epoch)
        criterion.use_hard_negative = opt.hard_negative_start_epoch >= 0 and epoch >= opt.hard_negative_start_epoch
        if trainer.logger is not None:
            # the dynamic KD weight as a curve in metrics.jsonl / TensorBoard (`videokd plot` draws schedule/*)
            sched = {"schedule/kd_coefficient": state["coef"]}
            if opt.label_style == "soft":
                sched.update({"schedule/alpha": state["alpha"], "schedule/belta": state["beta"]})
            trainer.logger.log(sched, step=trainer.step, epoch=epoch)
        log.info(
            "epoch %d: KD coefficient %.6f%s",
            epoch,
            state["coef"],
            f", alpha {state['alpha']:.4f}, belta {state['beta']:.4f}" if opt.label_style == "soft" else "",
        )

    def eval_fn(m: torch.nn.Module) -> dict[str, float]:
        epoch = trainer.eval_epoch
        res = evaluate_model(
            m,
            val_vl,
            val_ql,
            video_ids=val_videos.video_ids,
            query_ids=val_queries.cap_ids,
            fusion=fusion_from_options(opt, m),
            device=dist.device,
            keep_scores=False,
        )
        if dist.is_main:
            log.info("[Val] epoch %d (%.1f s)\n%s", epoch, res.timings["total"], format_table(res.metrics))
            out_dir = results_dir / "eval"
            out_dir.mkdir(exist_ok=True)
            record = {"epoch": epoch, "metrics": res.metrics, "timings_s": res.timings}
            (out_dir / f"val_epoch_{epoch:03d}.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        out = {f"val/{k}": v for k, v in res.metrics["fused"].items()}
        for b in m.branches:
            out[f"val/{b}_sumr"] = res.metrics[b]["sumr"]
        return out

    def on_best(trainer: engine.Trainer, metrics: dict) -> None:
        if not dist.is_main:
            return
        sumr = metrics["val/sumr"]
        save_model_checkpoint(
            ckpt_path, trainer.raw_model, epoch=trainer.eval_epoch, opt=opt, extra={"val_sumr": sumr, "val": metrics}
        )
        log.info("[Val] new best SumR %.2f at epoch %d -> %s", sumr, trainer.eval_epoch, ckpt_path)

    def on_epoch_end(trainer: engine.Trainer, metrics: dict) -> None:
        if dist.is_main:
            _append_train_log(train_log, {"epoch": trainer.epoch, **metrics}, stopped=trainer.stopped_early)

    trainer = engine.Trainer(
        model,
        optimizer,
        loader,
        step_fn,
        config=engine.TrainConfig(
            epochs=1 if opt.debug else opt.n_epoch,
            precision=opt.precision,
            out_dir=str(results_dir),
            clip_grad_norm=opt.grad_clip if opt.grad_clip > 0 else None,
            log_every=10,
            monitor="val/sumr",
            monitor_mode="max",
            patience=None if opt.max_es_cnt < 0 else opt.max_es_cnt,
            progress=True,  # tqdm on a terminal, periodic plain lines in logs
            max_batches_per_epoch=max_batches,
            eval_before_training=bool(opt.eval_untrained),
        ),
        eval_fn=eval_fn,
        on_epoch_start=on_epoch_start,
        on_best=on_best,
        on_epoch_end=on_epoch_end,
        run_config=_plain_opts(opt),
        ddp_kwargs={"find_unused_parameters": False},
    )
    return trainer, state


def load_model_from_run(run_dir: str | Path, opt: Any = None, *, trusted: bool = False) -> tuple[DLDKD, dict]:
    """The model in ``run_dir/model.ckpt`` (or ``run_dir`` itself when it is a checkpoint file), any layout."""
    path = Path(run_dir)
    if not path.is_file():
        path = path / "model.ckpt"
    ckpt = load_checkpoint_file(path, trusted=trusted)
    state = model_state_from_checkpoint(ckpt)
    native, layout = from_original_state_dict(state)
    if layout == "native" and isinstance(ckpt.get("model_cfg"), dict):
        model = DLDKD(DLDKDConfig.from_dict(ckpt["model_cfg"]))
        missing, unexpected = model.load_state_dict(native, strict=False)
        if missing or unexpected:
            raise CheckpointError(
                f"{path}: state_dict does not fit its model_cfg: missing {missing[:6]}, unexpected {unexpected[:6]}"
            )
    else:
        cfg = ckpt.get("model_cfg") if isinstance(ckpt.get("model_cfg"), dict) else {}
        default_heads = getattr(opt, "n_heads", None) or DLDKDConfig.n_heads
        model, layout = model_from_state_dict(state, n_heads=int(cfg.get("n_heads", default_heads)))
    model.eval()
    return model, {"path": str(path), "layout": layout, "epoch": ckpt.get("epoch")}


def evaluate_run_dir(results_dir: Path, opt: Any, *, split: str, device: Any = "cpu", trusted: bool = False) -> dict:
    """Evaluate the run's checkpoint (``opt.ckpt_filepath``) on ``split``; writes the metrics JSON and ranks."""
    paths = collection_paths(opt.root_path, opt.collection, opt.visual_feature)
    ckpt = Path(getattr(opt, "ckpt_filepath", None) or Path(results_dir) / "model.ckpt")
    model, info = load_model_from_run(ckpt, opt, trusted=trusted)
    model.to(device)
    videos, queries, vl, ql = eval_loaders(paths, opt, split)
    if videos.visual_input_size != model.config.visual_input_size:
        raise DataError(
            f"{paths.feature_dir}: features have width {videos.visual_input_size}, "
            f"the checkpoint {ckpt} expects {model.config.visual_input_size} (wrong --visual_feature or checkpoint?)"
        )
    res = evaluate_model(
        model,
        vl,
        ql,
        video_ids=videos.video_ids,
        query_ids=queries.cap_ids,
        fusion=fusion_from_options(opt, model),
        device=device,
        keep_scores=False,
    )
    files = write_results(res, results_dir, split=split, extra={"checkpoint": info})
    log.info(
        "[%s] %d queries x %d videos (%.1f s)\n%s",
        split.capitalize(),
        len(queries),
        len(videos),
        res.timings["total"],
        format_table(res.metrics),
    )
    log.info("per-query ranks: %s; metrics: %s", files["ranks"], files["metrics"])
    return res.metrics


def run_test(opt: argparse.Namespace) -> dict:
    """Evaluate a run dir or a checkpoint file on ``opt.split`` (the ``do_test.sh`` flow)."""
    paths = collection_paths(opt.root_path, opt.collection, opt.visual_feature)
    message = missing_data_message(paths, opt.split)
    if message:
        raise DataError(message)
    if not Path(opt.ckpt_filepath).is_file():
        raise FileNotFoundError(
            f"no checkpoint {opt.ckpt_filepath}: MODELDIR must be a run dir holding model.ckpt, or a checkpoint file"
        )
    if not log.handlers:
        _setup_logging(None, True)
    device = resolve_device(opt.device)
    return evaluate_run_dir(Path(opt.results_dir), opt, split=opt.split, device=device, trusted=opt.trust_checkpoint)
