"""DL-DKD training (the original ``method/train.py``) on the core engine.

``python -m dldkd.train --collection tvr --visual_feature i3d_resnet --root_path DATA --dset_name tvr
--q_feat_size 768 --margin 0.1 --use_clip true --double_branch true --decay_way 1 ...`` (the
flags of ``do_tvr.sh``). Per epoch e (0-based): the KD coefficient c(e) (and, for DL-DKD++, the
soft-NCE ratios alpha/belta) is set once; every step minimises

    trip(S_inh) + 0.04 nce(U_inh) + c(e) KD + trip(S_exp) + 0.04 nce(U_exp)

with BertAdam (per-tensor grad clipping at 1.0, no bias correction, warmup_linear over
``iters_per_epoch * n_epoch`` steps). After every epoch the validation split is evaluated with
the fused score ``0.7 S_inh + 0.3 S_exp``; a strictly better SumR saves ``model.ckpt`` and after
``max_es_cnt`` + 1 epochs without improvement training stops. The best checkpoint is then
evaluated on the test split (the original ICCV script crashed at both of these points).

Run dir (``<root_path>/<collection>/results/<dset_name>-<exp_id>-<timestamp>/``): ``opt.json``,
``model.ckpt`` (plain data: ``model``, ``model_cfg``, ``epoch``, ``opt``; loads with
``weights_only=True``), ``train.log.txt``, ``performance.log``, ``eval/val_epoch_NNN.json``,
``eval_test_metrics.json`` + ``eval_test_ranks.tsv``, TensorBoard events and ``metrics.jsonl``
(core logger) and ``checkpoints/`` (the engine's resumable ``last.pt`` / ``best.pt``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Optional

import torch

from videokd import engine

from .checkpoint import load_checkpoint_file
from .config import parse_train_options, save_options, set_derived_paths
from .data import (
    PRVRTrainDataset,
    QueryEvalDataset,
    VideoEvalDataset,
    collate_frame_val,
    collate_text_val,
    collate_train,
    collection_paths,
)
from .evaluate import evaluate_model, format_table, write_results
from .losses import LOSS_TERMS, DLDKDLoss, kd_coefficient_for_epoch, soft_nce_ratios_for_epoch
from .model import DLDKD, DLDKDConfig

__all__ = [
    "NO_DECAY",
    "lr_multiplier",
    "build_optimizer",
    "build_model_from_options",
    "build_criterion",
    "save_model_checkpoint",
    "run_training",
    "main",
]

# parameters whose names contain these get no weight decay (the original BertAdam groups)
NO_DECAY = ("bias", "LayerNorm.bias", "LayerNorm.weight")

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


def build_model_from_options(opt: Any, *, visual_input_size: int) -> DLDKD:
    """The student for ``opt``; ``visual_input_size`` comes from the BigFile's shape.txt."""
    return DLDKD(
        DLDKDConfig(
            visual_input_size=visual_input_size,
            query_input_size=opt.q_feat_size,
            inheritance_hidden=opt.inheritance_hidden,
            exploration_hidden=opt.exploration_hidden,
            n_heads=opt.n_heads,
            max_ctx_l=opt.max_ctx_l,
            max_desc_l=opt.max_desc_l,
            input_drop=opt.input_drop,
            drop=opt.drop,
            initializer_range=opt.initializer_range,
            double_branch=bool(opt.double_branch),
            # the ICCV wiring for the ICCV objective; DL-DKD++ gives each branch its own projection
            share_query_input_proj=opt.label_style == "hard",
        )
    )


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


def save_model_checkpoint(
    path: str | os.PathLike, model: DLDKD, *, epoch: int, opt: Any, extra: Optional[dict] = None
) -> None:
    """Write ``model.ckpt`` atomically as plain data (``weights_only=True`` loads it)."""
    state = {
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "model_cfg": model.config.to_dict(),
        "layout": "native",
        "epoch": int(epoch),
        "opt": {k: v for k, v in vars(opt).items() if isinstance(v, (str, int, float, bool, list, type(None)))},
        **(extra or {}),
    }
    engine.save_checkpoint(path, state)


def _setup_logging(results_dir: Path, is_main: bool) -> None:
    log.setLevel(logging.INFO)
    log.handlers.clear()
    if not is_main:
        return
    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(logging.Formatter("%(asctime)s [dldkd] %(message)s", "%H:%M:%S"))
    perf = logging.FileHandler(results_dir / "performance.log")
    perf.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(console)
    log.addHandler(perf)
    log.propagate = False


def _eval_loaders(paths: Any, opt: Any, split: str, *, visual: Optional[VideoEvalDataset] = None):
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


def _fusion(opt: Any, model: DLDKD) -> dict[str, float]:
    if "exploration" in model.branches:
        return {"inheritance": float(opt.clip_scale_w), "exploration": float(opt.frame_scale_w)}
    return {"inheritance": 1.0}


def run_training(opt: argparse.Namespace) -> dict[str, Any]:
    """Train with the parsed options; returns the engine's summary plus the test metrics."""
    paths = collection_paths(opt.root_path, opt.collection, opt.visual_feature)
    missing = paths.missing("train", use_teacher=bool(opt.use_clip or opt.label_style == "soft"))
    if missing:
        raise FileNotFoundError("training data is incomplete; missing:\n  " + "\n  ".join(str(p) for p in missing))
    device = None if str(opt.device) == "auto" else str(opt.device)
    if device is not None and device.lstrip("-").isdigit():
        # the original integers: -1 = CPU, >= 0 = "the GPU" (this process's GPU under torchrun)
        device = "cpu" if int(device) < 0 else "cuda"
    with engine.distributed_session(device) as dist:
        if dist.world_size > 1:  # every rank uses rank 0's run dir (the timestamps may differ)
            opt.results_dir = engine.broadcast_object(opt.results_dir)
            set_derived_paths(opt)
        results_dir = Path(opt.results_dir)
        if dist.is_main:
            results_dir.mkdir(parents=True, exist_ok=True)
            save_options(opt, results_dir / "opt.json")
        _setup_logging(results_dir, dist.is_main)
        engine.seed_everything(opt.seed + dist.rank)
        if opt.debug:
            torch.backends.cudnn.deterministic = True

        use_teacher = bool(opt.use_clip or opt.label_style == "soft")
        train_set = PRVRTrainDataset(
            paths,
            q_feat_size=opt.q_feat_size,
            max_ctx_l=opt.max_ctx_l,
            max_desc_l=opt.max_desc_l,
            use_teacher=use_teacher,
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
        val_videos, val_queries, val_vl, val_ql = _eval_loaders(paths, opt, "val")
        model = build_model_from_options(opt, visual_input_size=train_set.visual_input_size)
        criterion = build_criterion(opt)
        n_batches = len(loader) if not opt.debug else min(len(loader), 4)
        n_epoch = 1 if opt.debug else opt.n_epoch
        t_total = n_batches * opt.n_epoch
        optimizer = build_optimizer(
            model.named_parameters(), lr=opt.lr, warmup=opt.lr_warmup_proportion, t_total=t_total
        )
        log.info(
            "train: %d videos (%d batches of %d), val: %d videos / %d queries, %d parameters, device %s x%d",
            len(train_set),
            len(loader),
            per_rank_bsz,
            len(val_videos),
            len(val_queries),
            sum(p.numel() for p in model.parameters()),
            dist.device,
            dist.world_size,
        )

        state = {"coef": 0.0, "alpha": 1.0, "beta": 1.0, "best": None, "train_log": results_dir / "train.log.txt"}
        ckpt_path = Path(opt.ckpt_filepath)
        if ckpt_path.is_file():  # a resumed run: keep the best so far
            state["best"] = load_checkpoint_file(ckpt_path).get("val_sumr")

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
            if trainer.history and dist.is_main:
                _append_train_log(state["train_log"], trainer.history[-1])
            state["coef"] = kd_coefficient_for_epoch(opt, epoch)
            state["alpha"], state["beta"] = soft_nce_ratios_for_epoch(opt, epoch)
            criterion.use_hard_negative = opt.hard_negative_start_epoch >= 0 and epoch >= opt.hard_negative_start_epoch
            log.info(
                "epoch %d: KD coefficient %.6f%s",
                epoch,
                state["coef"],
                f", alpha {state['alpha']:.4f}, belta {state['beta']:.4f}" if opt.label_style == "soft" else "",
            )

        def eval_fn(m: torch.nn.Module) -> dict[str, float]:
            epoch = trainer.epoch
            res = evaluate_model(
                m,
                val_vl,
                val_ql,
                video_ids=val_videos.video_ids,
                query_ids=val_queries.cap_ids,
                fusion=_fusion(opt, m),
                device=dist.device,
                keep_scores=False,
            )
            sumr = res.metrics["fused"]["sumr"]
            if dist.is_main:
                log.info("[Val] epoch %d (%.1f s)\n%s", epoch, res.timings["total"], format_table(res.metrics))
                out_dir = results_dir / "eval"
                out_dir.mkdir(exist_ok=True)
                (out_dir / f"val_epoch_{epoch:03d}.json").write_text(
                    json.dumps(
                        {"epoch": epoch, "metrics": res.metrics, "timings_s": res.timings}, indent=2, sort_keys=True
                    )
                    + "\n"
                )
                if state["best"] is None or sumr > state["best"]:  # strict, as the original
                    state["best"] = sumr
                    save_model_checkpoint(
                        ckpt_path, m, epoch=epoch, opt=opt, extra={"val_sumr": sumr, "val_metrics": res.metrics}
                    )
                    log.info("[Val] new best SumR %.2f at epoch %d -> %s", sumr, epoch, ckpt_path)
            out = {f"val/{k}": v for k, v in res.metrics["fused"].items()}
            for b in m.branches:
                out[f"val/{b}_sumr"] = res.metrics[b]["sumr"]
            return out

        loader_for_trainer = loader if not opt.debug else _Limited(loader, n_batches)
        trainer = engine.Trainer(
            model,
            optimizer,
            loader_for_trainer,
            step_fn,
            config=engine.TrainConfig(
                epochs=n_epoch,
                precision=opt.precision,
                out_dir=str(results_dir),
                clip_grad_norm=opt.grad_clip if opt.grad_clip > 0 else None,
                log_every=10,
                monitor="val/sumr",
                monitor_mode="max",
                patience=None if opt.max_es_cnt < 0 else opt.max_es_cnt,
                progress=sys.stdout.isatty(),
            ),
            eval_fn=eval_fn,
            on_epoch_start=on_epoch_start,
            run_config=_plain_opts(opt),
            ddp_kwargs={"find_unused_parameters": False},
        )
        if opt.eval_untrained:
            trainer.epoch = -1
            eval_fn(model.to(dist.device))
            trainer.epoch = 0
        summary = trainer.fit()
        if dist.is_main:
            if trainer.history:
                _append_train_log(state["train_log"], trainer.history[-1], stopped=summary["stopped_early"])
            log.info(
                "best val SumR %.2f at epoch %s", summary["best"]["value"] or float("nan"), summary["best"]["epoch"]
            )
        test_metrics = None
        if not opt.debug and dist.is_main and paths.captions("test").is_file() and ckpt_path.is_file():
            test_metrics = evaluate_run_dir(results_dir, opt, split="test", device=dist.device)
        return {**summary, "results_dir": str(results_dir), "test_metrics": test_metrics}


class _Limited:
    """The first ``n`` batches of a loader (``--debug``)."""

    def __init__(self, loader: Any, n: int) -> None:
        self.loader, self.n = loader, n
        self.sampler = getattr(loader, "sampler", None)
        self.batch_size = getattr(loader, "batch_size", None)
        self.generator = getattr(loader, "generator", None)

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        for i, b in enumerate(self.loader):
            if i >= self.n:
                return
            yield b


def _plain_opts(opt: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(opt).items() if isinstance(v, (str, int, float, bool, list, type(None)))}


def _append_train_log(path: Path, record: dict, *, stopped: bool = False) -> None:
    """One line per epoch, ``<ts> [Epoch] NNN [Loss] name avg ...`` as the original's train.log.txt."""
    losses = " ".join(f"{k[len('epoch/train_') :]} {v:.4f}" for k, v in record.items() if k.startswith("epoch/train_"))
    line = f"{time.strftime('%Y_%m_%d_%H_%M_%S')} [Epoch] {int(record['epoch']):03d} [Loss] {losses}\n"
    with open(path, "a") as f:
        f.write(line)
        if stopped:
            f.write(f"Early Stop at epoch {int(record['epoch'])}\n")


def evaluate_run_dir(results_dir: Path, opt: Any, *, split: str, device: Any = "cpu", trusted: bool = False) -> dict:
    """Evaluate ``results_dir/model.ckpt`` on ``split``; writes the metrics JSON and per-query ranks."""
    from .runner import load_model_from_run

    paths = collection_paths(opt.root_path, opt.collection, opt.visual_feature)
    model, info = load_model_from_run(results_dir, opt, trusted=trusted)
    model.to(device)
    videos, queries, vl, ql = _eval_loaders(paths, opt, split)
    if videos.visual_input_size != model.config.visual_input_size:
        raise ValueError(
            f"{paths.feature_dir}: features have width {videos.visual_input_size}, "
            f"the checkpoint expects {model.config.visual_input_size}"
        )
    res = evaluate_model(
        model,
        vl,
        ql,
        video_ids=videos.video_ids,
        query_ids=queries.cap_ids,
        fusion=_fusion(opt, model),
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    opt = parse_train_options(argv)
    try:
        run_training(opt)
    except FileNotFoundError as err:
        print(f"[dldkd] {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
