"""Shared measuring code for every benchmark script: arguments, timing, peak memory, machine info and
the one JSON schema that ``benchmarks/run.py`` collects and turns into ``benchmarks/RESULTS.md``.

How a figure is measured (``measure`` / ``measure_interleaved``):

* ``warmup`` untimed calls first (lazy initialisation, allocator, cuDNN/cuBLAS autotuning);
* each timed call is bracketed by ``torch.cuda.synchronize()`` on a GPU (kernels are asynchronous),
  and timed with ``time.perf_counter``; the reported figure is the **median** of ``repeats`` calls
  (``runs_s`` keeps every call, ``min_s`` the fastest);
* peak memory: on CUDA ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats`` at the
  start of the timed calls (the tensors torch allocated, not the caching allocator's reserve); on the
  CPU the process's peak resident set size from ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
  (``peak_memory_mib``, the whole process since it started: interpreter, torch, model, data) and how
  much that peak rose during the timed calls (``peak_memory_growth_mib``, a lower bound of what the
  measured work needed on top of what was already resident). ``peak_memory_kind`` says which.
* threads: torch's intra-op thread count is recorded in ``machine.threads``; ``--threads N`` sets
  it (the runner passes ``OMP_NUM_THREADS`` too, so BLAS and OpenMP agree).

Result document (``SCHEMA``; ``validate`` checks it)::

    {"schema": "videokd-bench/1", "benchmark": str, "script": "benchmarks/x.py", "created": ISO time,
     "device": "cpu" | "cuda" | "cuda:N", "quick": bool, "torch": str,
     "machine": {...}, "config": {...}, "notes": [str],
     "results": [{"name": str, "unit": str, "median_s": float, "min_s": float, "runs_s": [float],
                  "warmup": int, "repeats": int, "peak_memory_mib": float | None,
                  "peak_memory_kind": str, "metrics": {str: number | str | None}}]}
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable

import torch

SCHEMA = "videokd-bench/1"
BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
REQUIRED_DOC_KEYS = (
    "schema",
    "benchmark",
    "script",
    "created",
    "device",
    "quick",
    "torch",
    "machine",
    "config",
    "results",
)
REQUIRED_ROW_KEYS = ("name", "unit", "median_s", "runs_s", "repeats", "peak_memory_mib", "peak_memory_kind", "metrics")


# ----------------------------------------------------------------------------------------- arguments
def add_common_args(p: argparse.ArgumentParser) -> None:
    """--device, --quick, --repeats, --warmup, --threads, --out (every script takes them)."""
    g = p.add_argument_group("common benchmark options")
    g.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (default cpu)")
    g.add_argument("--quick", action="store_true", help="tiny CPU smoke sizes (seconds): checks the script runs")
    g.add_argument("--repeats", type=int, default=None, help="timed calls; the median is reported")
    g.add_argument("--warmup", type=int, default=None, help="untimed calls before the timed ones")
    g.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's own choice)")
    g.add_argument("--out", type=Path, default=None, help="result JSON (default results/<cpu|cuda|quick>/<name>.json)")


def pick(value, quick: bool, quick_value, full_value):
    """An option's value: what the user gave, else the quick or the full default."""
    if value is not None:
        return value
    return quick_value if quick else full_value


def setup(args: argparse.Namespace) -> torch.device:
    """Apply --threads and check the device; exits with code 2 and a message when CUDA is absent."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"{Path(sys.argv[0]).name}: error: --device {args.device}: CUDA is not available here", file=sys.stderr)
        raise SystemExit(2)
    return device


def default_out(benchmark: str, device: torch.device | str, quick: bool) -> Path:
    folder = "quick" if quick else torch.device(device).type
    return RESULTS_DIR / folder / f"{benchmark}.json"


# ----------------------------------------------------------------------------------------- machine
def machine_info(device: torch.device | str = "cpu") -> dict:
    device = torch.device(device)
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_avg_1min_at_start": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "gpu": None,
        "cuda": torch.version.cuda,
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


# ----------------------------------------------------------------------------------------- timing
def sync(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


class PeakMemory:
    """Peak memory of the code inside ``with``: CUDA max_memory_allocated, or the CPU process's peak RSS."""

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self.result: dict = {}

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        self._rss0 = _rss_mib()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.result = {
                "peak_memory_mib": round(torch.cuda.max_memory_allocated(self.device) / 2**20, 1),
                "peak_memory_kind": "cuda max_memory_allocated during the timed calls",
            }
        else:
            rss = _rss_mib()
            self.result = {
                "peak_memory_mib": round(rss, 1),
                "peak_memory_kind": "cpu process peak RSS (ru_maxrss, whole process); growth = rise during timed calls",
                "peak_memory_growth_mib": round(rss - self._rss0, 1),
            }


def _row(name: str, unit: str, times: list[float], warmup: int, memory: dict, metrics: dict | None) -> dict:
    med = statistics.median(times)
    return {
        "name": name,
        "unit": unit,
        "median_s": round(med, 6),
        "min_s": round(min(times), 6),
        "runs_s": [round(t, 6) for t in times],
        "warmup": warmup,
        "repeats": len(times),
        **memory,
        "metrics": dict(metrics or {}),
    }


def measure(
    fn: Callable[[], object],
    device: torch.device | str,
    *,
    name: str,
    unit: str,
    warmup: int = 1,
    repeats: int = 3,
    items: float | None = None,
    items_name: str = "items",
    flops: float | None = None,
    peak_tflops: float | None = None,
    metrics: dict | None = None,
) -> dict:
    """Time ``fn``: ``warmup`` untimed calls, then ``repeats`` synchronised calls; one result row.

    ``items`` per call gives ``<items_name>_per_s``; ``flops`` per call gives achieved TFLOP/s (and the
    model FLOP utilisation when ``peak_tflops``, a measured matmul peak, is given)."""
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    with PeakMemory(device) as mem:
        for _ in range(repeats):
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            times.append(time.perf_counter() - t0)
    row = _row(name, unit, times, warmup, mem.result, metrics)
    add_rates(row, items=items, items_name=items_name, flops=flops, peak_tflops=peak_tflops)
    return row


def measure_for(
    fn: Callable[[], object], device: torch.device | str, *, seconds: float, name: str, unit: str, warmup: int = 1,
    min_repeats: int = 3, items: float | None = None, items_name: str = "items",
) -> dict:  # fmt: skip
    """Like ``measure``, but repeats timed calls until ``seconds`` have passed (at least ``min_repeats``)."""
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    sync(device)
    times: list[float] = []
    start = time.perf_counter()
    with PeakMemory(device) as mem:
        while len(times) < min_repeats or time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            fn()
            sync(device)
            times.append(time.perf_counter() - t0)
    row = _row(name, unit, times, warmup, mem.result, None)
    return add_rates(row, items=items, items_name=items_name)


def add_rates(
    row: dict, *, items: float | None = None, items_name: str = "items", flops=None, peak_tflops=None
) -> dict:
    med = row["median_s"]
    m = row["metrics"]
    if items is not None:
        m[f"{items_name}_per_run"] = items
        m[f"{items_name}_per_s"] = round(items / med, 4)
        if items and str(row.get("peak_memory_kind", "")).startswith("cuda"):
            m[f"peak_memory_mib_per_{items_name.rstrip('s')}"] = round(row["peak_memory_mib"] / items, 1)
    if flops:
        m["gflop_per_run"] = round(flops / 1e9, 2)
        m["achieved_tflops"] = round(flops / med / 1e12, 4)
        if peak_tflops:
            m["matmul_peak_tflops"] = round(peak_tflops, 2)
            m["mfu"] = round(flops / med / 1e12 / peak_tflops, 4)
    return row


def measure_interleaved(
    fns: dict[str, Callable[[], object]],
    device: torch.device | str,
    *,
    unit: str,
    warmup: int = 1,
    repeats: int = 3,
) -> list[dict]:
    """Time several implementations of the same work in one process, alternating A B A B ... so that a
    change in machine load hits all of them alike; one row per implementation and, in the first row's
    metrics, ``<other>_over_<first>`` = ratio of medians. Peak memory on the CPU is the process's (shared)."""
    device = torch.device(device)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    sync(device)
    times: dict[str, list[float]] = {k: [] for k in fns}
    mems: dict[str, dict] = {}
    for r in range(repeats):
        order = list(fns) if r % 2 == 0 else list(reversed(fns))
        for k in order:
            with PeakMemory(device) as mem:
                sync(device)
                t0 = time.perf_counter()
                fns[k]()
                sync(device)
                times[k].append(time.perf_counter() - t0)
            prev = mems.get(k)
            if prev is None or (mem.result["peak_memory_mib"] or 0) > (prev["peak_memory_mib"] or 0):
                mems[k] = mem.result
    rows = [_row(k, unit, times[k], warmup, mems[k], None) for k in fns]
    first = rows[0]
    for other in rows[1:]:
        first["metrics"][f"{other['name']}_over_{first['name']}"] = round(other["median_s"] / first["median_s"], 3)
    return rows


# ----------------------------------------------------------------------------------------- FLOPs, peak
def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call of ``fn`` (forward and backward, if it runs one), by torch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())


def matmul_peak_tflops(device: torch.device | str, dtype: torch.dtype = torch.bfloat16, n: int = 8192) -> float:
    """Measured dense matmul peak (n x n x n, median of 10 after 3 warm-ups) in TFLOP/s: the MFU denominator."""
    device = torch.device(device)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    row = measure(lambda: a @ b, device, name="matmul", unit="matmul", warmup=3, repeats=10)
    return 2 * n**3 / row["median_s"] / 1e12


def autocast(device: torch.device | str, precision: str):
    """bf16 / fp16 autocast context for ``precision``; a no-op for fp32."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if dtype is None:
        return nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


# ----------------------------------------------------------------------------------------- output
def validate(doc: dict) -> list[str]:
    """Problems with a result document (empty list when it follows the schema)."""
    problems = [f"missing key {k!r}" for k in REQUIRED_DOC_KEYS if k not in doc]
    if doc.get("schema") != SCHEMA:
        problems.append(f"schema is {doc.get('schema')!r}, expected {SCHEMA!r}")
    rows = doc.get("results")
    if not isinstance(rows, list):
        problems.append("results is not a list")
        rows = []
    for i, row in enumerate(rows):
        problems += [f"results[{i}]: missing key {k!r}" for k in REQUIRED_ROW_KEYS if k not in row]
        if "runs_s" in row and "median_s" in row and row["runs_s"]:
            if abs(statistics.median(row["runs_s"]) - row["median_s"]) > 1e-5 * max(1.0, row["median_s"]):
                problems.append(f"results[{i}]: median_s is not the median of runs_s")
    return problems


def _repo_relative(script: str | Path) -> str:
    path = Path(script).resolve()
    return str(path.relative_to(BENCH_DIR.parent)) if path.is_relative_to(BENCH_DIR.parent) else str(path)


def write_doc(
    out: Path | None,
    *,
    benchmark: str,
    script: str,
    device: torch.device | str,
    quick: bool,
    config: dict,
    results: list[dict],
    notes: list[str] | None = None,
    **extra,
) -> Path:
    """Write the result document atomically (``out`` or the default path) and print where it went."""
    device = torch.device(device)
    out = Path(out) if out else default_out(benchmark, device, quick)
    doc = {
        "schema": SCHEMA,
        "benchmark": benchmark,
        "script": _repo_relative(script),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": str(device),
        "quick": bool(quick),
        "torch": torch.__version__,
        "machine": machine_info(device),
        "config": config,
        "notes": list(notes or []),
        "results": results,
        **extra,
    }
    problems = validate(doc)
    if problems:
        raise ValueError(f"{benchmark}: result document does not follow {SCHEMA}: {problems}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, out)
    print(f"wrote {out}")
    return out


def print_rows(rows: list[dict]) -> None:
    for r in rows:
        mem = r.get("peak_memory_mib")
        extra = " ".join(f"{k}={v}" for k, v in r["metrics"].items())
        print(
            f"{r['name']:32s} {r['median_s']:.4f} s/{r['unit']} (n={r['repeats']}) peak {mem} MiB {extra}", flush=True
        )
