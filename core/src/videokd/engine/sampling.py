"""Samplers and loaders that make distributed training reproducible and resumable.

* :class:`DistributedShuffleSampler` - the training sampler. Each epoch's order is a permutation
  seeded by ``(seed, epoch)`` (so it never depends on global RNG state or on how many batches were
  drawn before), padded like torch's ``DistributedSampler`` so every rank gets the same number of
  samples, and rank ``r`` takes positions ``r, r+W, ...``. Consequently the union of the ranks'
  ``k``-th batches is exactly the ``k``-th global batch of a single process with ``W`` times the
  batch size. ``set_epoch(epoch, start=n)`` skips the first ``n`` samples of this rank's shard,
  which is how a run resumed mid-epoch continues with the very next batch.
* ``with_seeds=True`` makes the sampler yield ``(index, sample_seed)`` pairs, and
  :class:`SeededDataset` seeds ``random``/NumPy/torch from that seed around ``dataset[index]``. A
  dataset that draws augmentations from the global RNGs then produces the same sample for the same
  ``(seed, epoch, position)`` whatever the number of workers or ranks and across a resume.
* :class:`ExactDistributedSampler` - for evaluation: rank ``r`` gets ``r, r+W, ...`` with **no
  padding**, so nothing is counted twice; :func:`videokd.engine.distributed.gather_exact` puts the
  per-rank outputs back in dataset order.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sized
from typing import Any, Callable, Optional, Union

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, get_worker_info

from .distributed import DistInfo, get_dist_info
from .seed import derive_seed, worker_init_fn

__all__ = [
    "DistributedShuffleSampler",
    "ExactDistributedSampler",
    "SeededDataset",
    "build_train_loader",
    "build_eval_loader",
]


def _length(data: Union[int, Sized]) -> int:
    return int(data) if isinstance(data, int) else len(data)


def _shard(num_replicas: Optional[int], rank: Optional[int]) -> tuple[int, int]:
    """``(world size, rank)``: the given values, else the process group's; checked."""
    info = get_dist_info()
    world = info.world_size if num_replicas is None else int(num_replicas)
    r = info.rank if rank is None else int(rank)
    if not 0 <= r < world:
        raise ValueError(f"rank {r} outside [0, {world})")
    return world, r


class DistributedShuffleSampler(Sampler):
    """Per-epoch seeded, rank-sharded, resumable training sampler.

    Args:
        data: the dataset (or its length).
        shuffle: permute each epoch (``False``: dataset order).
        seed: base seed; epoch ``e`` uses ``derive_seed(seed, "epoch", e)``.
        num_replicas / rank: default from the current :class:`DistInfo`.
        drop_last: drop the tail instead of padding so the shards divide evenly.
        with_seeds: yield ``(index, sample_seed)`` for :class:`SeededDataset`.
    """

    def __init__(
        self,
        data: Union[int, Sized],
        *,
        shuffle: bool = True,
        seed: int = 0,
        num_replicas: Optional[int] = None,
        rank: Optional[int] = None,
        drop_last: bool = False,
        with_seeds: bool = False,
    ) -> None:
        self.n = _length(data)
        self.num_replicas, self.rank = _shard(num_replicas, rank)
        if self.n == 0:
            raise ValueError("DistributedShuffleSampler: the dataset is empty")
        self.shuffle, self.seed, self.drop_last, self.with_seeds = shuffle, int(seed), drop_last, with_seeds
        if drop_last:
            self.num_samples = self.n // self.num_replicas
            if self.num_samples == 0:
                raise ValueError(f"drop_last with {self.n} samples over {self.num_replicas} ranks leaves nothing")
        else:
            self.num_samples = -(-self.n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch (its permutation) and skip this rank's first ``start`` samples of it."""
        if not 0 <= start <= self.num_samples:
            raise ValueError(f"start {start} outside [0, {self.num_samples}] samples of this rank's shard")
        self.epoch, self.start = int(epoch), int(start)

    def global_order(self, epoch: int) -> torch.Tensor:
        """``(total_size,)`` the padded/truncated permutation all ranks share for ``epoch``."""
        if self.shuffle:
            g = torch.Generator().manual_seed(derive_seed(self.seed, "epoch", epoch))
            order = torch.randperm(self.n, generator=g)
        else:
            order = torch.arange(self.n)
        if self.total_size > self.n:  # pad by wrapping around, as torch's DistributedSampler does
            reps = -(-self.total_size // self.n)
            order = order.repeat(reps)
        return order[: self.total_size]

    def __iter__(self) -> Iterator[Any]:
        order = self.global_order(self.epoch)
        positions = torch.arange(self.rank, self.total_size, self.num_replicas)[self.start :]
        indices = order[positions].tolist()
        if not self.with_seeds:
            return iter(indices)
        base = derive_seed(self.seed, "samples", self.epoch)
        # the seed depends on the global position only: identical for any world size / worker count
        seeds = [derive_seed(base, p) for p in positions.tolist()]
        return iter(list(zip(indices, seeds)))

    def __len__(self) -> int:
        return self.num_samples

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "start": self.start, "seed": self.seed}


class ExactDistributedSampler(Sampler):
    """Evaluation sampler: rank ``r`` gets samples ``r, r+W, r+2W, ...`` (no padding, no shuffle)."""

    def __init__(
        self, data: Union[int, Sized], *, num_replicas: Optional[int] = None, rank: Optional[int] = None
    ) -> None:
        self.n = _length(data)
        self.num_replicas, self.rank = _shard(num_replicas, rank)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.n, self.num_replicas))

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.num_replicas))


class SeededDataset(Dataset):
    """Wrap a map-style dataset so that ``ds[(index, seed)]`` runs ``dataset[index]`` with all global
    RNGs (``random``, NumPy, torch CPU) seeded from ``seed``; plain ``ds[index]`` passes through.

    In a worker process the RNGs are simply reseeded; in the main process (``num_workers=0``) they
    are restored afterwards so the training loop's own random stream is not disturbed.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        if name == "dataset":  # not set yet (unpickling)
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, key: Any) -> Any:
        if not isinstance(key, tuple):
            return self.dataset[key]
        index, seed = key
        in_worker = get_worker_info() is not None
        if not in_worker:
            saved = (random.getstate(), np.random.get_state(), torch.get_rng_state())
        random.seed(seed)
        np.random.seed(seed % (2**32))
        torch.default_generator.manual_seed(seed)  # CPU only: never touches CUDA generators
        try:
            return self.dataset[index]
        finally:
            if not in_worker:
                random.setstate(saved[0])
                np.random.set_state(saved[1])
                torch.set_rng_state(saved[2])


def build_train_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    seed: int = 0,
    shuffle: bool = True,
    drop_last: bool = False,
    num_workers: int = 0,
    collate_fn: Optional[Callable[[list], Any]] = None,
    per_sample_seeds: bool = True,
    pin_memory: bool = False,
    persistent_workers: bool = False,
    prefetch_factor: Optional[int] = None,
    dist_info: Optional[DistInfo] = None,
) -> DataLoader:
    """A training DataLoader with a :class:`DistributedShuffleSampler` (``batch_size`` is per rank).

    ``per_sample_seeds`` wraps the dataset in :class:`SeededDataset` so random augmentations are
    reproducible per sample (and across resume). ``drop_last`` drops an incomplete last batch.
    """
    info = dist_info or get_dist_info()
    sampler = DistributedShuffleSampler(
        len(dataset),  # type: ignore[arg-type]
        shuffle=shuffle,
        seed=seed,
        num_replicas=info.world_size,
        rank=info.rank,
        with_seeds=per_sample_seeds,
    )
    kwargs: dict[str, Any] = {}
    if num_workers > 0:
        kwargs["persistent_workers"] = persistent_workers
        if prefetch_factor is not None:
            kwargs["prefetch_factor"] = prefetch_factor
    return DataLoader(
        SeededDataset(dataset) if per_sample_seeds else dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=num_workers,
        collate_fn=collate_fn,
        pin_memory=pin_memory,
        worker_init_fn=worker_init_fn,
        # the loader's own generator: drawing worker base seeds never consumes the global torch RNG
        generator=torch.Generator().manual_seed(derive_seed(seed, "loader", info.rank)),
        **kwargs,
    )


def build_eval_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    num_workers: int = 0,
    collate_fn: Optional[Callable[[list], Any]] = None,
    pin_memory: bool = False,
    dist_info: Optional[DistInfo] = None,
) -> DataLoader:
    """An evaluation DataLoader with an :class:`ExactDistributedSampler` (every sample once)."""
    info = dist_info or get_dist_info()
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=ExactDistributedSampler(len(dataset), num_replicas=info.world_size, rank=info.rank),  # type: ignore[arg-type]
        num_workers=num_workers,
        collate_fn=collate_fn,
        pin_memory=pin_memory,
        worker_init_fn=worker_init_fn,
    )
