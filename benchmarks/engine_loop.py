"""Benchmark: what the videokd.engine Trainer costs on top of a hand-written loop, and checkpoint writes.

Measured on a small MLP (so the engine's own work is visible, not hidden behind a big model):

* ``bare_loop_ms_per_step``   - forward, backward, AdamW step, zero_grad over a pre-built list of
  batches (the lower bound);
* ``trainer_ms_per_step``     - ``Trainer.fit`` on the same model/batches through
  ``build_train_loader`` (``num_workers=0``), lr schedule, global-norm clipping, rank-averaged
  logging every 10 steps to ``metrics.jsonl`` + TensorBoard, one ``last.pt`` at the end;
* ``checkpoint_write_s``      - one atomic, fsync'd ``save_checkpoint`` of a ``--ckpt-mb`` MB state
  (model + AdamW moments in the real loop), and ``checkpoint_load_s`` for ``weights_only`` loading.

Usage: ``python benchmarks/engine_loop.py [--steps 300] [--width 256] [--ckpt-mb 64] [--threads 1] [--quick]``.
The bare loop and the Trainer run interleaved (A B B A ...), one thread by default; one timed run is
``--steps`` steps (warm-up run first). Timing / memory method: ``_bench.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402

from videokd import engine  # noqa: E402


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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=None, help="steps per timed run (default 300, 30 quick)")
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--ckpt-mb", type=int, default=None, help="checkpoint size (default 64, 4 quick)")
    _bench.add_common_args(p)
    p.set_defaults(threads=1)
    a = p.parse_args(argv)
    device = _bench.setup(a)
    if device.type != "cpu":
        raise SystemExit("engine_loop.py measures the engine's CPU-side overhead: run it with --device cpu")
    steps = a.steps or (30 if a.quick else 300)
    mb = a.ckpt_mb or (4 if a.quick else 64)
    warmup = _bench.pick(a.warmup, a.quick, 1, 1)
    repeats = _bench.pick(a.repeats, a.quick, 2, 3)
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(10**6))
        rows = _bench.measure_interleaved(
            {
                "bare_loop": lambda: bare_loop(steps, a.width, a.batch),
                "trainer": lambda: trainer_loop(steps, a.width, a.batch, os.path.join(tmp, f"run{next(counter)}")),
            },
            device,
            unit=f"{steps} steps",
            warmup=warmup,
            repeats=repeats,
        )
        bare, trained = rows[0]["median_s"] / steps, rows[1]["median_s"] / steps
        rows[1]["metrics"].update(
            bare_ms_per_step=round(1e3 * bare, 4),
            trainer_ms_per_step=round(1e3 * trained, 4),
            overhead_ms_per_step=round(1e3 * (trained - bare), 4),
        )
        state = {"model": {"w": torch.randn(mb * 2**20 // 4)}, "step": 1}
        path = Path(tmp) / "bench.pt"
        rows.append(_bench.measure(lambda: engine.save_checkpoint(path, state), device, name="checkpoint_write",
                                   unit=f"{mb} MB checkpoint", warmup=0, repeats=repeats))  # fmt: skip
        rows.append(_bench.measure(lambda: engine.load_checkpoint(path), device, name="checkpoint_load",
                                   unit=f"{mb} MB checkpoint", warmup=0, repeats=repeats))  # fmt: skip
    _bench.print_rows(rows)
    config = {"model": f"MLP 3 x Linear {a.width}", "batch": a.batch, "steps_per_run": steps, "checkpoint_mb": mb,
              "trainer": "build_train_loader (num_workers 0), warmup-cosine lr, clip 1.0, log every 10, last.pt"}  # fmt: skip
    _bench.write_doc(a.out, benchmark="engine_loop", script=__file__, device=device, quick=a.quick, config=config,
                     results=rows)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
