"""Properties of the frame-index samplers (exact values are pinned by test_parity_data.py)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videokd.data import samplers as S

frames = st.integers(1, 400)
segments = st.integers(1, 16)


@settings(max_examples=60, deadline=None)
@given(n=frames, t=segments, seed=st.integers(0, 2**31 - 1))
def test_tsn_train_stays_in_its_segment(n, t, seed):
    idx = S.tsn_train_indices(n, t, rng=np.random.RandomState(seed))
    assert idx.shape == (t,) and idx.dtype == np.int64
    assert (idx >= 0).all() and (idx < n).all()
    assert (np.diff(idx) >= 0).all()  # sorted (also on the short-video path)
    if n > t:
        bounds = (np.arange(t + 1) * n) // t
        assert ((idx >= bounds[:-1]) & (idx < bounds[1:])).all()
    else:
        assert set(range(n)) <= set(idx.tolist())  # every frame of a short video is used


@settings(max_examples=60, deadline=None)
@given(n=frames, t=segments, clips=st.integers(1, 5))
def test_deterministic_samplers_in_range(n, t, clips):
    for idx in (S.tsn_val_indices(n, t), S.tsn_test_indices(n, t, clips), S.uniform_indices(n, t)):
        assert (idx >= 0).all() and (idx < n).all()
    assert S.tsn_test_indices(n, t, clips).shape == (clips, t)
    if n >= t:
        multi = S.uniform_multiclip_indices(n, t, clips)
        assert multi.shape == (clips, t) and (multi >= 0).all() and (multi < n).all()
    idx = S.segment_inclusive_train_indices(n, t, rng=random.Random(n))
    assert (idx >= 0).all() and (idx < n).all()


def test_same_seed_same_draws_across_rng_kinds():
    for make in (lambda: random.Random(3), lambda: np.random.RandomState(3), lambda: np.random.default_rng(3)):
        a = S.tsn_train_indices(100, 8, rng=make())
        b = S.tsn_train_indices(100, 8, rng=make())
        assert np.array_equal(a, b)
    # the default is Python's global generator (reseeded per DataLoader worker by PyTorch)
    random.seed(5)
    a = S.tsn_train_indices(100, 8)
    random.seed(5)
    assert np.array_equal(a, S.tsn_train_indices(100, 8))


def test_frame_windows_clamp_stick_and_wrap():
    w = S.frame_windows([0, 1, 5, 9], 10, 5)
    assert w.tolist() == [[0, 0, 0, 1, 2], [0, 0, 1, 2, 3], [3, 4, 5, 6, 7], [7, 8, 9, 9, 9]]
    assert S.frame_windows([0], 10, 5, wrap=True).tolist() == [[8, 9, 0, 1, 2]]
    assert S.frame_windows(np.zeros((2, 3), int), 4, 3).shape == (2, 3, 3)


def test_dense_and_uniform_clips():
    idx = S.dense_indices(100, 8, 16, start=40)
    assert idx.tolist() == [40, 56, 72, 88, 4, 20, 36, 52]  # wraps modulo N
    assert S.dense_test_starts(300, 128, 3).tolist() == [0, 86, 172]
    assert S.dense_test_starts(300, 128, 1).tolist() == [0]  # the original divides by zero here
    assert S.dense_test_starts(100, 128, 4).tolist() == [0, 0, 0, 0]
    rng = random.Random(0)
    starts = {S.dense_train_start(200, 128, rng=rng) for _ in range(300)}
    assert min(starts) >= 0 and max(starts) < 72
    assert S.dense_train_start(100, 128) == 0
    assert S.uniform_clip_starts(100, 32, 3).tolist() == [0, 34, 68]
    assert S.uniform_clip_starts(10, 32, 2).tolist() == [0, 0]


def test_slowfast_random_start_in_range():
    rng = random.Random(0)
    for _ in range(50):
        idx, start, end = S.slowfast_clip_indices(
            300, 30.0, sampling_rate=8, clip_frames=8, target_fps=30, clip_idx=-1, num_clips=1, rng=rng
        )
        assert 0 <= start <= 300 - 56 and end == pytest.approx(start + 55)
        assert (np.diff(idx) >= 0).all() and idx.min() >= int(start) and idx.max() <= min(299, int(end) + 1)


def test_loop_pad_and_3d_resnets_crops():
    assert S.loop_pad([4, 5, 6], 7).tolist() == [4, 5, 6, 4, 5, 6, 4]
    assert S.loop_pad([], 3).tolist() == []
    assert S.temporal_center_crop(list(range(1, 21)), 4).tolist() == [9, 10, 11, 12]
    lo, hi = S.temporal_random_crop_bounds(20, 4)
    rng = random.Random(1)
    seen = {S.temporal_random_crop(list(range(20)), 4, rng=rng)[0] for _ in range(500)}
    assert seen == set(range(lo, hi + 1))  # never a window ending on the last frame
    assert S.clip_starts(20, 8, 3).tolist() == [1, 7, 13, 19]
    assert S.clip_starts(20, 8, 0).tolist() == [1, 9, 17]
    assert [c.tolist() for c in S.clip_index_lists(10, 8, 0)] == [list(range(1, 9)), [9, 10]]
    assert S.clip_index_lists(1, 8, 0) == []


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_frames must be >= 1"):
        S.tsn_train_indices(0, 8)
    with pytest.raises(ValueError, match="num_segments must be >= 1"):
        S.uniform_indices(10, 0)
    with pytest.raises(ValueError, match="num_clips must be >= 1"):
        S.dense_test_starts(10, 4, 0)
