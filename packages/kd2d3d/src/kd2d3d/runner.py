"""Train, validate and test as configured (the lineage's ``main.py``), on the core engine.

Flow: options -> model (pretrained weights replaced head, or a lineage ``resume_path``) -> SGD
(dampening, fine-tuning groups) + ReduceLROnPlateau on the validation loss -> the core
:class:`~videokd.engine.Trainer` (DDP under torchrun/SLURM, AMP, resumable ``checkpoints/last.pt``)
with the distillation step -> the test loop (video scores from every clip).

Files in ``result_path`` (rank 0): ``opts.json`` (the lineage's resolved options), ``config.yaml``
(the effective config), ``train.log`` / ``train_batch.log`` / ``val.log`` (the lineage's
tab-separated logs; ``lr`` is that of parameter group 0, as the lineage logged it),
``save_<epoch>.pth`` every ``checkpoint`` epochs (``{epoch, arch, state_dict, optimizer}``, plain
data), ``<val|test>.json`` (``{"results": {video_id: top-k [{label, score}]}}``) and
``<val|test>_accuracy.json`` (video top-1/top-5 when the subset has labels), ``metrics.jsonl`` and
TensorBoard events (core logger).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from videokd import engine
from videokd.cli import run_dir_guard
from videokd.config import save_yaml
from videokd.errors import UserError

from . import data as D
from .evaluate import ValEpoch, clip_accuracy, video_accuracy, video_results
from .models import build_model
from .opts import build_plateau, build_sgd, norm_method, resolve
from .teacher import Distiller, DistillStudent, build_teacher

__all__ = ["DataMissingError", "run", "load_lineage_checkpoint", "save_lineage_checkpoint"]

log = logging.getLogger("kd2d3d")


class DataMissingError(UserError, FileNotFoundError):
    """The frame folders or the annotation json are not where the config says."""


def _data_hint(opts: Mapping[str, Any]) -> str:
    return (
        "prepare the frames with tools/video_jpg_*.py + tools/n_frames_*.py and the json with tools/*_json.py "
        "(see packages/kd2d3d/README.md), or make a synthetic stand-in: "
        "python datasets/make_synthetic.py resnet3d-jpg DIR, then video_path=DIR/jpg annotation_path=DIR/ucf101_01.json"
    )


def check_data(opts: Mapping[str, Any]) -> None:
    missing = [p for p in (opts["video_path"], opts["annotation_path"]) if not os.path.exists(p)]
    if missing:
        raise DataMissingError(f"data not found: {', '.join(missing)}. {_data_hint(opts)}")


# ----------------------------------------------------------------------------- checkpoints
def save_lineage_checkpoint(path: Path, *, epoch: int, arch: str, net: nn.Module, optimizer) -> None:
    """``{"epoch": epoch + 1, "arch", "state_dict", "optimizer"}`` as the lineage saved it (plain data)."""
    engine.save_checkpoint(
        path,
        {"epoch": epoch + 1, "arch": arch, "state_dict": net.state_dict(), "optimizer": optimizer.state_dict()},
    )


def load_lineage_checkpoint(path: str, *, arch: str, what: str) -> dict:
    """A lineage checkpoint (``save_N.pth`` or a released model): a dict with ``state_dict``; its
    ``arch`` must be the configured one."""
    if not os.path.isfile(path):
        raise engine.CheckpointError(f"{what} not found: {path}")
    ckpt = engine.load_checkpoint(path)
    if not isinstance(ckpt, Mapping) or "state_dict" not in ckpt:
        raise engine.CheckpointError(
            f"{path}: not a 3D-ResNets checkpoint (expected a dict with 'state_dict' and 'arch')"
        )
    if ckpt.get("arch", arch) != arch:
        raise engine.CheckpointError(
            f"{path}: checkpoint arch {ckpt['arch']!r} does not match the configured {arch!r} (model / model_depth)"
        )
    return ckpt


def _replace_head(net: nn.Module, n_classes: int) -> None:
    name = "fc" if hasattr(net, "fc") else "classifier"
    old = getattr(net, name)
    setattr(net, name, nn.Linear(old.in_features, n_classes))


def _ignore_nbt() -> list[str]:
    return [r"num_batches_tracked$"]  # 2017/2018 checkpoints have none


# ----------------------------------------------------------------------------- logs
LOG_HEADERS = {
    "train": ("epoch", "loss", "acc", "lr"),
    "train_batch": ("epoch", "batch", "iter", "loss", "acc", "lr"),
    "val": ("epoch", "loss", "acc"),
}


class LineageLogs:
    """``train.log``, ``train_batch.log``, ``val.log`` (tab-separated, with headers)."""

    def __init__(self, folder: Path, enabled: bool) -> None:
        self.enabled = enabled
        self.files = {}
        if enabled:
            for name, cols in LOG_HEADERS.items():
                head = "\t".join(cols)
                path = folder / f"{name}.log"
                fresh = not path.exists()
                self.files[name] = open(path, "a", buffering=1)
                if fresh:
                    self.files[name].write(head + "\n")

    def write(self, name: str, *values: Any) -> None:
        if self.enabled:
            self.files[name].write("\t".join(str(v) for v in values) + "\n")

    def close(self) -> None:
        for f in self.files.values():
            f.close()


# ----------------------------------------------------------------------------- the run
def _device(cfg: Mapping[str, Any], opts: Mapping[str, Any]) -> Optional[str]:
    if cfg["run"]["device"]:
        return cfg["run"]["device"]
    return "cpu" if opts["no_cuda"] else None


def _loader_workers(opts: Mapping[str, Any]) -> int:
    return int(opts["n_threads"])


def run(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Run the configured phases; returns a summary (best validation accuracy, test accuracy...)."""
    opts = resolve(cfg)
    check_data(opts)
    summary: dict[str, Any] = {}
    with engine.distributed_session(_device(cfg, opts)) as dist:
        engine.seed_everything(opts["manual_seed"])
        result = Path(opts["result_path"])
        with run_dir_guard(result, enabled=dist.is_main) as guard:
            annotation = D.load_annotation(opts["annotation_path"])
            mean, std = norm_method(opts)
            net = build_model(
                model=opts["model"],
                model_depth=opts["model_depth"],
                n_classes=opts["n_classes"],
                sample_size=opts["sample_size"],
                sample_duration=opts["sample_duration"],
                resnet_shortcut=opts["resnet_shortcut"],
                wide_resnet_k=opts["wide_resnet_k"],
                resnext_cardinality=opts["resnext_cardinality"],
                pooling=cfg["compat"]["pooling"],
                detach_shortcut_a=cfg["compat"]["detach_shortcut_a"],
                base_width=cfg["student"]["base_width"],
            )
            n_out = opts["n_classes"]
            if opts["pretrain_path"]:
                ckpt = load_lineage_checkpoint(opts["pretrain_path"], arch=opts["arch"], what="pretrain_path")
                engine.load_weights(net, ckpt, ignore_missing=_ignore_nbt())
                n_out = opts["n_finetune_classes"]
                _replace_head(net, n_out)
            begin_epoch, resume_optimizer = opts["begin_epoch"], None
            if opts["resume_path"]:
                ckpt = load_lineage_checkpoint(opts["resume_path"], arch=opts["arch"], what="resume_path")
                engine.load_weights(net, ckpt, ignore_missing=_ignore_nbt())
                begin_epoch = int(ckpt.get("epoch", begin_epoch))
                resume_optimizer = ckpt.get("optimizer")
            names = D.class_names(annotation, opts["dataset"])
            if len(names) > n_out:
                raise UserError(
                    f"{opts['annotation_path']} has {len(names)} classes but the network has {n_out} outputs "
                    f"(set {'n_finetune_classes' if opts['pretrain_path'] else 'n_classes'}={len(names)})"
                )
            distiller = Distiller(cfg["kd"])
            teacher = None
            if distiller.uses_teacher and not opts["no_train"]:
                teacher = build_teacher(cfg, n_classes=n_out, mean=mean, std=std, norm_value=opts["norm_value"])
            needs_proj = cfg["kd"]["type"] in ("feature", "both")
            model = DistillStudent(
                net,
                teacher_features=teacher.num_features if (teacher is not None and needs_proj) else 0,
                with_maps=cfg["kd"]["at_weight"] > 0,
            )
            if dist.is_main:
                (result / "opts.json").write_text(json.dumps(opts))
                save_yaml(cfg, result / "config.yaml")
            train_ds = val_ds = None
            if not opts["no_train"]:
                train_ds = _dataset(annotation, opts, "training", 1, "train", mean, std)
            if not opts["no_val"]:
                val_ds = _dataset(annotation, opts, "validation", opts["n_val_samples"], "val", mean, std)
            guard.keep()

        if train_ds is not None:
            summary.update(
                _train(cfg, opts, model, teacher, distiller, train_ds, val_ds, begin_epoch, resume_optimizer, dist)
            )
        if opts["test"]:
            summary.update(_test(cfg, opts, annotation, model, mean, std, dist))
    return summary


def _dataset(annotation, opts, subset: str, n_samples: int, phase: str, mean, std) -> D.FrameClipDataset:
    if opts["dataset"] == "activitynet":
        samples, _ = D.make_activitynet_samples(
            annotation,
            opts["video_path"],
            subset,
            n_samples=n_samples,
            sample_duration=opts["sample_duration"],
            untrimmed=subset == "testing",
        )
    else:
        samples, _ = D.make_samples(
            annotation,
            opts["video_path"],
            subset,
            dataset=opts["dataset"],
            n_samples=n_samples,
            sample_duration=opts["sample_duration"],
        )
    if not samples:
        raise DataMissingError(
            f"no {subset} video of {opts['annotation_path']} has a frame folder with n_frames > 0 under "
            f"{opts['video_path']}/<label>/<video>. {_data_hint(opts)}"
        )
    transform = D.ClipTransform.from_opts(phase, opts, mean, std)
    return D.FrameClipDataset(samples, transform, opts["sample_duration"])


def _to_device(clip: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    clip = clip.to(device, non_blocking=True)
    return clip.contiguous(memory_format=torch.channels_last_3d) if channels_last else clip


def _train(cfg, opts, model, teacher, distiller, train_ds, val_ds, begin_epoch, resume_optimizer, dist) -> dict:
    result = Path(opts["result_path"])
    run_cfg = cfg["run"]
    channels_last = bool(run_cfg["channels_last"]) and dist.device.type == "cuda"
    if channels_last:
        model.to(memory_format=torch.channels_last_3d)
    optimizer = build_sgd(list(model.named_parameters()), opts)
    if resume_optimizer is not None:
        try:
            optimizer.load_state_dict(resume_optimizer)
        except (ValueError, KeyError) as err:
            raise engine.CheckpointError(f"{opts['resume_path']}: optimizer state does not fit ({err})") from None
    schedulers = [build_plateau(optimizer, opts)] if val_ds is not None else []
    world = dist.world_size
    per_rank = max(1, opts["batch_size"] // world)
    train_loader = engine.build_train_loader(
        train_ds,
        batch_size=per_rank,
        # a last batch of a single clip cannot go through batch norm in training mode (the lineage crashed)
        # (each rank gets ceil(n / world) samples: the sampler pads the shards evenly)
        drop_last=per_rank > 1 and math.ceil(len(train_ds) / world) % per_rank == 1,
        seed=opts["manual_seed"],
        num_workers=_loader_workers(opts),
        pin_memory=dist.device.type == "cuda",
    )
    val_loader = (
        engine.build_eval_loader(
            val_ds, batch_size=max(1, opts["batch_size"] // world), num_workers=_loader_workers(opts)
        )
        if val_ds is not None
        else None
    )
    logs = LineageLogs(result, enabled=dist.is_main)

    def step_fn(m: nn.Module, batch: dict) -> dict[str, torch.Tensor]:
        clip = _to_device(batch["clip"], dist.device, channels_last)
        target = batch["label"].to(dist.device)
        out = m(clip)
        t_out = None
        if teacher is not None:
            with torch.no_grad():
                t_out = teacher(clip)
        terms = distiller(out, target, t_out)
        terms["acc"] = (out["logits"].detach().argmax(1) == target).float().mean()
        return terms

    def eval_fn(m: nn.Module) -> dict[str, float]:
        meter = ValEpoch()
        for batch in val_loader:
            clip = _to_device(batch["clip"], dist.device, channels_last)
            with trainer.precision.autocast():
                logits = m(clip)["logits"]
            meter.update(logits.float(), batch["label"].to(dist.device))
        res = meter.compute()
        return {"val/loss": res["loss"], "val/acc": res["acc"]}

    def on_epoch_end(trainer: engine.Trainer, metrics: Mapping[str, float]) -> None:
        epoch = begin_epoch + trainer.epoch
        logs.write(
            "train",
            epoch,
            metrics.get("epoch/train_loss", float("nan")),
            metrics.get("epoch/train_acc", float("nan")),
            optimizer.param_groups[0]["lr"],
        )
        if "val/loss" in metrics:
            logs.write("val", epoch, metrics["val/loss"], metrics["val/acc"])
        if dist.is_main and opts["checkpoint"] and epoch % opts["checkpoint"] == 0:
            save_lineage_checkpoint(
                result / f"save_{epoch}.pth", epoch=epoch, arch=opts["arch"], net=model.net, optimizer=optimizer
            )

    def logging_step_fn(m: nn.Module, batch: dict) -> dict[str, torch.Tensor]:
        terms = step_fn(m, batch)
        if dist.is_main:  # train_batch.log: one line per batch, as the lineage wrote it
            epoch = begin_epoch + trainer.epoch
            logs.write(
                "train_batch",
                epoch,
                trainer.batch_in_epoch + 1,
                trainer.step + 1,
                float(terms["loss"].detach()),
                float(terms["acc"]),
                optimizer.param_groups[0]["lr"],
            )
        return terms

    tc = engine.TrainConfig(
        epochs=max(0, opts["n_epochs"] - begin_epoch + 1),
        precision=run_cfg["precision"],
        out_dir=str(result),
        log_every=run_cfg["log_every"],
        eval_every_epochs=1,
        monitor="val/acc" if val_ds is not None else None,
        monitor_mode="max",
        max_batches_per_epoch=run_cfg["max_batches_per_epoch"] or None,
        progress=run_cfg["progress"],
    )
    trainer = engine.Trainer(
        model,
        optimizer,
        train_loader,
        logging_step_fn,
        config=tc,
        schedulers=schedulers,
        eval_fn=eval_fn if val_loader is not None else None,
        frozen=[teacher] if teacher is not None else [],
        on_epoch_end=on_epoch_end,
        run_config=dict(cfg),
        dist=dist,
    )
    try:
        trainer.fit()
    finally:
        logs.close()
    out = {"epochs": trainer.epoch, "best_val_acc": trainer.best}
    if trainer.last_metrics:
        out["last_metrics"] = dict(trainer.last_metrics)
    return out


@torch.no_grad()
def _test(cfg, opts, annotation, model, mean, std, dist) -> dict:
    subset = "validation" if opts["test_subset"] == "val" else "testing"
    ds = _dataset(annotation, opts, subset, 0, "test", mean, std)
    model = model.to(dist.device).eval()
    loader = engine.build_eval_loader(
        ds, batch_size=max(1, opts["batch_size"] // dist.world_size), num_workers=_loader_workers(opts)
    )
    logits, index = [], []
    for batch in loader:
        logits.append(model(batch["clip"].to(dist.device))["logits"].float())
        index.append(batch["index"].to(dist.device))
    local = torch.cat(logits) if logits else torch.zeros(0, 1, device=dist.device)
    local_idx = torch.cat(index) if index else torch.zeros(0, dtype=torch.long, device=dist.device)
    all_logits = engine.gather_exact(local, len(ds)).cpu()
    all_idx = engine.gather_exact(local_idx, len(ds)).cpu()
    order = torch.argsort(all_idx)
    all_logits = all_logits[order]
    out: dict[str, Any] = {}
    if dist.is_main:
        names = dict(enumerate(D.class_names(annotation, opts["dataset"])))
        ids = [ds.samples[int(i)]["video_id"] for i in all_idx[order]]
        results = video_results(
            all_logits,
            ids,
            names,
            softmax=not opts["no_softmax_in_test"],
            top_k=cfg["compat"]["test_top_k"],
            drop_last=cfg["compat"]["drop_last_test_video"],
        )
        name = "val" if opts["test_subset"] == "val" else "test"
        result = Path(opts["result_path"])
        (result / f"{name}.json").write_text(json.dumps({"results": results}))
        out["test_videos"] = len(results)
        if subset != "testing":
            labels = torch.tensor([ds.samples[int(i)]["label"] for i in all_idx[order]])
            acc = {
                "clip_top1": clip_accuracy(all_logits, labels),
                "video_top1": video_accuracy(annotation, results, subset=subset, dataset=opts["dataset"], k=1),
                "video_top5": video_accuracy(annotation, results, subset=subset, dataset=opts["dataset"], k=5),
            }
            (result / f"{name}_accuracy.json").write_text(json.dumps(acc, indent=1))
            out.update({f"test_{k}": v for k, v in acc.items()})
            log.info(
                "test (%s): video top-1 %.4f, top-5 %.4f, clip top-1 %.4f",
                name,
                acc["video_top1"],
                acc["video_top5"],
                acc["clip_top1"],
            )
    return out
