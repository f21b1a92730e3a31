"""Benchmark: what the videokd.engine Trainer costs on top of a hand-written loop, and checkpoint writes.

Measured on a small MLP (so the engine's own work is visible, not hidden behind a big model):

* ``bare_loop_ms_per_step``   - forward, backward, AdamW step, zero_grad over a pre-built list of
  batches (the lower bound);
* ``trainer_ms_per_step``     - ``Trainer.fit`` on the same model/batches through
  ``build_train_loader`` (``num_workers=0``), lr schedule, global-norm clipping, rank-averaged
  logging every 10 steps to ``metrics.jsonl`` + TensorBoard, one ``last.pt`` at the end;
* ``checkpoint_write_s``      - one atomic, fsync'd ``save_checkpoint`` of a ``--ckpt-mb`` MB state
  (model + AdamW moments in the real loop), and ``checkpoint_load_s`` for ``weights_only`` loading.

Usage: ``python benchmarks/engine_loop.py [--steps 300] [--width 256] [--ckpt-mb 64] [--threads 1]``.
Writes ``benchmarks/results/engine_loop.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from videokd import engine


class Batches(torch.utils.data.Dataset):
    def __init__(self, n: int, width: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.x, self.y = torch.randn(n, width, generator=g), torch.randint(0, 10, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


def make_model(width: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, width), nn.GELU(), nn.Linear(width, 10))


def bare_loop(steps: int, width: int, batch: int) -> float:
    model = make_model(width)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    data = Batches(steps * batch, width)
    batches = [(data.x[i * batch : (i + 1) * batch], data.y[i * batch : (i + 1) * batch]) for i in range(steps)]
    start = time.perf_counter()
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return (time.perf_counter() - start) / steps


def trainer_loop(steps: int, width: int, batch: int, out_dir: str) -> float:
    model = make_model(width)
    opt = engine.build_optimizer("adamw", engine.param_groups(model, lr=1e-3, weight_decay=0.01), lr=1e-3)
    loader = engine.build_train_loader(Batches(steps * batch, width), batch_size=batch, seed=0, per_sample_seeds=False)
    sched = engine.ParamScheduler(opt, lambda g: engine.warmup_cosine(g, base=1e-3, total=steps, warmup=10))

    def step_fn(m: nn.Module, b: tuple) -> dict:
        x, y = b
        ce = F.cross_entropy(m(x), y)
        return {"loss": ce, "ce": ce}

    trainer = engine.Trainer(
        model,
        opt,
        loader,
        step_fn,
        schedulers=[sched],
        config=engine.TrainConfig(epochs=1, clip_grad_norm=1.0, out_dir=out_dir, log_every=10, progress=False),
    )
    start = time.perf_counter()
    trainer.fit()
    return (time.perf_counter() - start) / steps


def checkpoint_times(mb: int, folder: str, repeats: int = 3) -> tuple[float, float]:
    state = {"model": {"w": torch.randn(mb * 2**20 // 4)}, "step": 1}
    writes, loads = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        path = engine.save_checkpoint(Path(folder) / "bench.pt", state)
        writes.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        engine.load_checkpoint(path)
        loads.append(time.perf_counter() - t0)
    return statistics.median(writes), statistics.median(loads)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--ckpt-mb", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    bare, trained = [], []
    with tempfile.TemporaryDirectory() as tmp:
        bare_loop(20, args.width, args.batch)  # warm-up (lazy imports, allocator)
        trainer_loop(20, args.width, args.batch, os.path.join(tmp, "warm"))
        for r in range(args.repeats):
            bare.append(bare_loop(args.steps, args.width, args.batch))
            trained.append(trainer_loop(args.steps, args.width, args.batch, os.path.join(tmp, f"run{r}")))
        write_s, load_s = checkpoint_times(args.ckpt_mb, tmp)
    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, {args.threads} thread(s)",
        "config": vars(args),
        "bare_loop_ms_per_step": 1e3 * statistics.median(bare),
        "trainer_ms_per_step": 1e3 * statistics.median(trained),
        "overhead_ms_per_step": 1e3 * (statistics.median(trained) - statistics.median(bare)),
        "checkpoint_write_s": write_s,
        "checkpoint_load_s": load_s,
    }
    out = Path(__file__).resolve().parent / "results" / "engine_loop.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
