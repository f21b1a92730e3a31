"""Frame-index samplers: which frames of an ``N``-frame video make a clip.

Every function returns **0-based** integer frame indices as an ``np.ndarray`` (add 1 for the
1-based ``img_{:05d}.jpg`` folders the originals read), so samplers are tested without decoding
anything. Random samplers take an ``rng`` that may be a ``random.Random`` (the default is Python's
global one, which PyTorch reseeds in every DataLoader worker), a ``np.random.RandomState`` (the
legacy global stream some originals use) or a ``np.random.Generator``; with the same kind of RNG
and seed as the original the draws are identical.

Families (which package uses what):

* TSN segments - :func:`tsn_train_indices`, :func:`tsn_val_indices`, :func:`tsn_test_indices`
  (Something-Something in tdsclip), the Kinetics variants :func:`segment_inclusive_train_indices`,
  :func:`uniform_indices`, :func:`uniform_multiclip_indices`, and the N-frame window around each
  sampled frame, :func:`frame_windows`;
* dense fixed-stride clips - :func:`dense_indices`, :func:`dense_test_starts`;
* PySlowFast-style selective decoding (kiclip) - :func:`slowfast_clip_indices`;
* 3D-ResNets clips (kd2d3d) - :func:`loop_pad`, :func:`temporal_begin_crop`,
  :func:`temporal_center_crop`, :func:`temporal_random_crop`, :func:`clip_starts`;
* evenly spaced test clips - :func:`uniform_clip_starts`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Union

import numpy as np

__all__ = [
    "RNG",
    "tsn_train_indices",
    "tsn_val_indices",
    "tsn_test_indices",
    "segment_inclusive_train_indices",
    "uniform_indices",
    "uniform_multiclip_indices",
    "frame_windows",
    "dense_indices",
    "dense_test_starts",
    "dense_train_start",
    "slowfast_clip_indices",
    "loop_pad",
    "temporal_begin_crop",
    "temporal_center_crop",
    "temporal_random_crop",
    "temporal_random_crop_bounds",
    "clip_starts",
    "clip_index_lists",
    "uniform_clip_starts",
]

RNG = Union[random.Random, np.random.RandomState, np.random.Generator, None]


def _check(num_frames: int, num_segments: int | None = None) -> None:
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if num_segments is not None and num_segments < 1:
        raise ValueError(f"num_segments must be >= 1, got {num_segments}")


def _randint(rng: RNG, low: int, high: int, size: int | None = None):
    """Integers uniform in ``[low, high)`` with the draw call each RNG kind would make."""
    if rng is None or isinstance(rng, random.Random):
        r = rng or random  # the module functions draw from Python's global generator
        if size is None:
            return r.randrange(low, high)
        return np.array([r.randrange(low, high) for _ in range(size)], dtype=np.int64)
    if isinstance(rng, np.random.Generator):
        return rng.integers(low, high, size=size)
    # np.random.RandomState (or the np.random module itself): legacy randint(low, high)
    return rng.randint(low, high, size=size) if size is not None else int(rng.randint(low, high))


def _uniform(rng: RNG, a: float, b: float) -> float:
    if rng is None or isinstance(rng, random.Random):
        return (rng or random).uniform(a, b)
    return float(rng.uniform(a, b))


def _round_half_even(x: np.ndarray | float) -> np.ndarray:
    return np.round(x).astype(np.int64)


# ------------------------------------------------------------------------------- TSN families
def tsn_train_indices(num_frames: int, num_segments: int, *, rng: RNG = None) -> np.ndarray:
    """TSN training sampling: one random frame inside each of ``T`` equal segments.

    Segment boundaries are ``b_i = floor(i*N/T)``; segment i draws ``r`` uniform in
    ``[0, b_{i+1} - b_i)`` (one ``randint`` call per segment, in order). If ``N <= T`` the result
    is every frame plus ``T - N`` random extra frames (one ``randint(N, size=T-N)`` call), sorted.

    Returns:
        ``(T,)`` int64, 0-based.
    """
    _check(num_frames, num_segments)
    n, t = num_frames, num_segments
    if n <= t:
        extra = np.asarray(_randint(rng, 0, n, size=t - n), dtype=np.int64) if t > n else np.zeros(0, np.int64)
        return np.sort(np.concatenate([np.arange(n, dtype=np.int64), extra]), kind="stable")
    bounds = (np.arange(t + 1) * n) // t
    offsets = [_randint(rng, 0, int(bounds[i + 1] - bounds[i])) for i in range(t)]
    return bounds[:-1] + np.asarray(offsets, dtype=np.int64)


def tsn_val_indices(num_frames: int, num_segments: int) -> np.ndarray:
    """Single-view TSN validation: ``round(s*i) + floor(s/2)`` with ``s = (N-1)/T`` (round half to even)."""
    _check(num_frames, num_segments)
    s = (num_frames - 1) / num_segments
    return _round_half_even(s * np.arange(num_segments)) + int(math.floor(s / 2))


def tsn_test_indices(num_frames: int, num_segments: int, num_clips: int) -> np.ndarray:
    """Multi-clip TSN test: clip k takes ``round(s*i) + floor(s/(C+1) * (k+1))``, ``s = (N-1)/T``.

    Returns:
        ``(C, T)`` int64, clip-major (the order the views are emitted).
    """
    _check(num_frames, num_segments)
    s = (num_frames - 1) / num_segments
    base = _round_half_even(s * np.arange(num_segments))
    d = s / (num_clips + 1)
    shift = np.floor(d * (np.arange(num_clips) + 1)).astype(np.int64)
    return base[None, :] + shift[:, None]


def segment_inclusive_train_indices(num_frames: int, num_segments: int, *, rng: RNG = None) -> np.ndarray:
    """Kinetics ("ATM") training: frame uniform in ``[round(s*i), round(s*(i+1))]`` (both ends
    inclusive), ``s = (N-1)/T`` - one ``randint`` per segment, in order."""
    _check(num_frames, num_segments)
    s = (num_frames - 1) / num_segments
    edges = _round_half_even(s * np.arange(num_segments + 1))
    return np.asarray(
        [_randint(rng, int(edges[i]), int(edges[i + 1]) + 1) for i in range(num_segments)], dtype=np.int64
    )


def uniform_indices(num_frames: int, num_segments: int) -> np.ndarray:
    """``floor(i*N/T)`` for ``i < T`` (Kinetics single-view validation)."""
    _check(num_frames, num_segments)
    return (np.arange(num_segments) * num_frames) // num_segments


def uniform_multiclip_indices(num_frames: int, num_segments: int, num_clips: int) -> np.ndarray:
    """Kinetics multi-clip test: starts ``linspace(0, N/T - 1, C)`` truncated to int, then
    ``floor(start + i*N/T) mod N``. Returns ``(C, T)``.

    Raises ``ValueError`` for ``N < T`` (the original's result then depends on the numpy version).
    """
    _check(num_frames, num_segments)
    if num_frames < num_segments:
        raise ValueError(f"uniform_multiclip_indices needs num_frames >= num_segments ({num_frames} < {num_segments})")
    tick = num_frames / num_segments
    starts = np.linspace(0, tick - 1, num_clips).astype(np.int64)
    idx = np.floor(starts[:, None] + tick * np.arange(num_segments)[None, :]).astype(np.int64)
    return idx % num_frames


def frame_windows(
    centres: Sequence[int] | np.ndarray, num_frames: int, length: int = 5, *, wrap: bool = False
) -> np.ndarray:
    """The ``length``-frame window around each sampled frame (tdsclip's ``num_diff`` frames).

    The window starts ``length // 2`` before the centre and advances one frame at a time, but
    stops advancing once it reaches the last frame (so it sticks there). A position before the
    first frame reads the first frame, or - with ``wrap=True``, decord's negative indexing on
    decoded videos - wraps to the end of the video.

    Returns:
        ``centres.shape + (length,)`` int64, 0-based.
    """
    c = np.asarray(centres, dtype=np.int64)
    pos = np.minimum(c[..., None] - length // 2 + np.arange(length), num_frames - 1)
    # (once pos reaches N-1 it stays there: min() gives exactly that for a monotone sequence)
    if wrap:
        return np.where(pos < 0, pos + num_frames, pos)
    return np.maximum(pos, 0)


# ------------------------------------------------------------------------------- dense clips
def dense_indices(num_frames: int, num_segments: int, stride: int, start: int) -> np.ndarray:
    """Fixed-stride clip ``(start + i*stride) mod N`` for ``i < T`` (I3D-style dense sampling)."""
    _check(num_frames, num_segments)
    return (start + stride * np.arange(num_segments)) % num_frames


def dense_train_start(num_frames: int, window: int, *, rng: RNG = None) -> int:
    """Random start in ``[0, N - window)`` (0 when the video is not longer than the window)."""
    return int(_randint(rng, 0, num_frames - window)) if num_frames > window else 0


def dense_test_starts(num_frames: int, window: int, num_clips: int) -> np.ndarray:
    """Evenly spread dense test starts ``k * floor(max(0, N - window) / (C - 1))``.

    ``num_clips == 1`` gives start 0 (the original divides by zero there).
    """
    if num_clips < 1:
        raise ValueError(f"num_clips must be >= 1, got {num_clips}")
    if num_clips == 1:
        return np.zeros(1, dtype=np.int64)
    step = max(0, num_frames - window) // (num_clips - 1)
    return np.arange(num_clips, dtype=np.int64) * step


# ------------------------------------------------------------------------------- PySlowFast (kiclip)
def slowfast_clip_indices(
    num_frames: int,
    fps: float,
    *,
    sampling_rate: int,
    clip_frames: int,
    target_fps: float,
    clip_idx: int,
    num_clips: int,
    duration_known: bool = True,
    pts_per_frame: float = 1.0,
    rng: RNG = None,
) -> tuple[np.ndarray, float, float]:
    """Which source frames the PySlowFast PyAV decode path puts into a clip (kiclip spec 7.2).

    * Duration known (selective decoding): ``S = max(1, ceil(SR*(T-1)/target_fps*fps))`` frames
      from ``start = d*clip_idx/num_clips`` (``d = max(N-S, 0)``; ``clip_idx=-1``: uniform in
      ``[0, d]``) are decoded - frames whose pts lies in ``[int(start*ppf), int(end*ppf)]``,
      ``end = start + S - 1``, plus the next frame - and ``T`` positions
      ``linspace(0, SR*T/target_fps*fps - 1, T)`` (float32) are clamped to the decoded count and
      truncated.
    * Duration unknown (whole video decoded): span ``S' = max(1, SR*T/target_fps*fps)``, start
      ``clip_idx * floor(d/(num_clips-1))`` (``floor(d/2)`` for one clip; random in ``[0, d]`` for
      training) with ``d = max(N - S', 0)``, positions ``linspace(start, start+S'-1, T)`` clamped.

    Returns:
        ``(indices (T,) int64, start, end)`` where start/end are the (float) window bounds in frames.
    """
    _check(num_frames, clip_frames)
    t = clip_frames
    if duration_known:
        span = max(1, math.ceil(sampling_rate * (t - 1) / target_fps * fps))
        delta = max(num_frames - span, 0)
        start = _uniform(rng, 0, delta) if clip_idx == -1 else delta * clip_idx / num_clips
        end = start + span - 1
        lo, hi = int(start * pts_per_frame), int(end * pts_per_frame)
        pts = np.arange(num_frames) * pts_per_frame
        inside = np.flatnonzero((pts >= lo) & (pts <= hi))
        first = int(inside[0]) if inside.size else int(np.searchsorted(pts, lo))
        last = int(inside[-1]) + 1 if inside.size else first  # plus the first frame after the window
        last = min(last, num_frames - 1)
        decoded = np.arange(first, last + 1)
        pos = np.linspace(0, sampling_rate * t / target_fps * fps - 1, t, dtype=np.float32)
        pos = np.clip(pos, 0, decoded.size - 1).astype(np.int64)
        return decoded[pos], float(start), float(end)
    span = max(1.0, sampling_rate * t / target_fps * fps)
    delta = max(num_frames - span, 0)
    if clip_idx == -1:
        start = _uniform(rng, 0, delta)
    elif num_clips == 1:
        start = float(math.floor(delta / 2))
    else:
        start = float(clip_idx * math.floor(delta / (num_clips - 1)))
    end = start + span - 1
    pos = np.linspace(start, end, t, dtype=np.float32)
    return np.clip(pos, 0, num_frames - 1).astype(np.int64), float(start), float(end)


# ------------------------------------------------------------------------------- 3D-ResNets (kd2d3d)
def loop_pad(indices: Sequence[int] | np.ndarray, size: int) -> np.ndarray:
    """Repeat ``indices`` cyclically from the start until there are at least ``size`` entries
    (longer inputs unchanged, an empty input stays empty). Never mutates its input."""
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size == 0 or idx.size >= size:
        return idx.copy()
    return np.resize(idx, size)


def temporal_begin_crop(indices: Sequence[int] | np.ndarray, size: int) -> np.ndarray:
    """The first ``size`` entries, loop-padded."""
    return loop_pad(np.asarray(indices, dtype=np.int64)[:size], size)


def temporal_center_crop(indices: Sequence[int] | np.ndarray, size: int) -> np.ndarray:
    """``size`` entries from ``max(0, n//2 - size//2)``, loop-padded."""
    idx = np.asarray(indices, dtype=np.int64)
    begin = max(0, idx.size // 2 - size // 2)
    return loop_pad(idx[begin : begin + size], size)


def temporal_random_crop_bounds(n: int, size: int) -> tuple[int, int]:
    """Inclusive range of the random crop's begin offset: ``[0, max(0, n - size - 1)]``.

    (The 3D-ResNets off-by-one: for ``n > size`` a window ending on the last frame is never drawn.)
    """
    return 0, max(0, n - size - 1)


def temporal_random_crop(
    indices: Sequence[int] | np.ndarray, size: int, *, begin: int | None = None, rng: RNG = None
) -> np.ndarray:
    """``size`` consecutive entries from a random begin offset (see :func:`temporal_random_crop_bounds`),
    truncated at the end and loop-padded. Pass ``begin`` to use a given offset."""
    idx = np.asarray(indices, dtype=np.int64)
    if begin is None:
        lo, hi = temporal_random_crop_bounds(idx.size, size)
        begin = int(_randint(rng, lo, hi + 1))
    return loop_pad(idx[begin : begin + size], size)


def clip_starts(
    num_frames: int, sample_duration: int, n_samples: int, *, begin: int = 1, end: int | None = None
) -> np.ndarray:
    """Clip start frames of the 3D-ResNets sample lists (frames numbered from ``begin``).

    ``n_samples == 1``: one start (the whole video is one training sample); ``n_samples > 1``
    (validation): step ``max(1, ceil((num_frames - 1 - T) / (n_samples - 1)))``; ``n_samples == 0``
    (test): step ``T``. Starts run ``begin, begin+step, ...`` while ``< end`` (default
    ``begin + num_frames - 1``: a clip never starts on the last frame), so short videos give many
    overlapping validation clips. ActivityNet passes a timed segment as ``begin``/``end`` with
    ``num_frames = end - begin``.
    """
    if n_samples == 1:
        return np.asarray([begin], dtype=np.int64)
    if n_samples > 1:
        step = max(1, math.ceil((num_frames - 1 - sample_duration) / (n_samples - 1)))
    else:
        step = sample_duration
    stop = begin + num_frames - 1 if end is None else end
    return np.arange(begin, stop, step, dtype=np.int64)


def clip_index_lists(
    num_frames: int,
    sample_duration: int,
    n_samples: int,
    *,
    begin: int = 1,
    end: int | None = None,
    last_frame: int | None = None,
) -> list[np.ndarray]:
    """The frame lists of :func:`clip_starts`: ``start .. min(last_frame, start+T-1)`` each, where
    ``last_frame`` (default ``begin + num_frames - 1``) is the last frame on disk. With
    ``n_samples == 1`` the single list is every frame ``begin .. last_frame``. Not loop-padded
    (the dataset's temporal transform pads)."""
    last = begin + num_frames - 1 if last_frame is None else last_frame
    if n_samples == 1:
        return [np.arange(begin, last + 1, dtype=np.int64)]
    return [
        np.arange(s, min(last, s + sample_duration - 1) + 1, dtype=np.int64)
        for s in clip_starts(num_frames, sample_duration, n_samples, begin=begin, end=end)
    ]


# ------------------------------------------------------------------------------- evenly spaced clips
def uniform_clip_starts(num_frames: int, clip_len: int, num_clips: int) -> np.ndarray:
    """``linspace(0, N - clip_len, num_clips)`` truncated to int (XKD test clips); all 0 if short."""
    return np.linspace(0, max(num_frames - clip_len, 0), num_clips).astype(np.int64)
