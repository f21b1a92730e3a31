"""Run logging: TensorBoard event files + a JSON-lines metrics file, and a progress display.

* :class:`MetricLogger` writes every logged dict as one line of ``metrics.jsonl`` (``{"step",
  "epoch", "time", <metrics>}``, easy to compare across the five packages) and as TensorBoard
  scalars (``events.out.tfevents.*``). Only the main rank writes (``enabled=False`` elsewhere).
  On resume, ``resume_step=s`` drops the JSONL lines and TensorBoard events logged after step
  ``s`` by the interrupted run, so the resumed curves have no duplicated or stale points.
* :class:`Progress` is a tqdm bar (rate, ETA, loss) when the stream is a terminal and otherwise
  prints a plain line every ``every`` iterations or ``min_interval_s`` seconds, so job logs
  (SLURM, CI) stay readable.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional, TextIO, Union

import torch

__all__ = ["MetricLogger", "Progress", "format_duration"]


def _scalar(value: Any) -> Optional[float]:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            return None
        value = value.detach().item()
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    return None


class MetricLogger:
    """TensorBoard + ``metrics.jsonl`` logger for one run directory.

    Args:
        log_dir: run directory (created).
        enabled: write anything at all (``dist.is_main``).
        tensorboard: also write TensorBoard event files.
        jsonl_name: file name of the JSON-lines log.
        resume_step: when resuming, drop records with ``step > resume_step`` first.
    """

    def __init__(
        self,
        log_dir: Union[str, os.PathLike[str]],
        *,
        enabled: bool = True,
        tensorboard: bool = True,
        jsonl_name: str = "metrics.jsonl",
        resume_step: Optional[int] = None,
    ) -> None:
        self.log_dir = Path(log_dir)
        self.enabled = enabled
        self.jsonl_path = self.log_dir / jsonl_name
        self._writer = None
        self._jsonl: Optional[TextIO] = None
        if not enabled:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if resume_step is not None:
            self._truncate_jsonl(resume_step)
        self._jsonl = open(self.jsonl_path, "a", encoding="utf-8")
        if tensorboard:
            # imported lazily: tensorboard is heavy and not needed when logging is off
            from torch.utils.tensorboard import SummaryWriter

            purge = None if resume_step is None else resume_step + 1
            if purge is not None:
                self._wait_for_a_later_second()
            self._writer = SummaryWriter(log_dir=os.fspath(self.log_dir), purge_step=purge)

    def _wait_for_a_later_second(self) -> None:
        """TensorBoard reads a folder's event files in name order, and the name starts with the
        creation second, then host, pid and a per-process counter compared as text (``...9`` sorts
        after ``...10``). A resumed writer's purge only works if its file comes after the stale one,
        so it is created in a later second than every event file already there."""
        stamps = []
        for f in self.log_dir.glob("events.out.tfevents.*"):
            part = f.name.split(".")[3] if f.name.count(".") >= 3 else ""
            if part.isdigit():
                stamps.append(int(part))
        if stamps:
            wait = max(stamps) + 1 - time.time()
            if wait > 0:
                time.sleep(min(wait, 1.5))

    def _truncate_jsonl(self, step: int) -> None:
        if not self.jsonl_path.is_file():
            return
        kept = []
        with open(self.jsonl_path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a hard kill
                if int(record.get("step", -1)) <= step:
                    kept.append(json.dumps(record))
        tmp = self.jsonl_path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        os.replace(tmp, self.jsonl_path)

    def log(self, metrics: Mapping[str, Any], *, step: int, epoch: Optional[int] = None) -> None:
        """Log scalar ``metrics`` (floats, ints, 0-d tensors; others are ignored) at ``step``."""
        if not self.enabled:
            return
        record: dict[str, Any] = {"step": int(step)}
        if epoch is not None:
            record["epoch"] = int(epoch)
        record["time"] = round(time.time(), 3)
        for key, value in metrics.items():
            v = _scalar(value)
            if v is None:
                continue
            record[key] = v if math.isfinite(v) else str(v)  # JSON has no inf/nan
            if self._writer is not None:
                self._writer.add_scalar(key, v, global_step=int(step))
        assert self._jsonl is not None
        self._jsonl.write(json.dumps(record) + "\n")
        self._jsonl.flush()

    def log_text(self, tag: str, text: str, *, step: int = 0) -> None:
        if self.enabled and self._writer is not None:
            self._writer.add_text(tag, text, global_step=step)

    def flush(self) -> None:
        if self._jsonl is not None:
            self._jsonl.flush()
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> MetricLogger:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h:d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """Progress of a known number of iterations: tqdm on a TTY, periodic plain lines otherwise.

    Args:
        total: iterations expected (e.g. steps in the epoch).
        desc: a label (``"epoch 3"``).
        enabled: ``False`` on non-main ranks: everything is a no-op.
        stream: where to write (default ``sys.stderr``).
        initial: iterations already done (a resumed epoch).
        every: plain mode - a line every this many iterations (default ``total // 10``).
        min_interval_s: plain mode - also a line when this much time passed since the last one.
        tty: force tqdm (True) or plain lines (False); default ``stream.isatty()``.
    """

    def __init__(
        self,
        total: int,
        *,
        desc: str = "",
        enabled: bool = True,
        stream: Optional[TextIO] = None,
        initial: int = 0,
        every: Optional[int] = None,
        min_interval_s: float = 60.0,
        tty: Optional[bool] = None,
    ) -> None:
        self.total, self.desc, self.enabled = int(total), desc, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.count = self._last_count = int(initial)
        self.every = max(1, every if every is not None else self.total // 10 or 1)
        self.min_interval_s = min_interval_s
        self.postfix: dict[str, Any] = {}
        self._start = self._last_time = time.monotonic()
        self._initial = int(initial)
        self._bar = None
        if not enabled:
            return
        use_tty = self.stream.isatty() if tty is None else tty
        if use_tty:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=self.total, initial=self.count, desc=desc, file=self.stream, dynamic_ncols=True, leave=False
            )

    def update(self, n: int = 1, **postfix: Any) -> None:
        """Advance by ``n`` iterations; ``postfix`` values (e.g. ``loss=...``) are shown from now on."""
        self.count += n
        if not self.enabled:
            return
        if postfix:
            self.postfix.update({k: v for k, v in postfix.items() if _scalar(v) is not None})
        if self._bar is not None:
            if postfix:
                self._bar.set_postfix({k: f"{_scalar(v):.4g}" for k, v in self.postfix.items()}, refresh=False)
            self._bar.update(n)
            return
        now = time.monotonic()
        if (
            self.count - self._last_count >= self.every
            or now - self._last_time >= self.min_interval_s
            or self.count >= self.total
        ):
            self._print_line(now)

    def _print_line(self, now: float) -> None:
        done = self.count - self._initial
        elapsed = max(now - self._start, 1e-9)
        rate = done / elapsed
        eta = (self.total - self.count) / rate if rate > 0 else float("inf")
        pct = 100.0 * self.count / self.total if self.total else 100.0
        extras = " ".join(f"{k}={_scalar(v):.4g}" for k, v in self.postfix.items())
        line = (
            f"{self.desc} {self.count}/{self.total} ({pct:.0f}%) {rate:.2f} it/s "
            f"elapsed {format_duration(elapsed)} eta {format_duration(eta)}"
        )
        self.stream.write((line + (" " + extras if extras else "")).strip() + "\n")
        self.stream.flush()
        self._last_count, self._last_time = self.count, now

    def close(self) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.count != self._last_count:
            self._print_line(time.monotonic())
        self.enabled = False
