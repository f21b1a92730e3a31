"""Process groups from torchrun or SLURM, and the few collectives the loop needs.

One process per device. :func:`init_distributed` reads the launcher's environment:

* **torchrun** (or ``torch.distributed.launch``): ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
  ``MASTER_ADDR``, ``MASTER_PORT``;
* **SLURM** (``srun`` inside an ``sbatch`` script, what the XKD scripts use): ``SLURM_PROCID``,
  ``SLURM_STEP_NUM_TASKS`` (else ``SLURM_NTASKS``), ``SLURM_LOCALID`` and the first host of
  ``SLURM_JOB_NODELIST``/``SLURM_NODELIST`` as the master address (compressed lists such as
  ``node[01-04,07],gpu3`` are expanded). ``MASTER_ADDR`` / ``MASTER_PORT`` from the environment
  win when set; the default port is ``15000 + SLURM_JOB_ID % 20000`` so two jobs sharing a node
  do not collide. Run the script under ``srun`` (one task per GPU): a plain ``python`` in the
  batch script sees the allocation's task count and would wait for ranks that never start
  (:func:`init_distributed` warns when ``SLURM_STEP_ID`` is missing);
* neither: a single process.

The backend is NCCL when the device is CUDA and gloo otherwise, so the same script runs on GPUs
and, for tests, as several CPU processes. A world of one never creates a process group (every
helper below is then a cheap local no-op).
"""

from __future__ import annotations

import contextlib
import datetime
import inspect
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.distributed as dist

from videokd.comm import all_gather_cat, all_reduce_mean, all_reduce_sum, barrier, is_distributed

__all__ = [
    "DistInfo",
    "init_distributed",
    "shutdown",
    "distributed_session",
    "launcher_env",
    "expand_nodelist",
    "get_dist_info",
    "is_distributed",
    "barrier",
    "all_reduce_sum",
    "all_reduce_mean",
    "reduce_metrics",
    "all_gather_objects",
    "broadcast_object",
    "gather_exact",
]


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job.

    ``device`` is the device this process computes on (``cuda:<local_rank>`` or ``cpu``);
    ``backend`` is ``"nccl"``, ``"gloo"`` or ``None`` for a single process; ``launcher`` says
    which environment was read (``"torchrun"``, ``"slurm"`` or ``"none"``).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: Optional[str] = None
    launcher: str = "none"
    master_addr: Optional[str] = None
    master_port: Optional[int] = None

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes logs and checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


_CURRENT = DistInfo()


def expand_nodelist(nodelist: str) -> list[str]:
    """Expand a SLURM compressed host list: ``"a[01-03,07],b2"`` -> ``["a01","a02","a03","a07","b2"]``.

    Zero padding is kept (``[08-10]`` -> ``08, 09, 10``). Several bracket groups in one name
    (``r[1-2]n[1-2]``) expand as a product, in SLURM's order.
    """
    hosts: list[str] = []
    for item in _split_top_level(nodelist.strip()):
        hosts.extend(_expand_one(item))
    if not hosts:
        raise ValueError(f"empty SLURM node list {nodelist!r}")
    return hosts


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced ']' in SLURM node list {text!r}")
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0:
        raise ValueError(f"unbalanced '[' in SLURM node list {text!r}")
    parts.append(text[start:])
    return [p for p in (p.strip() for p in parts) if p]


def _expand_one(name: str) -> list[str]:
    match = re.search(r"\[([^\]]*)\]", name)
    if match is None:
        return [name]
    head, tail = name[: match.start()], name[match.end() :]
    out = []
    for rng in match.group(1).split(","):
        rng = rng.strip()
        if "-" in rng:
            lo, hi = rng.split("-", 1)
            if not (lo.isdigit() and hi.isdigit()) or int(hi) < int(lo):
                raise ValueError(f"bad range {rng!r} in SLURM node list {name!r}")
            width = len(lo)
            numbers = [str(n).zfill(width) for n in range(int(lo), int(hi) + 1)]
        else:
            if not rng:
                raise ValueError(f"empty entry in SLURM node list {name!r}")
            numbers = [rng]
        for number in numbers:
            out.extend(_expand_one(head + number + tail))
    return out


def launcher_env(env: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    """Read rank/world/local rank/master address from a launcher's environment (pure function).

    Returns a dict with ``launcher``, ``rank``, ``world_size``, ``local_rank``, ``master_addr``,
    ``master_port``. torchrun's variables win over SLURM's (``srun torchrun ...`` is valid).
    """
    env = os.environ if env is None else env

    def _int(key: str) -> int:
        try:
            return int(env[key])
        except ValueError:
            raise ValueError(f"environment variable {key}={env[key]!r} is not an integer") from None

    if "RANK" in env and "WORLD_SIZE" in env:
        return {
            "launcher": "torchrun",
            "rank": _int("RANK"),
            "world_size": _int("WORLD_SIZE"),
            "local_rank": _int("LOCAL_RANK") if "LOCAL_RANK" in env else 0,
            "master_addr": env.get("MASTER_ADDR", "127.0.0.1"),
            "master_port": _int("MASTER_PORT") if "MASTER_PORT" in env else 29500,
        }
    if "SLURM_PROCID" in env and ("SLURM_NTASKS" in env or "SLURM_NPROCS" in env or "SLURM_STEP_NUM_TASKS" in env):
        # srun sets the step's own task count; SLURM_NTASKS is the whole allocation's
        key = next(k for k in ("SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_NPROCS") if k in env)
        world = _int(key)
        nodelist = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST") or "127.0.0.1"
        if "MASTER_PORT" in env:
            port = _int("MASTER_PORT")
        else:
            job = env.get("SLURM_JOB_ID", "0")
            port = 15000 + (int(job) % 20000 if job.isdigit() else 0)
        return {
            "launcher": "slurm",
            "rank": _int("SLURM_PROCID"),
            "world_size": world,
            "local_rank": _int("SLURM_LOCALID") if "SLURM_LOCALID" in env else 0,
            "master_addr": env.get("MASTER_ADDR") or expand_nodelist(nodelist)[0],
            "master_port": port,
        }
    return {"launcher": "none", "rank": 0, "world_size": 1, "local_rank": 0, "master_addr": None, "master_port": None}


def _pick_device(device: Optional[str], local_rank: int) -> torch.device:
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"--device {device!r} asked for CUDA but torch.cuda.is_available() is False")
        if dev.index is None:  # one process per GPU: "cuda" means this process's GPU
            dev = torch.device("cuda", local_rank % torch.cuda.device_count())
    return dev


def init_distributed(
    device: Optional[str] = None,
    *,
    backend: Optional[str] = None,
    timeout_s: float = 1800.0,
    env: Optional[Mapping[str, str]] = None,
) -> DistInfo:
    """Initialise the process group from the launcher's environment and pick this process's device.

    Args:
        device: ``None``/``"auto"`` (CUDA ``local_rank`` when available, else CPU), ``"cpu"``,
            ``"cuda"`` (this process's GPU) or ``"cuda:N"``.
        backend: override ``nccl``/``gloo`` (default: NCCL for CUDA devices, gloo otherwise).
        timeout_s: collective timeout.
        env: environment to read (default ``os.environ``); the process group itself still uses
            ``MASTER_ADDR``/``MASTER_PORT``, which are exported from the SLURM values when unset.
    """
    global _CURRENT
    info = launcher_env(env)
    world, rank = info["world_size"], info["rank"]
    if info["launcher"] == "slurm" and world > 1 and "SLURM_STEP_ID" not in (os.environ if env is None else env):
        warnings.warn(
            f"SLURM variables say {world} tasks but this process was not started by srun (no SLURM_STEP_ID); "
            "a plain `python` in an sbatch script would wait for ranks that never start - launch with srun or torchrun"
        )
    if not 0 <= rank < world:
        raise ValueError(f"rank {rank} outside world size {world} ({info['launcher']} environment)")
    dev = _pick_device(device, info["local_rank"])
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    chosen_backend = None
    if world > 1:
        chosen_backend = backend or ("nccl" if dev.type == "cuda" else "gloo")
        if not dist.is_initialized():
            os.environ.setdefault("MASTER_ADDR", str(info["master_addr"]))
            os.environ.setdefault("MASTER_PORT", str(info["master_port"]))
            kwargs: dict[str, Any] = {}
            if chosen_backend == "nccl" and "device_id" in inspect.signature(dist.init_process_group).parameters:
                kwargs["device_id"] = dev  # binds the communicator to this GPU eagerly (torch >= 2.3)
            dist.init_process_group(
                backend=chosen_backend,
                init_method="env://",
                rank=rank,
                world_size=world,
                timeout=datetime.timedelta(seconds=timeout_s),
                **kwargs,
            )
    _CURRENT = DistInfo(
        rank=rank,
        world_size=world,
        local_rank=info["local_rank"],
        device=dev,
        backend=chosen_backend,
        launcher=info["launcher"],
        master_addr=info["master_addr"],
        master_port=info["master_port"],
    )
    return _CURRENT


def get_dist_info() -> DistInfo:
    """The :class:`DistInfo` of the last :func:`init_distributed` call (a single CPU process before)."""
    return _CURRENT


def shutdown() -> None:
    """Destroy the process group if there is one (safe to call twice)."""
    global _CURRENT
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _CURRENT = DistInfo()


@contextlib.contextmanager
def distributed_session(device: Optional[str] = None, **kwargs: Any) -> Iterator[DistInfo]:
    """``with distributed_session() as info: ...`` - init, and a clean shutdown also on error."""
    info = init_distributed(device, **kwargs)
    try:
        yield info
    finally:
        shutdown()


def reduce_metrics(metrics: Mapping[str, Any], *, weight: Optional[float] = None) -> dict[str, float]:
    """Average a dict of scalars over ranks with a single all-reduce.

    ``weight`` (e.g. this rank's sample count) makes it a weighted mean, so ranks with fewer
    samples (exact-count evaluation) do not skew the result. Keys must be identical on all ranks.
    """
    keys = sorted(metrics)
    if not keys:
        return {}
    values = torch.tensor(
        [
            float(metrics[k].detach().float().item()) if isinstance(metrics[k], torch.Tensor) else float(metrics[k])
            for k in keys
        ],
        dtype=torch.float64,
    )
    if not is_distributed():
        return {k: float(v) for k, v in zip(keys, values.tolist())}
    w = 1.0 if weight is None else float(weight)
    packed = torch.cat([values * w, torch.tensor([w], dtype=torch.float64)])
    packed = all_reduce_sum(packed)
    total_w = float(packed[-1])
    if total_w == 0:
        raise ValueError("reduce_metrics: the total weight over ranks is 0")
    return {k: float(v) / total_w for k, v in zip(keys, packed[:-1].tolist())}


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's picklable ``obj``, in rank order (``[obj]`` when single-process)."""
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def gather_exact(local: torch.Tensor, n_total: int) -> torch.Tensor:
    """Reassemble per-rank evaluation outputs into dataset order, every sample exactly once.

    Pairs with :class:`videokd.engine.sampling.ExactDistributedSampler`, which gives rank ``r``
    the samples ``r, r + W, r + 2W, ...`` (no padding, so shard sizes differ by at most one).

    Args:
        local: ``(N_r, ...)`` outputs of this rank's shard, in sampler order.
        n_total: dataset length N.
    Returns:
        ``(N, ...)`` on every rank: row ``i`` is sample ``i``.
    """
    world = dist.get_world_size() if is_distributed() else 1
    rank = dist.get_rank() if is_distributed() else 0
    expected = len(range(rank, n_total, world))
    if local.shape[0] != expected:
        raise ValueError(
            f"gather_exact: rank {rank} holds {local.shape[0]} rows but its exact shard of {n_total} "
            f"samples over {world} ranks has {expected}; use ExactDistributedSampler for evaluation"
        )
    if world == 1:
        return local
    gathered = all_gather_cat(local)  # rank 0's rows, then rank 1's, ...
    order = torch.cat([torch.arange(r, n_total, world, device=gathered.device) for r in range(world)])
    out = torch.empty_like(gathered)
    out[order] = gathered
    return out
