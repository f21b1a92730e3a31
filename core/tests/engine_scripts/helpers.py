"""Shared helpers of the engine tests: launching the scripts in this folder as real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import torch

SCRIPTS = Path(__file__).resolve().parent
TRAIN_TINY = SCRIPTS / "train_tiny.py"


def script_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("SLURM_") or k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"))
    }
    env.update({"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "CUDA_VISIBLE_DEVICES": ""})
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], *, env: Optional[dict[str, str]] = None) -> subprocess.Popen:
    """Start a process in its own session (so the test can kill it with its workers)."""
    return subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env or script_env(),
        start_new_session=True,
    )


def finish(proc: subprocess.Popen, *, timeout: float = 300) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as err:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError(f"{proc.args} timed out after {timeout}s; output:\n{out[-4000:]}") from err
    if proc.returncode != 0:
        raise AssertionError(f"{proc.args} exited with {proc.returncode}; output:\n{out[-6000:]}")
    return out


def run(args: list[str], *, env: Optional[dict[str, str]] = None, timeout: float = 300) -> str:
    return finish(start(args, env=env), timeout=timeout)


def kill_when(proc: subprocess.Popen, line_prefix: str, *, timeout: float = 300) -> str:
    """Read ``proc``'s output until a line starts with ``line_prefix``, then SIGKILL its whole
    process group (the main process and its DataLoader workers). Returns the output read."""
    seen = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if line.startswith(line_prefix):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return "".join(seen)
        if time.monotonic() > deadline:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    raise AssertionError(f"never saw {line_prefix!r} before the process ended; output:\n{''.join(seen)[-4000:]}")


def train_tiny(out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(TRAIN_TINY), "--out", str(out), *extra]


def last_state(out: Path) -> dict:
    return torch.load(out / "checkpoints" / "last.pt", weights_only=True)


def jsonl(out: Path, *, drop: tuple[str, ...] = ("time", "train/steps_per_s")) -> list[dict]:
    with open(out / "metrics.jsonl", encoding="utf-8") as handle:
        return [{k: v for k, v in json.loads(line).items() if k not in drop} for line in handle]


def parse_prefixed_json(output: str, prefix: str) -> dict:
    for line in output.splitlines():
        if line.startswith(prefix + " "):
            return json.loads(line[len(prefix) + 1 :])
    raise AssertionError(f"no {prefix!r} line in output:\n{output[-3000:]}")
