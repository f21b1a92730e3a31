"""Training and testing runs from a validated config: entry script -> runner -> core engine.

Training (``train_b2n.py``): data from ``DATA.PATH_TO_DATA_DIR/TRAIN_FILE`` (videos under
``DATA.PATH_PREFIX``) and the label file ``DATA.INDEX_LABEL_MAPPING_FILE``; the student, frozen stream
and teacher from the CLIP file; AdamW with the per-iteration warm-up/cosine LR; the core Trainer
(DDP under torchrun, AMP, resume from ``OUTPUT_DIR/checkpoints/last.pt``). Every epoch writes the
original ``OUTPUT_DIR/checkpoints/checkpoint_epoch_XXXXX.pyth`` (``epoch``, ``model_state`` without
what the CLIP file rebuilds, ``cfg``), which ``weight_average_tool.py`` reads. ``OUTPUT_DIR`` is used
as given (upstream appended ``_10`` and deleted an existing folder).

Testing (``test_b2n.py``): a model without teacher, the weights of ``TEST.CUSTOM_LOAD_FILE``, 3 views
per video, logits summed per video with every clip counted once, top-1/top-5; with both B2N parts
configured, base, novel and their harmonic mean in one table and ``OUTPUT_DIR/b2n_results.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import torch

from videokd import clip
from videokd.cli import run_dir_guard
from videokd.config import Config, to_yaml
from videokd.data.collate import repeated_augmentation_collate
from videokd.engine import TrainConfig, Trainer, build_eval_loader, build_train_loader
from videokd.engine.checkpoint import save_checkpoint
from videokd.engine.distributed import all_gather_objects, distributed_session, get_dist_info
from videokd.engine.seed import seed_everything
from videokd.errors import UserError
from videokd.metrics import ViewAggregator, harmonic_mean, topk_accuracy

from .aggregation import aggregate_test, b2n_table
from .data import VideoClips, read_list_file
from .losses import kiclip_loss
from .model import KICLIP, read_aux_init
from .optim import build_kiclip_optimizer, lr_at, lr_scheduler
from .prompts import load_class_texts
from .weights import checkpoint_name, load_kiclip_weights

__all__ = ["train", "test", "build_model", "RunError"]


class RunError(UserError, RuntimeError):
    """A run that cannot start (names what is missing)."""


def _clip_path(cfg: Config) -> Path:
    path = cfg.MODEL.CLIP_PATH or os.environ.get("KICLIP_CLIP") or "~/.cache/clip/ViT-B-16.pt"
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            2,
            "CLIP weights not found: put OpenAI's ViT-B-16.pt there, or pass MODEL.CLIP_PATH / set KICLIP_CLIP "
            "(the file from the openai/CLIP release, TorchScript archive or state dict)",
            str(path),
        )
    return path


def build_model(cfg: Config, class_texts: list[str], *, teacher: bool) -> KICLIP:
    """KICLIP with the CLIP file's weights in the student, the frozen stream and (``teacher``) the teacher."""
    path = _clip_path(cfg)
    state = clip.read_state_dict(path)
    try:
        config = clip.infer_config(state)
    except ValueError as err:
        raise clip.CheckpointMismatchError(f"{path}: {err}") from err
    model = KICLIP(
        config,
        num_frames=cfg.DATA.NUM_FRAMES,
        class_texts=class_texts,
        keep_teacher=teacher,
        injection=cfg.KICLIP.INJECTION,
        residual_alpha=cfg.KICLIP.DISTILL_ALPHA,
        aux_head=cfg.KICLIP.AUX_HEAD,
        num_classes=cfg.MODEL.NUM_CLASSES,
        share_frozen=cfg.KICLIP.SHARE_FROZEN,
    )
    model.model.visual.transformer.injection_mix = cfg.KICLIP.INJECTION_MIX
    model.init_from_clip(state)
    if cfg.MODEL.USE_CHECKPOINT:
        # activation checkpointing of the student blocks; injection stays on (upstream silently dropped it)
        model.model.visual.transformer.grad_checkpointing = True
        model.model.transformer.grad_checkpointing = True
    resolution = model.config.image_resolution
    if cfg.DATA.TRAIN_CROP_SIZE != resolution or cfg.DATA.TEST_CROP_SIZE != resolution:
        raise RunError(
            f"DATA.TRAIN_CROP_SIZE {cfg.DATA.TRAIN_CROP_SIZE} / TEST_CROP_SIZE {cfg.DATA.TEST_CROP_SIZE} do not "
            f"match the CLIP file's input resolution {resolution} ({path})"
        )
    return model


def _labels(path: str) -> list[str]:
    if not path:
        raise RunError("DATA.INDEX_LABEL_MAPPING_FILE is not set (the class description JSON)")
    texts, used = load_class_texts(path)
    if Path(used) != Path(path) and get_dist_info().is_main:
        print(f"[kiclip] warning: no class descriptions at {path}; using the plain class names of {used}")
    return texts


def _separator(cfg: Config) -> str:
    # "," and " " both mean "detect per file": K400's train_s*.csv / test_1.csv are space-separated
    sep = cfg.DATA.PATH_LABEL_SEPARATOR
    return "auto" if sep in (",", " ") else sep


def _clips(cfg: Config, items, *, train: bool) -> VideoClips:
    d = cfg.DATA
    return VideoClips(
        items,
        train=train,
        num_sample=cfg.AUG.NUM_SAMPLE if train else 1,
        num_frames=d.NUM_FRAMES,
        sampling_rate=d.SAMPLING_RATE,
        target_fps=d.TARGET_FPS,
        views=cfg.TEST.NUM_ENSEMBLE_VIEWS,
        jitter=d.TRAIN_JITTER_SCALES,
        crop=d.TRAIN_CROP_SIZE if train else d.TEST_CROP_SIZE,
        mean=d.MEAN,
        std=d.STD,
        flip=d.RANDOM_FLIP,
    )


def _precision(cfg: Config, device: torch.device) -> str:
    p = cfg.TRAIN.PRECISION
    if p != "auto":
        return p
    if cfg.TRAIN.MIXED_PRECISION and device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def _per_rank_batch(total: int, world: int, what: str) -> int:
    if total % world:
        raise RunError(f"{what} {total} is not divisible by the {world} processes")
    return total // world


def train(cfg: Config, *, device: Optional[str] = None) -> dict[str, Any]:
    with distributed_session(device) as info:
        seed_everything(cfg.RNG_SEED)
        # the aux head's ImageNet initialisation: a local file, read (and checked) before anything is built
        aux_init = read_aux_init(cfg.KICLIP.AUX_INIT) if cfg.KICLIP.AUX_INIT else None
        class_texts = _labels(cfg.DATA.INDEX_LABEL_MAPPING_FILE)
        list_file = Path(cfg.DATA.PATH_TO_DATA_DIR) / cfg.TRAIN_FILE
        items = read_list_file(
            list_file, separator=_separator(cfg), prefix=cfg.DATA.PATH_PREFIX, num_classes=len(class_texts)
        )
        missing = [it.path for it in items if not os.path.isfile(it.path)]
        if missing:
            raise FileNotFoundError(
                2, f"{len(missing)} of {len(items)} videos listed in {list_file} are missing, e.g.", missing[0]
            )
        out_dir = Path(cfg.OUTPUT_DIR)
        resuming = (out_dir / "checkpoints" / "last.pt").is_file()
        if resuming and not cfg.TRAIN.AUTO_RESUME:
            raise RunError(f"{out_dir} already holds a run (checkpoints/last.pt); choose another OUTPUT_DIR")
        with run_dir_guard(out_dir, enabled=info.is_main) as guard:
            model = build_model(cfg, class_texts, teacher=cfg.MODEL.KEEP_RAW_MODEL and cfg.MODEL.RAW_MODEL_DISTILLATION)
            if aux_init is not None:
                model.load_aux_init(aux_init)  # a resumed run then restores its trained weights
            batch = _per_rank_batch(cfg.TRAIN.BATCH_SIZE, info.world_size, "TRAIN.BATCH_SIZE")
            # AUG.NUM_SAMPLE N > 1: every video gives N augmented clips, the model sees batch*N clips per
            # step with the label repeated (upstream's multiple_samples_collate); steps per epoch unchanged
            loader = build_train_loader(
                _clips(cfg, items, train=True),
                batch_size=batch,
                collate_fn=repeated_augmentation_collate if cfg.AUG.NUM_SAMPLE > 1 else None,
                seed=cfg.RNG_SEED,
                drop_last=len(items) >= cfg.TRAIN.BATCH_SIZE,
                num_workers=cfg.DATA_LOADER.NUM_WORKERS,
                pin_memory=cfg.DATA_LOADER.PIN_MEMORY and info.device.type == "cuda",
            )
            iters = len(loader) if cfg.TRAIN.MAX_BATCHES is None else min(len(loader), int(cfg.TRAIN.MAX_BATCHES))
            s = cfg.SOLVER
            opt = build_kiclip_optimizer(model, lr=s.BASE_LR, weight_decay=s.WEIGHT_DECAY, betas=s.BETAS)
            sched = lr_scheduler(
                opt,
                lambda e: lr_at(
                    e,
                    base_lr=s.BASE_LR,
                    max_epoch=s.MAX_EPOCH,
                    warmup_epochs=s.WARMUP_EPOCHS,
                    warmup_start_lr=s.WARMUP_START_LR,
                    cosine_end_lr=s.COSINE_END_LR,
                    cosine_after_warmup=s.COSINE_AFTER_WARMUP,
                ),
                iters,
            )
            ratio = cfg.MODEL.DISTILLATION_RATIO
            aux_w = cfg.KICLIP.AUX_CE_WEIGHT

            def step_fn(m, b):
                return kiclip_loss(m(b["video"]), b["label"], distillation_ratio=ratio, aux_ce_weight=aux_w)

            def on_epoch_end(trainer: Trainer, metrics) -> None:
                if not trainer.dist.is_main:
                    return
                epoch = trainer.epoch + 1
                save_checkpoint(
                    out_dir / "checkpoints" / checkpoint_name(epoch),
                    {"epoch": epoch, "model_state": model.state_dict(), "cfg": to_yaml(cfg)},
                )
                line = " ".join(f"{k}={v:.4f}" for k, v in metrics.items())
                with open(out_dir / "log.txt", "a", encoding="utf-8") as log:
                    log.write(f"epoch {epoch}: {line}\n")

            trainer = Trainer(
                model,
                opt,
                loader,
                step_fn,
                config=TrainConfig(
                    epochs=s.MAX_EPOCH,
                    clip_grad_norm=s.CLIP_GRAD_L2NORM,
                    precision=_precision(cfg, info.device),
                    out_dir=str(out_dir),
                    log_every=cfg.LOG_PERIOD,
                    max_batches_per_epoch=cfg.TRAIN.MAX_BATCHES,
                    max_steps=cfg.TRAIN.MAX_STEPS,
                    progress=False,
                ),
                schedulers=[sched],
                frozen=model.frozen_modules(),
                on_epoch_end=on_epoch_end,
                run_config=cfg,
            )
            if info.is_main:
                (out_dir / "config.yaml").write_text(to_yaml(cfg), encoding="utf-8")
            guard.keep()
        summary = trainer.fit()
        if info.world_size > 1:
            _check_ranks_agree(model)
        if info.is_main:
            print(
                f"[kiclip] trained {summary['epochs_done']} epochs ({summary['steps']} steps) -> {out_dir}/checkpoints"
            )
        return summary


def _check_ranks_agree(model: torch.nn.Module) -> None:
    """After DDP training every rank must hold the same weights (a cheap float64 checksum per tensor)."""
    sums = [float(p.detach().double().sum()) for p in model.parameters() if p.requires_grad]
    gathered = all_gather_objects(sums)
    if any(g != gathered[0] for g in gathered[1:]):
        raise RuntimeError(f"DDP ranks hold different weights after training (checksums {[sum(g) for g in gathered]})")
    if get_dist_info().is_main:
        print(f"[kiclip] {len(gathered)} processes: the trained weights agree on every rank")


def _test_part(cfg: Config, model: KICLIP, list_file: Path, label_file: str, name: str) -> dict[str, Any]:
    info = get_dist_info()
    texts = _labels(label_file)
    items = read_list_file(list_file, separator=_separator(cfg), prefix=cfg.DATA.PATH_PREFIX, num_classes=len(texts))
    model.set_classes(texts)
    model.to(info.device)
    views = cfg.TEST.NUM_ENSEMBLE_VIEWS
    dataset = _clips(cfg, items, train=False)
    batch = _per_rank_batch(cfg.TEST.BATCH_SIZE, info.world_size, "TEST.BATCH_SIZE")
    loader = build_eval_loader(dataset, batch_size=batch, num_workers=cfg.DATA_LOADER.NUM_WORKERS)
    agg = ViewAggregator(len(items), method=cfg.DATA.ENSEMBLE_METHOD)
    logits, labels, index = [], [], []
    with torch.no_grad():
        classifier = model.text_classifier()
        for b in loader:
            out = model(b["video"].to(info.device), classifier=classifier)["pred"].float().cpu()
            agg.update(out, b["index"], clip_ids=b["clip_index"])
            logits.append(out)
            labels.append(b["label"])
            index.append(b["clip_index"])
    if cfg.TEST.DROP_LAST:
        if info.world_size > 1:
            raise RunError("TEST.DROP_LAST (upstream's dropped clips) is a single-process comparison mode")
        r = aggregate_test(
            torch.cat(logits),
            torch.cat(labels),
            torch.cat(index),
            views=views,
            batch_size=cfg.TEST.BATCH_SIZE,
            drop_last=True,
            method=cfg.DATA.ENSEMBLE_METHOD,
        )
        preds, video_labels = r.video_preds, r.video_labels
    else:
        preds, counts = agg.compute()
        if int(counts.min()) != views or int(counts.max()) != views:
            raise RuntimeError(f"{name}: every video should have {views} clips, got counts {counts.tolist()[:10]}...")
        video_labels = torch.tensor([it.label for it in items])
    ks = [1, 5] if preds.shape[1] >= 5 else [1]
    acc = topk_accuracy(preds, video_labels, ks)
    result = {"videos": len(items), "classes": len(texts), "top1": acc[0], "top5": acc[-1] if len(ks) > 1 else None}
    if info.is_main:
        top5 = "" if result["top5"] is None else f"  top-5 {result['top5']:.2f}"
        print(f"[kiclip] {name}: {list_file} ({len(items)} videos, {len(texts)} classes): top-1 {acc[0]:.2f}{top5}")
    return result


def test(cfg: Config, *, device: Optional[str] = None) -> dict[str, Any]:
    with distributed_session(device) as info:
        seed_everything(cfg.RNG_SEED)
        t = cfg.TEST
        base_set = bool(t.BASE_FILE or t.BASE_LABEL_FILE)
        novel_set = bool(t.NOVEL_FILE or t.NOVEL_LABEL_FILE)
        parts: list[tuple[str, Path, str]] = []
        root = Path(cfg.DATA.PATH_TO_DATA_DIR)
        if base_set:
            parts.append(("base", root / t.BASE_FILE, t.BASE_LABEL_FILE))
        if novel_set:
            parts.append(("novel", root / t.NOVEL_FILE, t.NOVEL_LABEL_FILE))
        if not parts:
            parts.append(("test", root / cfg.TEST_FILE, cfg.DATA.INDEX_LABEL_MAPPING_FILE))
        for name, list_file, label_file in parts:
            if not list_file.is_file():
                raise FileNotFoundError(2, f"{name} split list not found", str(list_file))
            if not label_file:
                raise RunError(f"the {name} label file is not set")
        model = build_model(cfg, _labels(parts[0][2]), teacher=False)
        if t.CUSTOM_LOAD:
            if not t.CUSTOM_LOAD_FILE:
                raise RunError("TEST.CUSTOM_LOAD is set but TEST.CUSTOM_LOAD_FILE is empty")
            load_kiclip_weights(model, t.CUSTOM_LOAD_FILE)
        model.eval()
        results = {name: _test_part(cfg, model, lf, lab, name) for name, lf, lab in parts}
        if info.is_main:
            base = results.get("base", {}).get("top1")
            novel = results.get("novel", {}).get("top1")
            if base is not None and novel is not None:
                results["hm"] = harmonic_mean(base, novel)
                print(b2n_table(base, novel))
            out_dir = Path(cfg.OUTPUT_DIR)
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "b2n_results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
        return results
