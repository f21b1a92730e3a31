"""XKD pre-training (the original ``train/main_xkd.py``, run by ``codes/train/src/xkd.sh``).

``python -m xkd.pretrain -c xkd.yaml [--data_dir DIR] [--output_dir DIR] [--job_id ID] [--resume ID]
[--device cpu|cuda] [KEY=VALUE ...]``

* ``-c`` names a yaml under ``codes/train/configs/<sub_dir>/<db>/`` (or is a path); ``KEY=VALUE``
  overrides any key (``hyperparams.num_epochs=2``); unknown keys are rejected with the nearest one.
* Data: ``--data_dir`` (default ``$VIDEOKD_DATA/kinetics400``, ``VIDEOKD_DATA`` defaulting to
  ``<repo>/data``) holding ``train/<class>/<video>``; the synthetic generator's ``videos/`` level
  is accepted too.
* Output: ``<output_dir>/<parent_dir>/<sub_dir>/<job_id>/``: ``model/checkpoint.pth.tar`` (the
  original layout: ``module.``-prefixed model, optimizer, epoch, amp), the four backbone files
  every ``hyperparams.save_every`` epochs and at the end, ``checkpoints/last.pt`` (exact resume:
  teachers, centres, optimizer, RNG, schedule position), ``metrics.jsonl`` + TensorBoard, the
  effective ``config.yaml``.
* Distributed: ``torchrun`` or SLURM (``srun``) environments are read by the core; the yaml's
  ``dataset.batch_size`` is the global batch, split over the processes. The original's
  ``--dist-url/--rank/--world-size/--multiprocessing-distributed`` flags are accepted and ignored.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import torch

import videokd.cli
from videokd.config import ConfigError, load_config, save_yaml
from videokd.data.robust import RobustDataset
from videokd.engine import TrainConfig, Trainer
from videokd.engine.checkpoint import save_checkpoint
from videokd.engine.distributed import distributed_session
from videokd.engine.sampling import build_train_loader
from videokd.engine.schedules import ParamScheduler
from videokd.errors import UserError

from .checkpoint import save_backbone_files
from .data import DataError, KineticsAV
from .model import XKDNet, build_model
from .optim import build_xkd_optimizer, cancel_last_layer_gradients, clip_student_gradients
from .schedules import step_schedules, temperature_schedules

__all__ = ["PACKAGE_ROOT", "LOSS_KEYS", "main", "resolve_config_path", "resolve_data_dir", "build_parser"]

# packages/xkd (codes/*/configs live there): $XKD_HOME when set (an installed, non-editable xkd has no
# configs beside it), else the source checkout this module sits in.
PACKAGE_ROOT = Path(os.environ.get("XKD_HOME") or Path(__file__).resolve().parents[2])
REPO_ROOT = PACKAGE_ROOT.parents[1]
DEFAULT_CONFIG = PACKAGE_ROOT / "codes" / "train" / "configs" / "pretext" / "kinetics400" / "xkd.yaml"
LOSS_KEYS = (
    "loss",
    "vid_recon_loss",
    "aud_recon_loss",
    "as2vs_align_loss",
    "vt2at_align_loss",
    "vt2as_kd_loss",
    "at2vs_kd_loss",
    "recon_loss",
    "cmkd_loss",
    "alignment_loss",
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xkd.sh", description="XKD audio-visual pre-training (XKD / XKD-MAS / XKD-MATS)")
    p.add_argument(
        "-c", "--config-file", default="xkd.yaml", help="yaml name under codes/train/configs/<sub_dir>/<db>/ or a path"
    )
    p.add_argument("--db", default="kinetics400")
    p.add_argument("--parent_dir", default="Transformer")
    p.add_argument("--sub_dir", default="pretext")
    p.add_argument("--job_id", default=None, help="run name (default: a timestamp)")
    p.add_argument(
        "--data_dir", default=None, help="Kinetics root with train/<class>/<video> (default $VIDEOKD_DATA/kinetics400)"
    )
    p.add_argument("--output_dir", default=None, help="default $VIDEOKD_OUTPUT or <repo>/OUTPUTS")
    p.add_argument(
        "--resume", default=None, metavar="JOB_ID", help="continue the run <output_dir>/<parent_dir>/<sub_dir>/JOB_ID"
    )
    p.add_argument("--seed", type=int, default=99999)
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument(
        "--precision",
        default=None,
        choices=("fp32", "bf16", "fp16"),
        help="default: fp16 on CUDA when apex: true, else fp32",
    )
    p.add_argument(
        "--num_workers",
        type=int,
        default=None,
        help="DataLoader workers per process (default: yaml num_workers / GPUs)",
    )
    p.add_argument("--max_steps", type=int, default=None, help="stop after this many optimizer steps (resume later)")
    p.add_argument("--max_batches_per_epoch", type=int, default=None, help="cap every epoch (smoke runs)")
    p.add_argument("--quiet", action="store_true")
    # the original's launcher flags: the core reads torchrun / SLURM environments instead
    for flag in ("--dist-url", "--dist-backend", "--world-size", "--rank", "--gpu", "--checkpoint_path",
                 "--checkpoint_interval", "--log_dir", "--ckpt_dir"):  # fmt: skip
        p.add_argument(flag, default=None, help=argparse.SUPPRESS)
    p.add_argument("--multiprocessing-distributed", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. hyperparams.num_epochs=2")
    return p


def resolve_config_path(name: str, *, kind: str, sub_dir: str, db: str) -> Path:
    """A path as given, else ``codes/<kind>/configs/<sub_dir>/<db>/<name>[.yaml]``."""
    direct = Path(name)
    if direct.is_file():
        return direct
    folder = PACKAGE_ROOT / "codes" / kind / "configs" / sub_dir / db
    for candidate in (folder / name, folder / f"{name}.yaml"):
        if candidate.is_file():
            return candidate
    known = sorted(p.name for p in folder.glob("*.yaml")) if folder.is_dir() else []
    raise ConfigError(f"config {name!r} not found (looked in {folder}); available: {known}")


def resolve_data_dir(given: Optional[str], db: str) -> Path:
    root = Path(given) if given else Path(os.environ.get("VIDEOKD_DATA", REPO_ROOT / "data")) / db
    if not (root / "train").is_dir() and (root / "videos" / "train").is_dir():
        root = root / "videos"  # the synthetic generator's layout
    if not (root / "train").is_dir():
        raise DataError(
            f"{root / 'train'}: no training videos. Put Kinetics-400 there (<root>/train/<class>/<video>.avi), pass "
            f"--data_dir, or make a synthetic stand-in: python datasets/make_synthetic.py kinetics-avi {root}"
        )
    return root


def _device_precision(args, cfg) -> tuple[Optional[str], str]:
    device = args.device
    cuda = torch.cuda.is_available() and (device is None or str(device).startswith("cuda"))
    if args.precision:
        precision = args.precision
    else:
        precision = "fp16" if (cuda and cfg.apex) else "fp32"
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return device, precision


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = list(args.overrides)
    bad = [o for o in overrides if "=" not in o]
    if bad:
        raise ConfigError(f"overrides must be KEY=VALUE, got {bad}")
    cfg_path = resolve_config_path(args.config_file, kind="train", sub_dir=args.sub_dir, db=args.db)
    cfg = load_config(cfg_path, defaults=load_config(DEFAULT_CONFIG), overrides=overrides)
    data_dir = resolve_data_dir(args.data_dir, args.db)
    output = Path(args.output_dir or os.environ.get("VIDEOKD_OUTPUT", REPO_ROOT / "OUTPUTS"))
    job_id = args.resume or args.job_id or time.strftime("%Y%m%d-%H%M%S")
    run_dir = output / args.parent_dir / args.sub_dir / job_id
    if args.resume and not (run_dir / "checkpoints" / "last.pt").is_file():
        raise UserError(f"--resume {args.resume}: no checkpoint at {run_dir / 'checkpoints' / 'last.pt'}")
    device, precision = _device_precision(args, cfg)
    with distributed_session(device) as dist:
        return _run(cfg, args, data_dir=data_dir, run_dir=run_dir, precision=precision, dist=dist)


def _run(cfg, args, *, data_dir: Path, run_dir: Path, precision: str, dist) -> int:
    torch.manual_seed(args.seed + dist.rank)
    model: XKDNet = build_model(cfg.model)
    hp, ds_cfg, fwd = cfg.hyperparams, cfg.dataset, dict(cfg.model.fwd_kwargs)
    clip_grad = float(fwd.pop("clip_grad", 0.0) or 0.0)  # popped from a COPY: epoch 2 finds it again
    freeze_last_layer = int(fwd.pop("freeze_last_layer", 0) or 0)
    dataset = KineticsAV(data_dir, ds_cfg, split="train")
    dataset.audio_patch_time = int(cfg.model.kwargs.spec_patch_spatial[1])
    if int(ds_cfg.batch_size) % dist.world_size:
        raise ConfigError(f"dataset.batch_size {ds_cfg.batch_size} is not divisible by {dist.world_size} processes")
    per_rank = int(ds_cfg.batch_size) // dist.world_size
    if per_rank > len(dataset) and ds_cfg.train.drop_last:
        raise ConfigError(
            f"dataset.batch_size {ds_cfg.batch_size} exceeds the {len(dataset)} training videos in {dataset.split_dir}"
        )
    gpus = max(torch.cuda.device_count(), 1)
    workers = args.num_workers if args.num_workers is not None else -(-int(cfg.num_workers) // gpus)
    loader = build_train_loader(
        RobustDataset(dataset, train=True),
        batch_size=per_rank,
        seed=args.seed,
        shuffle=bool(ds_cfg.train.use_shuffle),
        drop_last=bool(ds_cfg.train.drop_last),
        num_workers=workers,
        dist_info=dist,
    )
    niter = len(loader) if args.max_batches_per_epoch is None else min(len(loader), args.max_batches_per_epoch)
    if niter < 1:
        raise ConfigError(f"no training batches: {len(dataset)} videos, batch {per_rank} per process")
    sched = step_schedules(hp, niter)
    temps = temperature_schedules(cfg.model, int(hp.num_epochs))
    optimizer = build_xkd_optimizer(
        model, hp.optimizer, lr=float(sched["lr"][0]), weight_decay=float(sched["weight_decay"][0])
    )
    schedulers = [
        ParamScheduler(optimizer, sched["lr"], key="lr"),
        ParamScheduler(optimizer, sched["weight_decay"], key="weight_decay", groups=[1]),
    ]
    twice = bool(hp.shared_teacher_ema_twice)
    state = {"epoch": 0}

    def on_epoch_start(trainer: Trainer, epoch: int) -> None:
        state["epoch"] = epoch

    def step_fn(m, batch) -> dict[str, torch.Tensor]:
        e = state["epoch"]
        out = m(
            batch["frames"],
            batch["specs"],
            teacher_temp={k: float(v[e]) for k, v in temps["teacher"].items()},
            student_temp={k: float(v[e]) for k, v in temps["student"].items()},
            **fwd,
        )
        return {k: out[k] for k in LOSS_KEYS}

    def before_optimizer_step(trainer: Trainer) -> None:
        if clip_grad:
            clip_student_gradients(trainer.raw_model, clip_grad)
        cancel_last_layer_gradients(trainer.raw_model, trainer.epoch, freeze_last_layer)

    def on_step_end(trainer: Trainer) -> None:
        g = min(trainer.step - 1, len(sched["vid_ema"]) - 1)
        trainer.raw_model.update_teachers(float(sched["vid_ema"][g]), float(sched["aud_ema"][g]), shared_twice=twice)

    def on_epoch_end(trainer: Trainer, metrics) -> None:
        epoch = trainer.epoch
        if dist.is_main:
            m = trainer.raw_model
            save_checkpoint(
                run_dir / "model" / "checkpoint.pth.tar",
                {
                    "model": {f"module.{k}": v.detach().cpu() for k, v in m.state_dict().items()},
                    "optimizer": trainer.optimizer.state_dict(),
                    "epoch": epoch + 1,
                    "amp": trainer.precision.scaler.state_dict() if getattr(trainer.precision, "scaler", None) else {},
                },
            )
            last = epoch + 1 == int(hp.num_epochs)
            if last or (int(hp.save_every) > 0 and (epoch + 1) % int(hp.save_every) == 0):
                save_backbone_files(
                    m, run_dir / "model", name=cfg.model.name, sub_dir=args.sub_dir, db=args.db, epoch=epoch
                )
            if not args.quiet:
                terms = " ".join(
                    f"{k[len('epoch/train_') :]} {v:.4f}" for k, v in metrics.items() if k.startswith("epoch/train_")
                )
                print(f"[xkd] epoch {epoch + 1}/{hp.num_epochs}: {terms}", flush=True)

    train_cfg = TrainConfig(
        epochs=int(hp.num_epochs),
        max_steps=args.max_steps,
        precision=precision,
        out_dir=str(run_dir),
        log_every=max(1, int(cfg.progress.print_freq)),
        max_batches_per_epoch=args.max_batches_per_epoch,
        tensorboard=bool(cfg.progress.log2tb),
        progress=not args.quiet,
    )
    with videokd.cli.run_dir_guard(run_dir, enabled=dist.is_main) as guard:
        trainer = Trainer(
            model,
            optimizer,
            loader,
            step_fn,
            config=train_cfg,
            schedulers=schedulers,
            frozen=[model.vid_teacher, model.aud_teacher],
            on_epoch_start=on_epoch_start,
            before_optimizer_step=before_optimizer_step,
            on_step_end=on_step_end,
            on_epoch_end=on_epoch_end,
            run_config=dict(cfg),
            dist=dist,
        )
        if dist.is_main:
            save_yaml(cfg, run_dir / "config.yaml")
            if not args.quiet:
                n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
                print(
                    f"[xkd] {cfg.model.name}: {n_train / 1e6:.2f} M trainable parameters; {len(dataset)} videos from "
                    f"{dataset.split_dir}; batch {per_rank} x {dist.world_size} process(es) on {dist.device}, {precision}; "
                    f"run folder {run_dir}",
                    flush=True,
                )
        guard.keep()
        summary = trainer.fit()
    if dist.is_main and not args.quiet:
        print(f"[xkd] done: {summary.get('step', trainer.step)} steps; weights in {run_dir / 'model'}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(videokd.cli.run_main(main, prog="xkd.sh"))
