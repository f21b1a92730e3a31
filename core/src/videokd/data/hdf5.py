"""HDF5 files opened lazily in each process.

An ``h5py.File`` opened in ``Dataset.__init__`` and then forked into DataLoader workers shares one
HDF5 handle between processes, which corrupts reads. :class:`LazyHDF5` opens the file on first
access in the process that reads it (re-opening after a fork is detected by pid) and never
pickles an open handle.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import missing_file

__all__ = ["LazyHDF5"]


class LazyHDF5:
    """Read-only dict-like access to the root-level datasets of an HDF5 file.

    ``store[key]`` returns the dataset as a numpy array; a missing key raises ``KeyError`` naming
    the file. ``fallback_keys`` maps a key to alternatives tried in order (e.g. the DL-DKD++ rule
    ``'<vid>#enc#<k>' -> '<vid>#<k>'``) through :meth:`get`.
    """

    def __init__(self, path: str | os.PathLike, **h5py_kwargs: Any):
        self.path = Path(path)
        if not self.path.is_file():
            raise missing_file(f"HDF5 file not found: {self.path}", self.path)
        self._kwargs = h5py_kwargs
        self._file = None
        self._pid: int | None = None

    @property
    def file(self):
        """The ``h5py.File`` of this process (opened on first use)."""
        if self._file is None or self._pid != os.getpid():
            import h5py

            try:
                self._file = h5py.File(self.path, "r", **self._kwargs)
            except OSError as err:
                raise OSError(f"cannot open HDF5 file {self.path}: {err}") from err
            self._pid = os.getpid()
        return self._file

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_file"], state["_pid"] = None, None
        return state

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self.file[key][()]
        except KeyError:
            raise KeyError(f"{self.path}: no dataset {key!r}") from None

    def get(self, key: str, *alternatives: str) -> np.ndarray:
        """``self[key]``, else the first alternative key present."""
        for k in (key, *alternatives):
            if k in self.file:
                return self.file[k][()]
        raise KeyError(f"{self.path}: none of the datasets {[key, *alternatives]!r}")

    def shape(self, key: str) -> tuple[int, ...]:
        try:
            return tuple(self.file[key].shape)
        except KeyError:
            raise KeyError(f"{self.path}: no dataset {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self.file

    def keys(self) -> list[str]:
        return list(self.file.keys())

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.file)

    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file, self._pid = None, None

    def __del__(self) -> None:  # pragma: no cover - interpreter shutdown order varies
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass
