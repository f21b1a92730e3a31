"""Seeded, sharded, resumable training sampler; exact evaluation sampler; per-sample RNG seeds."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from videokd.engine import DistributedShuffleSampler, ExactDistributedSampler, SeededDataset, build_train_loader


class NoisyDataset(torch.utils.data.Dataset):
    """Returns draws from the three global RNGs: reproducible only if something seeds them per sample."""

    def __len__(self) -> int:
        return 10

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.tensor([i, random.random(), float(np.random.rand()), torch.rand(()).item()], dtype=torch.float64)


def test_rank_batches_union_is_the_single_process_batch() -> None:
    n, per_rank, world = 23, 3, 2
    single = list(DistributedShuffleSampler(n, seed=5, num_replicas=1, rank=0))
    ranks = [list(DistributedShuffleSampler(n, seed=5, num_replicas=world, rank=r)) for r in range(world)]
    assert len(ranks[0]) == len(ranks[1]) == 12  # padded to equal shards
    for k in range(4):
        union = sorted(ranks[0][k * per_rank : (k + 1) * per_rank] + ranks[1][k * per_rank : (k + 1) * per_rank])
        expected = single[k * per_rank * world : (k + 1) * per_rank * world]
        if k == 3:  # 23 is odd: the last global batch carries the one padded repeat (the order's first sample)
            expected = expected + single[:1]
        assert union == sorted(expected)
    assert sorted(set(ranks[0] + ranks[1])) == list(range(n))  # every sample, one padded repeat


def test_epochs_differ_and_repeat_exactly() -> None:
    s = DistributedShuffleSampler(50, seed=1, num_replicas=1, rank=0)
    s.set_epoch(0)
    e0 = list(s)
    s.set_epoch(1)
    e1 = list(s)
    assert e0 != e1 and sorted(e0) == sorted(e1) == list(range(50))
    torch.manual_seed(123)  # the global RNG plays no part
    s.set_epoch(0)
    assert list(s) == e0
    s.set_epoch(1, start=17)
    assert list(s) == e1[17:]
    assert len(s) == 50
    with pytest.raises(ValueError, match="start 51"):
        s.set_epoch(1, start=51)


def test_no_shuffle_and_drop_last() -> None:
    s = DistributedShuffleSampler(7, shuffle=False, drop_last=True, num_replicas=2, rank=1)
    assert list(s) == [1, 3, 5] and len(s) == 3
    with pytest.raises(ValueError, match="rank 2"):
        DistributedShuffleSampler(7, num_replicas=2, rank=2)


def test_exact_sampler_covers_every_sample_once() -> None:
    parts = [list(ExactDistributedSampler(11, num_replicas=3, rank=r)) for r in range(3)]
    assert [len(p) for p in parts] == [4, 4, 3]
    assert sorted(sum(parts, [])) == list(range(11))


def test_sample_seeds_do_not_depend_on_world_size() -> None:
    single = dict(DistributedShuffleSampler(12, seed=3, num_replicas=1, rank=0, with_seeds=True))
    sharded = {}
    for r in range(3):
        sharded.update(DistributedShuffleSampler(12, seed=3, num_replicas=3, rank=r, with_seeds=True))
    assert single == sharded


def test_seeded_dataset_same_sample_any_worker_count_and_keeps_main_rng() -> None:
    ds = NoisyDataset()

    def epoch(workers: int) -> torch.Tensor:
        loader = build_train_loader(ds, batch_size=3, seed=9, num_workers=workers)
        loader.sampler.set_epoch(2)
        return torch.cat(list(loader))

    torch.manual_seed(0)
    before = torch.get_rng_state()
    in_main = epoch(0)
    assert torch.equal(torch.get_rng_state(), before)  # main-process reads restore the training RNG
    assert torch.equal(in_main, epoch(2))
    # and it is random: two samples never share their draws
    assert in_main[:, 1].unique().numel() == len(ds)
    # plain indices pass through unchanged
    assert SeededDataset(ds)[3][0].item() == 3
