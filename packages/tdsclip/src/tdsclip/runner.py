"""What ``train_vision.py`` and ``test_vision.py`` run: config -> data, model -> core Trainer / evaluation.

The flow is one way: entry script -> runner -> (model, data, optim, train, evaluate) -> core.

Run folder (``--exp_dir``, default ``exp_onehot``)::

    <exp_dir>/<data.dataset>/<arch, '/' -> '-'>/<log_time>/
        config.yaml  log.txt  last_model.pt  model_best.pt      (the original's files)
        metrics.jsonl  events.out.tfevents.*  checkpoints/last.pt (engine: logs, exact resume)

``last_model.pt`` / ``model_best.pt`` hold ``epoch``, ``model_state_dict`` (the trained tensors
only: side network, its BatchNorm buffers, ``fc``), ``backbone`` (sizes + sha256 of the frozen CLIP
weights) and the single-view validation ``top1``; the original full files (675 keys for B/16)
load as well.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any, Optional

import torch

from videokd import clip, engine
from videokd.cli import run_dir_guard
from videokd.config import Config, ConfigError, save_yaml
from videokd.data.collate import repeated_augmentation_collate
from videokd.errors import UserError

from . import checkpoint as CK
from . import config as C
from .data import TDSDataset, read_list
from .evaluate import accuracy, video_scores
from .model import TDSConfig, VideoCLIP, is_trainable_name
from .optim import build_adamw, lr_factor
from .train import make_step_fn

__all__ = ["train_parser", "test_parser", "run_train", "run_test", "build_model", "evaluate"]

FORMAT = "tdsclip/1"


# ---------------------------------------------------------------------------------------------- arguments


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-cfg", required=True, help="config YAML (configs/<dataset>/*.yaml)")
    p.add_argument("--dist_url", default="env://", help="accepted for compatibility (torchrun's environment is read)")
    p.add_argument("--world_size", type=int, default=1, help="accepted for compatibility (from the environment)")
    p.add_argument("--local-rank", "--local_rank", dest="local_rank", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument(
        "--precision",
        choices=["amp", "fp16", "bf16", "fp32"],
        default="amp",
        help="amp = fp16 autocast + GradScaler on CUDA (fp32 on the CPU); fp16 / bf16 autocast; fp32",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: this rank's GPU, else the CPU)")
    p.add_argument(
        "--data_root",
        default=None,
        help="root of the relative paths in the config (default $VIDEOKD_DATA, else ./data)",
    )
    p.add_argument("overrides", nargs="*", help="config overrides KEY.SUB=value (e.g. solver.epochs=2)")


def train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="train_vision.py", description="Train TDS-CLIP (side network on a frozen CLIP).")
    _common(p)
    p.add_argument("--log_time", default="001", help="name of the run folder (the scripts pass a timestamp)")
    p.add_argument("--exp_dir", default="exp_onehot", help="output root (default ./exp_onehot)")
    p.add_argument("--enable_deepspeed", action="store_true", help="not supported (the original ignored it)")
    return p


def test_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="test_vision.py", description="Multi-view test of a TDS-CLIP checkpoint.")
    _common(p)
    p.add_argument("--weights", required=True, help="checkpoint: last_model.pt / model_best.pt (ours or original)")
    p.add_argument("--test_crops", type=int, default=1, choices=[1, 3, 5, 10], help="spatial crops per clip")
    p.add_argument("--test_clips", type=int, default=1, help="temporal clips per video")
    p.add_argument("--dense", action="store_true", help="dense (I3D-style, 128-frame window) clip sampling")
    p.add_argument("--output_json", default=None, help="also write the metrics here")
    return p


def precision_for(name: str, device: torch.device) -> str:
    if name == "amp":
        return "fp16" if device.type == "cuda" else "fp32"
    return name


# ---------------------------------------------------------------------------------------------- model


def _random_trunk_sizes(cfg: Config) -> dict[str, int]:
    arch = cfg.network.arch
    if arch not in clip.MODEL_CONFIGS:
        raise ConfigError(
            f"network.init: False needs a known network.arch ({sorted(clip.MODEL_CONFIGS)}) to size the trunk; "
            f"got {arch!r}"
        )
    m = clip.MODEL_CONFIGS[arch]
    return {
        "image_resolution": cfg.data.input_size,
        "vision_patch_size": m.vision_patch_size,
        "vision_width": m.vision_width,
        "vision_layers": m.vision_layers,
        "vision_heads": m.vision_heads,
    }


def build_model(cfg: Config, root: Path, *, log=print) -> VideoCLIP:
    """``VideoCLIP`` with the CLIP weights of ``network.clip_path`` (or a random trunk with ``network.init: False``)."""
    n, d = cfg.network, cfg.data
    kw = dict(side_dim=n.side_dim, num_classes=d.num_classes, num_segments=d.num_segments, drop_fc=float(n.drop_fc))
    if n.init:
        path = C.clip_path(cfg, root)
        if not path.is_file():
            raise UserError(
                f"CLIP weights not found: {path}. Download OpenAI's {C.clip_file_name(n.arch)} "
                "(the URL is in videokd.clip.MODEL_URLS) into <data root>/clip_pretrain/, or set network.clip_path"
            )
        model, report = CK.model_from_clip_file(path, **kw)
        log(
            f"CLIP trunk from {path}: {len(report.loaded)} tensors loaded, {len(report.not_in_checkpoint)} "
            f"side/fc tensors initialised, {len(report.unused)} file entries unused (text tower, ln_post, proj)"
        )
        cfg_model = model.config
        known = clip.MODEL_CONFIGS.get(n.arch)
        if known is not None and (known.vision_width, known.vision_layers, known.vision_patch_size) != (
            cfg_model.vision_width,
            cfg_model.vision_layers,
            cfg_model.vision_patch_size,
        ):
            raise ConfigError(
                f"network.arch {n.arch!r} does not match the CLIP file {path} (width {cfg_model.vision_width}, "
                f"{cfg_model.vision_layers} layers, patch {cfg_model.vision_patch_size})"
            )
    else:
        model = VideoCLIP(TDSConfig(**_random_trunk_sizes(cfg), **kw))
        log("network.init: False - the CLIP trunk is randomly initialised")
    if model.config.image_resolution != d.input_size:
        raise ConfigError(
            f"data.input_size {d.input_size} differs from the CLIP trunk's resolution {model.config.image_resolution}"
        )
    return model


def load_checkpoint_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CK.TDSCheckpointError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - unpickling errors have many types
        raise CK.TDSCheckpointError(f"{path}: not a readable checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(obj, dict):
        raise CK.TDSCheckpointError(f"{path}: expected a dict with model_state_dict, got {type(obj).__name__}")
    return obj


def load_weights_into(model: VideoCLIP, path: Path, *, strict: bool = True, log=print) -> dict[str, Any]:
    obj = load_checkpoint_file(path)
    state = obj.get("model_state_dict", obj)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CK.TDSCheckpointError(f"{path}: no model_state_dict of tensors in it")
    if strict:
        kind = CK.load_model_weights(model, state, source=str(path), check_backbone=obj.get("backbone"))
        log(f"loaded {kind} weights from {path}")
    else:
        res = model.load_state_dict(CK.strip_module(state), strict=False)
        log(f"pretrain {path}: {len(res.missing_keys)} missing, {len(res.unexpected_keys)} unexpected keys")
    return obj


# ---------------------------------------------------------------------------------------------- data


def make_dataset(cfg: Config, root: Path, split: str, **kwargs: Any) -> TDSDataset:
    d = cfg.data
    which = "train" if split == "train" else "val"
    list_path = C.resolve(d[f"{which}_list"], root)
    data_dir = C.resolve(d[f"{which}_root"], root)
    if list_path is None or data_dir is None:
        raise ConfigError(f"data.{which}_list and data.{which}_root must be set (relative to the data root {root})")
    dense = kwargs.pop("dense", bool(d.dense) if split == "train" else False)
    records = read_list(list_path, modality="video" if d.modality == "video" else "RGB", filter_short=True)
    if not data_dir.is_dir():
        raise UserError(f"data.{which}_root: {data_dir} is not a folder")
    return TDSDataset(
        records,
        data_dir,
        dataset=d.dataset,
        modality=d.modality,
        mode=split,
        num_segments=d.num_segments,
        input_size=d.input_size,
        image_tmpl=d.image_tmpl,
        scale_size=d.scale_size,
        num_sample=d.num_sample,
        rand_aug=d.rand_aug,
        rand_erase=d.rand_erase,
        flip_pairs=d.flip_pairs,
        random_shift=d.random_shift,
        window_wrap=d.window_wrap,
        video_backend=d.video_backend,
        dense=dense,
        **kwargs,
    )


@torch.no_grad()
def evaluate(model: torch.nn.Module, dataset: TDSDataset, *, batch_size: int, workers: int, device) -> dict[str, float]:
    """Exact top-1 / top-5 (percent) over every video of ``dataset`` once, views softmax-averaged."""
    loader = engine.build_eval_loader(dataset, batch_size=batch_size, num_workers=workers)
    probs, labels = [], []
    for batch in loader:
        x = batch["video"].to(device, non_blocking=True)
        views = dataset.views
        logits = model(x.reshape(-1, *x.shape[-3:]))
        probs.append(video_scores(logits.float(), views))
        labels.append(batch["label"].to(device))
    k = probs[0].shape[1] if probs else int(model.config.num_classes)
    local_p = torch.cat(probs) if probs else torch.zeros(0, k, device=device)
    local_l = torch.cat(labels) if labels else torch.zeros(0, dtype=torch.long, device=device)
    all_p = engine.gather_exact(local_p, len(dataset))
    all_l = engine.gather_exact(local_l, len(dataset))
    top1, top5 = accuracy(all_p, all_l, ks=(1, min(5, k)))
    return {"top1": top1, "top5": top5, "videos": float(len(dataset))}


# ---------------------------------------------------------------------------------------------- train


def run_dir_for(args: argparse.Namespace, cfg: Config) -> Path:
    arch = str(cfg.network.arch).replace("/", "-")
    return Path(args.exp_dir) / str(cfg.data.dataset) / arch / str(args.log_time)


def _checkpoint(model: VideoCLIP, epoch: int, top1: Optional[float], cfg: Config, backbone: dict) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "epoch": int(epoch),
        "model_state_dict": model.trainable_state_dict(),
        "backbone": backbone,
        "top1": top1,
        "config": cfg.to_dict(),
    }


def run_train(argv: Optional[list[str]] = None) -> int:
    args = train_parser().parse_intermixed_args(argv)
    if args.enable_deepspeed:
        raise ConfigError("--enable_deepspeed is not supported (the original accepted and ignored it); drop it")
    cfg = C.load_run_config(args.config, args.overrides)
    root = C.data_root(args.data_root)
    s, d = cfg.solver, cfg.data
    if s.start_epoch:
        raise ConfigError("solver.start_epoch must be 0: to continue a run, set resume: <its run folder>")
    with engine.distributed_session(args.device) as dist:
        engine.seed_everything(cfg.seed + dist.rank)
        if cfg.network.sync_bn and dist.world_size > 1 and dist.device.type != "cuda":
            raise ConfigError(
                "network.sync_bn: SyncBatchNorm needs CUDA devices; set network.sync_bn: False on the CPU"
            )
        run_dir = Path(cfg.resume).expanduser() if cfg.resume else run_dir_for(args, cfg)
        if cfg.resume and not (run_dir / "checkpoints" / "last.pt").is_file():
            raise ConfigError(
                f"resume: {run_dir} is not a run folder with checkpoints/last.pt "
                "(to start from a checkpoint's weights use pretrain: <file>)"
            )
        with run_dir_guard(run_dir, enabled=dist.is_main) as guard:
            log_path = run_dir / "log.txt"

            def log(msg: str) -> None:
                if dist.is_main:
                    print(msg, flush=True)
                    with open(log_path, "a") as f:
                        f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}\n")

            C.check_label_list(cfg, root)
            train_set = make_dataset(cfg, root, "train")
            val_set = make_dataset(cfg, root, "val")
            model = build_model(cfg, root, log=log)
            if cfg.pretrain:
                load_weights_into(model, C.resolve(cfg.pretrain, Path.cwd()), strict=False, log=log)
            if cfg.network.sync_bn and dist.world_size > 1:
                model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
            if dist.is_main:
                save_yaml(cfg, run_dir / "config.yaml")
            precision = precision_for(args.precision, dist.device)
            evaluate_kw = dict(batch_size=d.batch_size, workers=d.workers, device=dist.device)
            if s.evaluate:
                model.to(dist.device).eval()
                with engine.Precision(precision, dist.device).autocast():
                    m = evaluate(model, val_set, **evaluate_kw)
                log(f"evaluate: top1 {m['top1']:.3f} top5 {m['top5']:.3f} over {int(m['videos'])} videos")
                guard.keep()
                return 0
            loader = engine.build_train_loader(
                train_set,
                batch_size=d.batch_size,
                seed=cfg.seed,
                num_workers=d.workers,
                collate_fn=repeated_augmentation_collate,
                drop_last=len(train_set) >= d.batch_size * dist.world_size * 2,
                pin_memory=dist.device.type == "cuda",
            )
            opt = build_adamw(
                model,
                lr=s.lr,
                weight_decay=s.weight_decay,
                betas=tuple(s.betas),
                clip_ratio=s.clip_ratio,
                sync_bn=cfg.network.sync_bn,
                grad_accumulation_steps=s.grad_accumulation_steps,
            )
            tcfg = engine.TrainConfig(
                epochs=s.epochs,
                grad_accum=s.grad_accumulation_steps,
                precision=precision,
                out_dir=str(run_dir),
                log_every=cfg.logging.print_freq,
                eval_every_epochs=cfg.logging.eval_freq,
                monitor="val/top1",
                max_batches_per_epoch=s.max_batches_per_epoch,
                progress=False,
            )
            holder: dict[str, Any] = {}
            backbone = CK.backbone_identity(model)
            last = run_dir / "checkpoints" / "last.pt"
            if last.is_file():  # a resume: the frozen CLIP is not in the engine's checkpoint, so check it
                before = engine.load_checkpoint(last).get("config", {}).get("backbone", {})
                if before and before.get("frozen_sha256") != backbone["frozen_sha256"]:
                    raise CK.TDSCheckpointError(
                        f"{last} was trained on another CLIP backbone than {C.clip_path(cfg, root)}; "
                        "point network.clip_path at the file used for that run"
                    )
            batches = len(loader) if s.max_batches_per_epoch is None else min(len(loader), s.max_batches_per_epoch)
            factor = lr_factor(
                epochs=s.epochs,
                warmup=s.lr_warmup_step,
                iters_per_epoch=max(1, batches // s.grad_accumulation_steps),
                held=s.original_lr_stepping,
            )

            def eval_fn(m: torch.nn.Module) -> dict[str, float]:
                epoch = holder["trainer"].eval_epoch
                if epoch in set(cfg.logging.skip_epoch):
                    return {}  # the original skips validation (and checkpoints) at these epochs
                r = evaluate(m, val_set, **evaluate_kw)
                return {"val/top1": r["top1"], "val/top5": r["top5"]}

            def on_epoch_end(trainer: engine.Trainer, metrics: dict[str, float]) -> None:
                top1 = metrics.get("val/top1")
                summary = ", ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items()))
                log(f"epoch {trainer.epoch}: {summary}")
                if dist.is_main:
                    engine.save_checkpoint(
                        run_dir / "last_model.pt", _checkpoint(model, trainer.epoch, top1, cfg, backbone)
                    )

            def on_best(trainer: engine.Trainer, metrics: dict[str, float]) -> None:
                log(f"new best val top1 {metrics['val/top1']:.3f} at epoch {trainer.epoch}")
                if dist.is_main:
                    ck = _checkpoint(model, trainer.epoch, metrics["val/top1"], cfg, backbone)
                    engine.save_checkpoint(run_dir / "model_best.pt", ck)

            trainer = engine.Trainer(
                model,
                opt,
                loader,
                make_step_fn(s.smoothing),
                config=tcfg,
                schedulers=[engine.ParamScheduler(opt, factor, key="lr", mode="factor")],
                eval_fn=eval_fn,
                on_epoch_end=on_epoch_end,
                on_best=on_best,
                run_config={**cfg.to_dict(), "backbone": backbone},
                dist=dist,
                # the frozen CLIP comes from network.clip_path at every start: resume state without it
                checkpoint_model_keys=is_trainable_name,
            )
            holder["trainer"] = trainer
            n_tr = sum(p.numel() for p in model.parameters() if p.requires_grad)
            log(
                f"run {run_dir}: {len(train_set)} train / {len(val_set)} val videos, {n_tr:,} trainable parameters, "
                f"device {dist.device}, world {dist.world_size}, precision {precision}"
            )
            guard.keep()
            summary = trainer.fit()
            log(f"done: {json.dumps(summary.get('best'))}")
    return 0


# ---------------------------------------------------------------------------------------------- test


def run_test(argv: Optional[list[str]] = None) -> int:
    args = test_parser().parse_intermixed_args(argv)
    if args.test_clips < 1:
        raise ConfigError(f"--test_clips must be >= 1, got {args.test_clips}")
    cfg = C.load_run_config(args.config, args.overrides)
    root = C.data_root(args.data_root)
    weights = Path(args.weights)
    load_checkpoint_file(weights)  # a wrong path fails before the data and the model are built
    with engine.distributed_session(args.device) as dist:
        say = print if dist.is_main else (lambda *_: None)
        dataset = make_dataset(
            cfg, root, "test", test_crops=args.test_crops, test_clips=args.test_clips, dense=args.dense
        )
        model = build_model(cfg, root, log=say)
        load_weights_into(model, weights, log=say)
        model.to(dist.device).eval()
        precision = precision_for(args.precision, dist.device)
        start = time.time()
        with engine.Precision(precision, dist.device).autocast():
            m = evaluate(model, dataset, batch_size=cfg.data.batch_size, workers=cfg.data.workers, device=dist.device)
        views = f"{cfg.data.num_segments}x{args.test_crops}x{args.test_clips}"
        say(
            f"Test ({views} views, {int(m['videos'])} videos, {time.time() - start:.1f}s): "
            f"top1 {m['top1']:.3f} top5 {m['top5']:.3f}"
        )
        if args.output_json and dist.is_main:
            Path(args.output_json).write_text(json.dumps({**m, "views": views, "weights": str(weights)}, indent=1))
    return 0
