"""Entry-point plumbing shared by every package: expected failures become one message, exit code 2.

A package's entry module ends with::

    def main(argv: list[str] | None = None) -> int: ...      # parse, run, return 0

    if __name__ == "__main__":
        raise SystemExit(run_main(main, prog="dldkd.train"))

:func:`run_main` calls ``main`` with ``--debug`` removed from the arguments. An error the user can
fix (a :class:`~videokd.errors.UserError`: data, config, checkpoint, decode errors of the core and
the packages; an ``OSError`` or ``UnicodeDecodeError`` while reading inputs) is printed as
``prog: error: <message>`` plus a hint, and the exit code is 2. ``--debug`` on the command line or
``VIDEOKD_DEBUG=1`` in the environment shows the full traceback instead (and re-raises). Any other
exception is a bug: it keeps its traceback.

:func:`run_dir_guard` makes a failed start leave nothing half-written: a run folder that the guarded
block created is removed again when the block raises before :meth:`RunDirGuard.keep`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Callable, Optional

from .errors import UserError

__all__ = ["run_main", "format_error", "debug_requested", "run_dir_guard", "RunDirGuard", "EXPECTED_ERRORS"]

#: what :func:`run_main` reports as a message (everything else keeps its traceback)
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (UserError, OSError, UnicodeDecodeError)

DEBUG_FLAG = "--debug"
DEBUG_ENV = "VIDEOKD_DEBUG"


def debug_requested(argv: Sequence[str] | None = None) -> bool:
    """``--debug`` among the arguments, or ``VIDEOKD_DEBUG`` set to a true value."""
    if os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    return DEBUG_FLAG in (sys.argv[1:] if argv is None else argv)


def format_error(err: BaseException) -> str:
    """One readable line (or a few) for an expected error, naming the file where Python knows it."""
    if isinstance(err, UnicodeDecodeError):
        return (
            f"cannot read text as {err.encoding}: byte 0x{err.object[err.start]:02x} at offset {err.start} "
            "(is the file UTF-8 text?)"
        )
    if isinstance(err, OSError) and not isinstance(err, UserError):
        # MissingFileError & co. carry their own sentence in strerror
        what = err.strerror or str(err) or type(err).__name__
        name = err.filename
        if name is not None and os.fspath(name) not in str(what):
            return f"{what}: {os.fspath(name)}"
        return str(what)
    text = str(err).strip()
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        text = err.args[0]  # KeyError quotes its message
    return text or type(err).__name__


def run_main(
    main: Callable[[list[str]], Optional[int]],
    argv: Sequence[str] | None = None,
    *,
    prog: str | None = None,
    keep_debug_flag: bool = False,
) -> int:
    """Run ``main(argv)``; return its exit code, 2 for an expected failure.

    ``--debug`` is removed from the arguments unless ``keep_debug_flag`` (an entry point whose
    original command line has a ``--debug`` option of its own keeps it; it then means both).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = debug_requested(args)
    if not keep_debug_flag:
        args = [a for a in args if a != DEBUG_FLAG]
    name = prog or Path(sys.argv[0]).name
    try:
        code = main(args)
    except EXPECTED_ERRORS as err:
        if debug:
            raise
        print(f"{name}: error: {format_error(err)}", file=sys.stderr)
        print(f"{name}: (run again with {DEBUG_FLAG} or {DEBUG_ENV}=1 for the traceback)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


class RunDirGuard:
    """See :func:`run_dir_guard`."""

    def __init__(self, path: Path, created: bool) -> None:
        self.path = path
        self.created = created
        self.kept = False

    def keep(self) -> None:
        """From here on the folder stays, whatever happens (training has started)."""
        self.kept = True


@contextlib.contextmanager
def run_dir_guard(path: str | os.PathLike, *, enabled: bool = True) -> Iterator[RunDirGuard]:
    """Create ``path`` (with parents) for a new run; remove it again if the block fails before ``keep()``.

    A folder that existed before is never removed (a resumed run keeps everything). ``enabled=False``
    (non-zero ranks) makes it a no-op.
    """
    folder = Path(path)
    created = enabled and not folder.exists()
    if enabled:
        folder.mkdir(parents=True, exist_ok=True)
    guard = RunDirGuard(folder, created)
    try:
        yield guard
    except BaseException:
        if guard.created and not guard.kept:
            shutil.rmtree(folder, ignore_errors=True)
        raise
