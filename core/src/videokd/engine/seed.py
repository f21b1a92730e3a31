"""Seeding and RNG state capture.

* :func:`seed_everything` seeds Python ``random``, NumPy and torch (CPU + every CUDA device) from
  one integer, optionally with deterministic kernels.
* :func:`worker_init_fn` gives each DataLoader worker its own NumPy/``random`` streams derived
  from the per-worker torch seed (torch already seeds itself per worker; NumPy and ``random``
  would otherwise repeat across workers - the XKD upstream bug).
* :func:`derive_seed` hashes ``(seed, *keys)`` into an independent 63-bit seed (e.g. per rank,
  per epoch, per sample).
* :func:`rng_state` / :func:`set_rng_state` capture and restore all generators as plain data
  (loadable with ``weights_only=True``), which exact resume needs.
"""

from __future__ import annotations

import hashlib
import os
import random
from typing import Any

import numpy as np
import torch

__all__ = ["seed_everything", "derive_seed", "worker_init_fn", "seed_worker_rngs", "rng_state", "set_rng_state"]


def derive_seed(seed: int, *keys: Any) -> int:
    """A well-mixed non-negative 63-bit integer from ``seed`` and any number of int/str keys."""
    text = "/".join([str(int(seed)), *(str(k) for k in keys)]).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") & ((1 << 63) - 1)


def seed_everything(seed: int, *, deterministic: bool = False) -> int:
    """Seed ``random``, NumPy and torch with ``seed``; return it.

    ``deterministic=True`` also asks torch for deterministic algorithms (``warn_only``) and turns
    off cuDNN autotuning, trading speed for run-to-run reproducibility on GPUs.
    """
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    return seed


def seed_worker_rngs(seed: int) -> None:
    """Seed NumPy and ``random`` (not torch) from one integer."""
    random.seed(seed)
    np.random.seed(seed % (2**32))


def worker_init_fn(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: NumPy/``random`` streams from this worker's torch seed.

    torch sets ``torch.initial_seed()`` to ``base_seed + worker_id`` in each worker, where
    ``base_seed`` comes from the loader's generator, so the streams differ per worker and per epoch
    and are reproducible when the loader has a seeded ``generator``.
    """
    seed_worker_rngs(derive_seed(torch.initial_seed(), "worker", worker_id))


def rng_state(*, cuda: bool = True) -> dict[str, Any]:
    """All RNG states of this process as plain data (tensors, ints, tuples)."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "kind": str(np_state[0]),
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if cuda and torch.cuda.is_available() else [],
    }
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured (CUDA states only for devices that exist)."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    npst = state["numpy"]
    np.random.set_state(
        (npst["kind"], npst["keys"].numpy().astype(np.uint32), npst["pos"], npst["has_gauss"], npst["cached_gaussian"])
    )
    torch.set_rng_state(state["torch"].cpu())
    cuda_states = state.get("cuda") or []
    if cuda_states and torch.cuda.is_available():
        for index, s in enumerate(cuda_states[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(s.cpu(), index)
