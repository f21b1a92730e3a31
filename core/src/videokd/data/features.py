"""Precomputed frame-feature files: the PRVR ``BigFile`` (``feature.bin`` + ``shape.txt`` + ``id.txt``)
and the ``video2frames.txt`` index (dldkd spec section 3).

The original reader opens the file and seeks once per *frame*; here the whole matrix is an
``np.memmap`` (opened lazily, so it is safe to create before DataLoader workers fork) and a video
is one fancy-indexing read. ``video2frames.txt`` is a Python dict literal; it is parsed with
``ast.literal_eval`` (safe), never ``eval``.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._errors import missing_file

__all__ = ["BigFile", "read_video2frames", "uniform_feature_sampling", "l2_normalize_rows"]


class BigFile:
    """A ``(N, D)`` float32 matrix stored as raw little-endian ``feature.bin`` with row names.

    Args:
        folder: directory holding ``shape.txt`` ("N D"), ``id.txt`` (N whitespace-separated ids,
            in row order) and ``feature.bin``.
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        shape_path, id_path, bin_path = (self.folder / n for n in ("shape.txt", "id.txt", "feature.bin"))
        for p in (shape_path, id_path, bin_path):
            if not p.is_file():
                raise missing_file(f"BigFile: missing {p}", p)
        try:
            n, d = (int(x) for x in shape_path.read_text().split()[:2])
        except ValueError as err:
            raise ValueError(f"BigFile: {shape_path} must hold 'N D' (two integers)") from err
        # ids are decoded as ISO-8859-1 like the original, so any byte sequence is accepted
        self.names: list[str] = id_path.read_bytes().decode("iso-8859-1").split()
        if len(self.names) != n:
            raise ValueError(f"BigFile: {id_path} has {len(self.names)} ids but shape.txt says N={n}")
        expected = n * d * 4
        actual = bin_path.stat().st_size
        if actual != expected:
            raise ValueError(f"BigFile: {bin_path} has {actual} bytes, expected N*D*4 = {n}*{d}*4 = {expected}")
        self.shape = (n, d)
        self.ndims = d
        self.name2index = {name: i for i, name in enumerate(self.names)}
        if len(self.name2index) != n:
            raise ValueError(f"BigFile: {id_path} has duplicate ids")
        self._bin_path = bin_path
        self._array: np.memmap | None = None
        self._pid: int | None = None

    @property
    def array(self) -> np.memmap:
        """The ``(N, D)`` memmap, (re)opened lazily in each process."""
        if self._array is None or self._pid != os.getpid():
            self._array = np.memmap(self._bin_path, dtype="<f4", mode="r", shape=self.shape)
            self._pid = os.getpid()
        return self._array

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_array"] = None  # never pickle an open map into a worker
        state["_pid"] = None
        return state

    def read(self, names: Sequence[str]) -> np.ndarray:
        """Rows for ``names`` in the given order, as a float32 ``(len(names), D)`` array."""
        try:
            idx = np.fromiter((self.name2index[n] for n in names), dtype=np.int64, count=len(names))
        except KeyError as err:
            raise KeyError(f"BigFile {self.folder}: unknown id {err.args[0]!r}") from None
        return np.asarray(self.array[idx], dtype=np.float32)

    def read_one(self, name: str) -> np.ndarray:
        return self.read([name])[0]

    def __len__(self) -> int:
        return self.shape[0]


def read_video2frames(path: str | os.PathLike) -> dict[str, list[str]]:
    """Parse ``video2frames.txt`` (the repr of ``{video_id: [frame_id, ...]}``) safely."""
    path = Path(path)
    try:
        data = ast.literal_eval(path.read_text())
    except (SyntaxError, ValueError) as err:
        raise ValueError(f"{path}: not a Python dict literal of video id -> frame id list") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict, got {type(data).__name__}")
    return data


def uniform_feature_sampling(features: np.ndarray, max_len: int) -> np.ndarray:
    """Mean-pool ``(n, D)`` frame features down to at most ``max_len`` rows (the MS-SL rule).

    For ``n > max_len`` the bin edges are ``round(k*n/max_len)`` (numpy half-to-even) for
    ``k = 0..max_len`` clipped to ``n-1``; bin k is the mean of rows ``[e_k, e_{k+1})`` or row
    ``e_k`` alone when that range is empty. As in the original the last row is never pooled.
    Vectorised with a cumulative sum; the dtype of ``features`` is kept.
    """
    n = features.shape[0]
    if n <= max_len:
        return features
    edges = np.round(np.arange(max_len + 1) * n / max_len).astype(np.int64)
    edges = np.minimum(edges, n - 1)
    start, end = edges[:-1], edges[1:]
    empty = end <= start
    csum = np.concatenate(
        [np.zeros((1, features.shape[1]), dtype=np.float64), np.cumsum(features, axis=0, dtype=np.float64)]
    )
    count = np.maximum(end - start, 1)[:, None]
    pooled = (csum[np.maximum(end, start + 1)] - csum[start]) / count
    pooled[empty] = features[start[empty]]
    return pooled.astype(features.dtype, copy=False)


def l2_normalize_rows(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """``x / (||x||_2 + eps)`` per row (the PRVR convention, eps added to the norm)."""
    return x / (np.linalg.norm(x, axis=-1, keepdims=True) + eps)
