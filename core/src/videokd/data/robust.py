"""What happens when a sample's file is missing, empty, truncated or corrupt.

"Truncated" includes an mp4 cut short whose index survives at the front of the file: the video
reader compares the frames present with the container's own count and raises
:class:`~videokd.data.video.VideoDecodeError` ("truncated or corrupt: 64 of 132 frames
decodable ..."), which is one of :data:`MEDIA_ERRORS`, so it is skipped / reported here like any
other unreadable file instead of being read as a shorter video.

* **Training** (:class:`RobustDataset` with ``train=True``): the sample is skipped, another index
  is drawn at random, a warning names the file, and a counter is kept. If more than
  ``max_failure_rate`` of the attempts (after ``min_attempts``) fail, or ``max_retries`` draws in a
  row fail, a :class:`TooManyFailures` error stops training with the list of files.
* **Evaluation** (``train=False``): a failing sample is never replaced. ``__getitem__`` returns a
  :class:`FailedSample` (index, file, error); :func:`collate_skip_failed` drops those from the
  batch and hands them to the loop, which counts and reports them by name
  (:class:`FailureReport`), so metrics are computed on the readable videos and the number
  missing is explicit.

Counters live in each process (DataLoader workers each keep their own); the evaluation path carries
failures through the batches, so the main process sees all of them.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

import av
from torch.utils.data import Dataset, default_collate

from ..errors import UserError
from .frames import FrameDecodeError
from .video import VideoDecodeError

__all__ = [
    "MEDIA_ERRORS",
    "FailedSample",
    "TooManyFailures",
    "RobustDataset",
    "collate_skip_failed",
    "FailureReport",
]

log = logging.getLogger(__name__)

#: exceptions that mean "this sample's file is bad", not "the code is wrong"
MEDIA_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, VideoDecodeError, FrameDecodeError, av.FFmpegError)


class TooManyFailures(UserError, RuntimeError):
    """Too many samples of a dataset could not be read."""


@dataclass(frozen=True)
class FailedSample:
    """An unreadable evaluation sample: its index, the file that failed and why."""

    index: int
    path: str
    error: str


def _failed_path(err: BaseException, dataset: Any, index: int) -> str:
    for attr in ("path", "filename"):
        value = getattr(err, attr, None)
        if value:
            return os.fspath(value)
    describe = getattr(dataset, "sample_path", None)
    if callable(describe):
        try:
            return os.fspath(describe(index))
        except Exception:  # noqa: BLE001 - only used to name the failure
            pass
    return f"<sample {index}>"


class RobustDataset(Dataset):
    """Wrap a map-style dataset whose ``__getitem__`` may raise on bad files (see module doc).

    Args:
        dataset: the wrapped dataset; if it has ``sample_path(index)``, failures are named with it
            when the exception does not carry a path.
        train: skip-and-redraw (True) or report-and-keep-going (False).
        max_failure_rate: fraction of failed attempts above which :class:`TooManyFailures` is raised.
        min_attempts: attempts before the rate is enforced (a rate on 3 samples means nothing).
        max_retries: consecutive failed redraws for one item before giving up (training).
        errors: exception types treated as bad files; anything else propagates (a bug is a bug).
        seed: seed of the redraw generator (default: Python's global one, reseeded per worker).
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        train: bool,
        max_failure_rate: float = 0.05,
        min_attempts: int = 20,
        max_retries: int = 20,
        errors: Sequence[type[BaseException]] = MEDIA_ERRORS,
        seed: int | None = None,
    ):
        self.dataset = dataset
        self.train = train
        self.max_failure_rate = max_failure_rate
        self.min_attempts = min_attempts
        self.max_retries = max_retries
        self.errors = tuple(errors)
        self._rng = random.Random(seed) if seed is not None else random
        self.attempts = 0
        self.failures: dict[str, str] = {}  # path -> error, in this process
        self.failure_count = 0

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        # expose the wrapped dataset's attributes (classes, samples, ...) unchanged
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def _record(self, index: int, err: BaseException) -> FailedSample:
        path = _failed_path(err, self.dataset, index)
        self.failure_count += 1
        self.failures[path] = f"{type(err).__name__}: {err}"
        mode = "skipped, another sample drawn" if self.train else "reported, not replaced"
        log.warning(
            "unreadable sample %d (%s): %s: %s [%s; %d failure(s) so far in this process]",
            index,
            path,
            type(err).__name__,
            err,
            mode,
            self.failure_count,
        )
        return FailedSample(index, path, f"{type(err).__name__}: {err}")

    def _check_rate(self) -> None:
        if self.attempts >= self.min_attempts and self.failure_count > self.max_failure_rate * self.attempts:
            raise TooManyFailures(
                self._summary(
                    f"{self.failure_count} of {self.attempts} samples failed (more than {self.max_failure_rate:.0%})"
                )
            )

    def _summary(self, head: str) -> str:
        shown = "\n  ".join(f"{p}: {e}" for p, e in list(self.failures.items())[:20])
        more = f"\n  ... and {len(self.failures) - 20} more" if len(self.failures) > 20 else ""
        return f"{head}; unreadable files:\n  {shown}{more}"

    def __getitem__(self, index: int) -> Any:
        tries = 0
        current = index
        while True:
            self.attempts += 1
            try:
                return self.dataset[current]
            except self.errors as err:  # type: ignore[misc]
                failed = self._record(current, err)
                self._check_rate()
                if not self.train:
                    return failed
                tries += 1
                if tries >= self.max_retries:
                    raise TooManyFailures(
                        self._summary(f"{tries} consecutive samples failed while replacing sample {index}")
                    ) from err
                current = self._rng.randrange(len(self))


def collate_skip_failed(
    batch: list[Any], collate_fn: Callable[[list[Any]], Any] = default_collate
) -> tuple[Any | None, list[FailedSample]]:
    """Collate the readable items; return ``(batch or None, failed samples)``."""
    good = [item for item in batch if not isinstance(item, FailedSample)]
    failed = [item for item in batch if isinstance(item, FailedSample)]
    return (collate_fn(good) if good else None), failed


@dataclass
class FailureReport:
    """Accumulates :class:`FailedSample` s of an evaluation and enforces a limit.

    >>> report = FailureReport(total=len(dataset))
    >>> for batch, failed in loader:
    ...     report.extend(failed)
    ...     if batch is None: continue
    >>> report.check()   # raises TooManyFailures above max_failure_rate; logs the names otherwise
    """

    total: int
    max_failure_rate: float = 0.05
    failed: list[FailedSample] = field(default_factory=list)

    def extend(self, failed: Sequence[FailedSample]) -> None:
        self.failed.extend(failed)

    @property
    def count(self) -> int:
        return len(self.failed)

    def summary(self) -> str:
        names = "\n  ".join(f"[{f.index}] {f.path}: {f.error}" for f in self.failed[:50])
        more = f"\n  ... and {self.count - 50} more" if self.count > 50 else ""
        return f"{self.count} of {self.total} evaluation samples could not be read and were left out" + (
            f":\n  {names}{more}" if self.failed else ""
        )

    def check(self) -> None:
        if self.count > self.max_failure_rate * self.total:
            raise TooManyFailures(self.summary())
        if self.failed:
            log.warning(self.summary())

    def as_dict(self) -> dict[str, Any]:
        """Plain data for a metrics JSON."""
        return {
            "total": self.total,
            "failed": self.count,
            "failed_samples": [{"index": f.index, "path": f.path, "error": f.error} for f in self.failed],
        }
