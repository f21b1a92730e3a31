"""The base class of the errors a user can fix (bad data, config, checkpoint), kept import-light.

Entry points (:func:`videokd.cli.run_main`) turn a :class:`UserError` into one short message and exit
code 2 instead of a traceback. Every such error in the core and the packages derives from it, next to
the builtin class it always had (``ConfigError`` is still a ``ValueError``), so existing ``except``
clauses keep working.
"""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(Exception):
    """An expected failure whose message names the file/key/id and what to do."""
