"""A tiny but complete training run with videokd.engine, launched by the engine tests in real
processes: plain ``python``, ``torchrun`` (2 gloo ranks) or with SLURM variables.

It exercises everything a package script uses: init from the launcher's environment, seeding,
a seeded/sharded/resumable loader with worker processes and per-sample random augmentation,
param groups + AdamW + a per-step lr schedule, an EMA teacher checkpointed as extra state,
an exact-count distributed evaluation, logging and checkpoints. ``--print-steps`` prints
``step N`` after every optimizer step (the tests kill the process when they see one).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from videokd import engine


class TinyDataset(torch.utils.data.Dataset):
    """``n`` samples of ``dim`` features and a class; each read adds random noise drawn from the
    global torch *and* NumPy RNGs (what real augmentations do)."""

    def __init__(self, n: int, dim: int = 6, classes: int = 3, seed: int = 0, noise: float = 0.1) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, dim, generator=g)
        self.y = torch.randint(0, classes, (n,), generator=g)
        self.noise = noise

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        x = self.x[i]
        if self.noise:
            x = (
                x
                + self.noise * torch.randn_like(x)
                + self.noise * torch.from_numpy(np.random.standard_normal(x.shape).astype(np.float32))
            )
        return {"x": x, "y": self.y[i], "index": torch.tensor(i)}


def build_model(dropout: float) -> nn.Module:
    return nn.Sequential(nn.Linear(6, 16), nn.LayerNorm(16), nn.GELU(), nn.Dropout(dropout), nn.Linear(16, 3))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--n-train", type=int, default=40)
    p.add_argument("--n-eval", type=int, default=7)
    p.add_argument("--batch-size", type=int, default=4, help="per rank")
    p.add_argument("--accum", type=int, default=1)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--precision", default="fp32")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--noise", type=float, default=0.1)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--ckpt-every-steps", type=int, default=None)
    p.add_argument("--step-delay", type=float, default=0.0)
    p.add_argument("--print-steps", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    torch.set_num_threads(1)  # bitwise reproducibility across processes

    with engine.distributed_session(args.device) as dist:
        if dist.is_main:
            print(
                "DIST "
                + json.dumps(
                    {
                        "rank": dist.rank,
                        "world_size": dist.world_size,
                        "local_rank": dist.local_rank,
                        "launcher": dist.launcher,
                        "backend": dist.backend,
                        "device": str(dist.device),
                        "master_addr": dist.master_addr,
                        "master_port": dist.master_port,
                    }
                ),
                flush=True,
            )
        engine.seed_everything(args.seed)  # same init on every rank (DDP also broadcasts rank 0's)
        model = build_model(args.dropout)
        teacher = build_model(0.0)
        teacher.load_state_dict(model.state_dict())
        groups = engine.param_groups(model, lr=1e-2, weight_decay=0.05, no_decay="1d_and_bias")
        opt = engine.build_optimizer("adamw", groups, lr=1e-2, betas=(0.9, 0.99))
        train = TinyDataset(args.n_train, seed=1, noise=args.noise)
        loader = engine.build_train_loader(train, batch_size=args.batch_size, seed=args.seed, num_workers=args.workers)
        steps_per_epoch = -(-len(loader) // args.accum)
        lr = engine.ParamScheduler(
            opt,
            lambda g: engine.warmup_cosine(g / steps_per_epoch, base=1e-2, final=1e-4, total=args.epochs, warmup=0.5),
        )
        evalset = TinyDataset(args.n_eval, seed=2, noise=0.0)

        def step_fn(model: nn.Module, batch: dict) -> dict:
            logits = model(batch["x"])
            ce = F.cross_entropy(logits, batch["y"])
            with torch.no_grad():
                t = teacher(batch["x"])
            kd = F.mse_loss(logits, t)
            return {"loss": ce + 0.1 * kd, "ce": ce, "kd": kd}

        def eval_fn(model: nn.Module) -> dict:
            outs, idx = [], []
            for batch in engine.build_eval_loader(evalset, batch_size=3):
                outs.append(F.cross_entropy(model(batch["x"]), batch["y"], reduction="none"))
                idx.append(batch["index"])
            losses = engine.gather_exact(torch.cat(outs), len(evalset))
            order = engine.gather_exact(torch.cat(idx), len(evalset))
            assert torch.equal(order, torch.arange(len(evalset))), order
            return {"val/loss": losses.mean().item(), "val/count": float(losses.numel())}

        def on_step_end(trainer: engine.Trainer) -> None:
            engine.ema_update(teacher, trainer.raw_model, 0.9)
            if args.print_steps and dist.is_main:
                print(f"step {trainer.step}", flush=True)
            if args.step_delay:
                time.sleep(args.step_delay)

        trainer = engine.Trainer(
            model,
            opt,
            loader,
            step_fn,
            config=engine.TrainConfig(
                epochs=args.epochs,
                max_steps=args.max_steps,
                grad_accum=args.accum,
                clip_grad_norm=1.0,
                precision=args.precision,
                out_dir=args.out,
                log_every=2,
                ckpt_every_steps=args.ckpt_every_steps,
                monitor="val/loss",
                monitor_mode="min",
                progress=True,
            ),
            schedulers=[lr],
            eval_fn=eval_fn,
            extra_state={"teacher": teacher},
            frozen=[teacher],
            on_step_end=on_step_end,
            run_config={"script": "train_tiny", "args": vars(args)},
        )
        summary = trainer.fit()
        if dist.is_main:
            print(
                "SUMMARY " + json.dumps({k: summary[k] for k in ("epochs_done", "steps", "stopped_early")}), flush=True
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
