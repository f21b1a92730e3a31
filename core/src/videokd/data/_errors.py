"""Error helpers shared by the readers (kept import-light: no torch, no av)."""

from __future__ import annotations

import errno
import os


class MissingFileError(FileNotFoundError):
    """``FileNotFoundError`` whose message is ours and whose ``filename`` is set."""

    def __str__(self) -> str:
        return str(self.strerror)


def missing_file(message: str, path: str | os.PathLike) -> FileNotFoundError:
    """A ``FileNotFoundError`` with a readable message and ``filename`` set, so that
    :mod:`videokd.data.robust` can report the file by name."""
    return MissingFileError(errno.ENOENT, message, os.fspath(path))
