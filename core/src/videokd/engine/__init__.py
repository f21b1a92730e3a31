"""videokd.engine: the training engine all five packages use.

A whole training script, single GPU / many GPUs (torchrun or SLURM) / CPU alike::

    from videokd import engine

    with engine.distributed_session(args.device) as dist:          # torchrun / SLURM / single
        engine.seed_everything(cfg.seed + dist.rank)
        model = build_student(...)
        groups = engine.param_groups(model, lr=cfg.lr, weight_decay=0.05, no_decay="1d_and_bias")
        opt = engine.build_optimizer("adamw", groups, lr=cfg.lr, betas=(0.9, 0.999))
        loader = engine.build_train_loader(train_set, batch_size=cfg.batch, seed=cfg.seed, num_workers=8)
        iters = len(loader) // cfg.accum
        lr = engine.ParamScheduler(opt, lambda g: engine.warmup_cosine(g / iters, base=cfg.lr, total=cfg.epochs, warmup=2))
        trainer = engine.Trainer(
            model, opt, loader, step_fn,
            config=engine.TrainConfig(epochs=cfg.epochs, precision="bf16", out_dir=run_dir, clip_grad_norm=1.0,
                                      monitor="val/top1", patience=10),
            schedulers=[lr], eval_fn=evaluate, run_config=cfg.to_dict(),
        )
        summary = trainer.fit()       # resumes from run_dir/checkpoints/last.pt when present

Modules
-------
``distributed``  :func:`init_distributed` -> :class:`DistInfo` (rank, world_size, local_rank, device,
                 backend, is_main) from torchrun (RANK/WORLD_SIZE/LOCAL_RANK/MASTER_*) or SLURM
                 (SLURM_PROCID/NTASKS/LOCALID + first host of the node list), NCCL on GPU and gloo
                 on CPU; :func:`shutdown`, :func:`distributed_session`; collectives
                 :func:`all_reduce_sum`/:func:`all_reduce_mean`/:func:`reduce_metrics`,
                 :func:`gather_exact` (evaluation outputs in dataset order, no padded duplicates).
``sampling``     :class:`DistributedShuffleSampler` (per-epoch seeded, sharded, resumable at a
                 position), :class:`ExactDistributedSampler` (evaluation, no padding),
                 :class:`SeededDataset` (per-sample RNG seeds), :func:`build_train_loader`,
                 :func:`build_eval_loader`.
``precision``    :class:`Precision` ("fp32" / "bf16" / "fp16" + GradScaler; CPU autocast too).
``optim``        :func:`param_groups` (no-decay rules, per-pattern lr multipliers),
                 :func:`build_optimizer` (sgd/adam/adamw/bertadam), :class:`BertAdam`,
                 :func:`clip_grad_norm` (global), :func:`clip_grad_norm_per_tensor` (DINO),
                 :func:`ema_update` (momentum teacher).
``schedules``    pure schedule functions (:func:`warmup_linear`, :func:`warmup_cosine`,
                 :func:`step_decay`, :func:`held_every`, :func:`cosine_schedule`,
                 :func:`teacher_temp_schedule`) and the objects that apply them
                 (:class:`ParamScheduler`, :class:`PlateauScheduler`).
``checkpoint``   :func:`save_checkpoint` (atomic, plain data), :func:`load_checkpoint` (clear
                 errors on truncated/corrupt files), :class:`CheckpointManager` (last/best/every N
                 epochs), :func:`load_weights` (weights only: prefix strip, key map, one clear
                 mismatch report).
``logger``       :class:`MetricLogger` (TensorBoard + metrics.jsonl, rank 0), :class:`Progress`
                 (tqdm on a TTY, periodic lines otherwise).
``seed``         :func:`seed_everything`, :func:`worker_init_fn`, :func:`derive_seed`,
                 :func:`rng_state` / :func:`set_rng_state`.
``loop``         :class:`Trainer`, :class:`TrainConfig`, :func:`to_device`.
"""

from .checkpoint import (
    CheckpointError,
    CheckpointManager,
    LoadResult,
    extract_state_dict,
    load_checkpoint,
    load_weights,
    remap_keys,
    save_checkpoint,
    to_plain,
)
from .distributed import (
    DistInfo,
    all_gather_objects,
    all_reduce_mean,
    all_reduce_sum,
    barrier,
    broadcast_object,
    distributed_session,
    expand_nodelist,
    gather_exact,
    get_dist_info,
    init_distributed,
    is_distributed,
    launcher_env,
    reduce_metrics,
    shutdown,
)
from .logger import MetricLogger, Progress
from .loop import TrainConfig, Trainer, is_step_boundary, to_device
from .optim import BertAdam, build_optimizer, clip_grad_norm, clip_grad_norm_per_tensor, ema_update, param_groups
from .precision import PRECISIONS, Precision, autocast_dtype
from .sampling import (
    DistributedShuffleSampler,
    ExactDistributedSampler,
    SeededDataset,
    build_eval_loader,
    build_train_loader,
)
from .schedules import (
    ParamScheduler,
    PlateauScheduler,
    cosine_schedule,
    held_every,
    step_decay,
    teacher_temp_schedule,
    warmup_cosine,
    warmup_linear,
)
from .seed import derive_seed, rng_state, seed_everything, set_rng_state, worker_init_fn

__all__ = [
    # distributed
    "DistInfo",
    "init_distributed",
    "shutdown",
    "distributed_session",
    "launcher_env",
    "expand_nodelist",
    "get_dist_info",
    "is_distributed",
    "barrier",
    "all_reduce_sum",
    "all_reduce_mean",
    "reduce_metrics",
    "all_gather_objects",
    "broadcast_object",
    "gather_exact",
    # sampling
    "DistributedShuffleSampler",
    "ExactDistributedSampler",
    "SeededDataset",
    "build_train_loader",
    "build_eval_loader",
    # precision
    "PRECISIONS",
    "Precision",
    "autocast_dtype",
    # optim
    "param_groups",
    "build_optimizer",
    "BertAdam",
    "clip_grad_norm",
    "clip_grad_norm_per_tensor",
    "ema_update",
    # schedules
    "warmup_linear",
    "warmup_cosine",
    "step_decay",
    "held_every",
    "cosine_schedule",
    "teacher_temp_schedule",
    "ParamScheduler",
    "PlateauScheduler",
    # checkpoint
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "CheckpointManager",
    "LoadResult",
    "load_weights",
    "extract_state_dict",
    "remap_keys",
    "to_plain",
    # logging, seeding, loop
    "MetricLogger",
    "Progress",
    "seed_everything",
    "derive_seed",
    "worker_init_fn",
    "rng_state",
    "set_rng_state",
    "TrainConfig",
    "Trainer",
    "to_device",
    "is_step_boundary",
]
