"""Collectives shared by the engine, the metrics and the losses (one implementation each).

Every function is a no-op (returns its input) without an initialised process group with more
than one rank, and takes an optional ``group``. NCCL groups communicate on the current CUDA
device, gloo groups on the CPU; results come back on the input's device.

Metrics without double counting:

Under DDP every rank evaluates its own shard; ``DistributedSampler`` pads the last shard with
repeats of samples from the start so all ranks have equal length, which silently double counts
those samples when per-rank counts are simply summed. The accumulators in ``videokd.metrics``
therefore take optional sample ids: :func:`first_occurrence_mask` keeps, over all ranks, only the
first occurrence of every id (rank 0 first, then in local order), and the kept counts/sums are
added with one ``all_reduce(SUM)``. Without a process group everything is a local no-op.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.distributed as dist

__all__ = [
    "is_distributed",
    "world_size",
    "rank",
    "barrier",
    "all_reduce_sum",
    "all_reduce_mean",
    "all_reduce_max",
    "all_gather_cat",
    "first_occurrence_mask",
]


def is_distributed(group: Optional[object] = None) -> bool:
    """True when a process group is initialised and has more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1


def world_size(group: Optional[object] = None) -> int:
    return dist.get_world_size(group) if is_distributed(group) else 1


def rank(group: Optional[object] = None) -> int:
    return dist.get_rank(group) if is_distributed(group) else 0


def barrier(group: Optional[object] = None) -> None:
    if is_distributed(group):
        dist.barrier(group=group)


def _comm_device(group: Optional[object]) -> torch.device:
    # NCCL only moves CUDA tensors; gloo needs CPU ones
    if dist.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _all_reduce(tensor: torch.Tensor, op: dist.ReduceOp, group: Optional[object]) -> torch.Tensor:
    out = tensor.detach().to(_comm_device(group), copy=True)
    dist.all_reduce(out, op=op, group=group)
    return out.to(tensor.device)


def all_reduce_sum(tensor: torch.Tensor, *, group: Optional[object] = None) -> torch.Tensor:
    """Sum of ``tensor`` over ranks (a new tensor on ``tensor``'s device); the input when not distributed."""
    return _all_reduce(tensor, dist.ReduceOp.SUM, group) if is_distributed(group) else tensor


def all_reduce_mean(tensor: torch.Tensor, *, group: Optional[object] = None) -> torch.Tensor:
    """Mean of ``tensor`` over ranks (as float); the input when not distributed."""
    if not is_distributed(group):
        return tensor
    return all_reduce_sum(tensor.float(), group=group) / dist.get_world_size(group)


def all_reduce_max(tensor: torch.Tensor, *, group: Optional[object] = None) -> torch.Tensor:
    """Element-wise max of ``tensor`` over ranks; the input when not distributed."""
    return _all_reduce(tensor, dist.ReduceOp.MAX, group) if is_distributed(group) else tensor


def all_gather_cat(tensor: torch.Tensor, *, group: Optional[object] = None) -> torch.Tensor:
    """Concatenate ``tensor`` (``(N_r, ...)``, N_r may differ per rank) over ranks along dim 0, rank order."""
    if not is_distributed(group):
        return tensor
    device = _comm_device(group)
    n = torch.tensor([tensor.shape[0]], device=device)
    sizes = [torch.zeros_like(n) for _ in range(dist.get_world_size(group))]
    dist.all_gather(sizes, n, group=group)
    sizes_i = [int(s) for s in sizes]
    longest = max(sizes_i)
    padded = tensor.detach().new_zeros((longest, *tensor.shape[1:])).to(device)
    padded[: tensor.shape[0]] = tensor.detach().to(device)
    parts = [torch.empty_like(padded) for _ in sizes_i]
    dist.all_gather(parts, padded, group=group)
    return torch.cat([p[:s] for p, s in zip(parts, sizes_i)]).to(tensor.device)


def first_occurrence_mask(ids: torch.Tensor, *, group: Optional[object] = None) -> torch.Tensor:
    """``(N,)`` bool: True where this rank's ``ids[j]`` is the first occurrence of that id over all ranks.

    Occurrences are ordered by rank, then by local position, so a sample that ``DistributedSampler``
    repeated on a later rank (or twice locally) is counted once.
    """
    if ids.dim() != 1:
        raise ValueError(f"ids must be (N,), got shape {tuple(ids.shape)}")
    ids = ids.long()
    rank = dist.get_rank(group) if is_distributed(group) else 0
    all_ids = all_gather_cat(ids, group=group)
    all_rank = all_gather_cat(torch.full_like(ids, rank), group=group)
    # global position of each occurrence; the first occurrence of an id has the smallest position
    pos = torch.arange(all_ids.numel(), device=all_ids.device)
    uniq, inverse = torch.unique(all_ids, return_inverse=True)
    first = torch.full((uniq.numel(),), all_ids.numel(), dtype=torch.long, device=all_ids.device)
    first = first.scatter_reduce(0, inverse, pos, reduce="amin")
    keep_all = first[inverse] == pos
    return keep_all[all_rank == rank].to(ids.device)
