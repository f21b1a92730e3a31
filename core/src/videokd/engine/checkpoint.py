"""Checkpoints: atomic writes of plain data, ``last``/``best``/periodic files, and weight loading.

* :func:`save_checkpoint` writes to a temporary file in the target folder, flushes and fsyncs it,
  then ``os.replace``-s it over the target: a crash (even SIGKILL) mid-write leaves the previous
  file intact, never a half-written one under the real name.
* Everything saved must load with ``torch.load(weights_only=True)``: tensors, numbers, strings,
  ``None`` and lists/tuples/dicts of them. :func:`save_checkpoint` checks that *before* writing
  (a ``Config`` becomes a plain dict; anything else non-plain is an error naming its key path).
* :func:`load_checkpoint` turns torch's low-level errors on truncated or corrupt files into a
  :class:`CheckpointError` that names the file.
* :class:`CheckpointManager` keeps ``last.pt`` (resume point), ``best.pt`` and ``epoch_XXXX.pt``
  in one folder; ``best``/periodic files are hard links to the just-written ``last`` when the file
  system allows it (no second write).
* :func:`load_weights` is separate from resuming: it loads model weights only (fine-tuning,
  evaluation), accepts several container layouts (``model``/``state_dict``/``model_state``...),
  strips ``module.``-style prefixes, applies a key map, and reports missing / unexpected /
  wrongly-shaped keys in one clear error.
"""

from __future__ import annotations

import difflib
import os
import pickle
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

import torch
from torch import nn

from ..errors import UserError

__all__ = [
    "CheckpointError",
    "to_plain",
    "save_checkpoint",
    "load_checkpoint",
    "CheckpointManager",
    "LoadResult",
    "load_weights",
    "extract_state_dict",
    "remap_keys",
]

PathLike = Union[str, "os.PathLike[str]"]
_CONTAINER_KEYS = ("model", "state_dict", "model_state", "model_state_dict", "module", "net", "weights")


class CheckpointError(UserError, RuntimeError):
    """A checkpoint that cannot be written, read, or does not fit the model."""


def _describe(path: Sequence[Any]) -> str:
    return "".join(f"[{p!r}]" for p in path) or "<root>"


def to_plain(obj: Any, *, path: Sequence[Any] = ()) -> Any:
    """Return ``obj`` as data ``torch.load(weights_only=True)`` accepts, or raise naming the bad key.

    Tensors are detached (parameters become plain tensors); ``Config``/other mappings become dicts;
    ``torch.Size`` becomes a tuple; ``pathlib`` paths become strings; numpy scalars/arrays become
    Python numbers/tensors.
    """
    if obj is None or isinstance(obj, (bool, int, float, str, bytes)):
        return obj
    if isinstance(obj, torch.Tensor):
        return obj.detach()
    if isinstance(obj, (torch.dtype, torch.device)):
        return str(obj)
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise CheckpointError(f"checkpoint key {_describe([*path, k])} has non-plain type {type(k).__name__}")
            out[k] = to_plain(v, path=[*path, k])
        return out
    if isinstance(obj, torch.Size):
        return tuple(int(s) for s in obj)
    if isinstance(obj, tuple):
        return tuple(to_plain(v, path=[*path, i]) for i, v in enumerate(obj))
    if isinstance(obj, list):
        return [to_plain(v, path=[*path, i]) for i, v in enumerate(obj)]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    try:  # numpy without importing it eagerly
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return torch.from_numpy(np.ascontiguousarray(obj))
    except ImportError:  # pragma: no cover
        pass
    raise CheckpointError(
        f"checkpoint value at {_describe(path)} has type {type(obj).__name__}, which torch.load(weights_only=True) "
        f"cannot read; store plain data (tensors, numbers, strings, lists, dicts), e.g. a config as a dict or YAML string"
    )


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def save_checkpoint(path: PathLike, state: Mapping[str, Any]) -> Path:
    """Atomically write ``state`` (plain data, see :func:`to_plain`) to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plain = to_plain(state)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(plain, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        # never leave a half-written temp file behind; the previous `path` is untouched
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)
    return path


def load_checkpoint(
    path: PathLike, *, map_location: Union[str, torch.device, None] = "cpu", trusted: bool = False
) -> Any:
    """Load a checkpoint with ``weights_only=True`` (``trusted=True`` allows arbitrary pickles).

    Raises :class:`CheckpointError` naming the file when it is missing, truncated, corrupt, or holds
    objects the weights-only loader refuses.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    size = path.stat().st_size
    try:
        return torch.load(os.fspath(path), map_location=map_location, weights_only=not trusted)
    except pickle.UnpicklingError as err:
        if not trusted and "weights_only" in str(err):
            raise CheckpointError(
                f"checkpoint {path} holds objects that torch.load(weights_only=True) refuses ({_first_line(err)}); "
                f"if you trust this file, load it with trusted=True"
            ) from err
        raise CheckpointError(f"checkpoint {path} ({size} bytes) is corrupt or truncated: {_first_line(err)}") from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as err:
        raise CheckpointError(
            f"checkpoint {path} ({size} bytes) is truncated or corrupt and cannot be read: {_first_line(err)}"
        ) from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


class CheckpointManager:
    """``last.pt`` / ``best.pt`` / ``epoch_XXXX.pt`` in one folder.

    Args:
        directory: where the files go (created on first save).
        every_epochs: keep a periodic copy ``epoch_{epoch:04d}.pt`` every N epochs (``None``: never).
        keep_periodic: keep only the newest N periodic copies (``None``: all).
        enabled: ``False`` on non-zero ranks: saving is then a no-op (reading still works).
    """

    LAST = "last.pt"
    BEST = "best.pt"

    def __init__(
        self,
        directory: PathLike,
        *,
        every_epochs: Optional[int] = None,
        keep_periodic: Optional[int] = None,
        enabled: bool = True,
    ) -> None:
        if every_epochs is not None and every_epochs < 1:
            raise ValueError(f"every_epochs must be >= 1 or None, got {every_epochs}")
        self.directory = Path(directory)
        self.every_epochs = every_epochs
        self.keep_periodic = keep_periodic
        self.enabled = enabled
        self._cleaned = False

    @property
    def last_path(self) -> Path:
        return self.directory / self.LAST

    @property
    def best_path(self) -> Path:
        return self.directory / self.BEST

    def periodic_path(self, epoch: int) -> Path:
        return self.directory / f"epoch_{epoch:04d}.pt"

    def has_last(self) -> bool:
        return self.last_path.is_file()

    def save(self, state: Mapping[str, Any], *, is_best: bool = False, epoch: Optional[int] = None) -> Optional[Path]:
        """Write ``last.pt``; also ``best.pt`` when ``is_best``; also ``epoch_XXXX.pt`` when ``epoch``
        (1-based count of finished epochs) is a multiple of ``every_epochs``."""
        if not self.enabled:
            return None
        if not self._cleaned:
            self._clean_stale_temp()
        last = save_checkpoint(self.last_path, state)
        if is_best:
            self._link_or_copy(last, self.best_path)
        if epoch is not None and self.every_epochs and epoch % self.every_epochs == 0:
            self._link_or_copy(last, self.periodic_path(epoch))
            self._prune()
        return last

    def load_last(self, **kwargs: Any) -> Any:
        return load_checkpoint(self.last_path, **kwargs)

    def load_best(self, **kwargs: Any) -> Any:
        return load_checkpoint(self.best_path, **kwargs)

    def _clean_stale_temp(self) -> None:
        # temp files of writes that a crash interrupted (never visible under a checkpoint name)
        if self.directory.is_dir():
            for stale in self.directory.glob(".*.tmp"):
                stale.unlink(missing_ok=True)
        self._cleaned = True

    def _link_or_copy(self, src: Path, dst: Path) -> None:
        # a hard link to the fresh `last` is free and atomic via a temp name + os.replace
        tmp = dst.with_name(f".{dst.name}.link.tmp")
        try:
            if tmp.exists():
                tmp.unlink()
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        finally:
            if tmp.exists():
                tmp.unlink()

    def _prune(self) -> None:
        if not self.keep_periodic:
            return
        periodic = sorted(self.directory.glob("epoch_*.pt"))
        for old in periodic[: max(0, len(periodic) - self.keep_periodic)]:
            old.unlink()


# ----------------------------------------------------------------------------- weights only


@dataclass
class LoadResult:
    """What :func:`load_weights` did: keys it could not fill / did not use, and the renames applied."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)


def extract_state_dict(
    obj: Any, *, state_key: Optional[str] = None, source: str = "<state>"
) -> dict[str, torch.Tensor]:
    """Find the state dict inside a checkpoint container.

    ``state_key`` names it explicitly (dotted for nesting, e.g. ``"model.student"``); otherwise the
    first of ``model``, ``state_dict``, ``model_state``, ``model_state_dict``, ``module``, ``net``,
    ``weights`` that holds a mapping of tensors is used, or ``obj`` itself when it is one.
    """
    if state_key is not None:
        cur = obj
        for part in state_key.split("."):
            if not isinstance(cur, Mapping) or part not in cur:
                keys = sorted(cur) if isinstance(cur, Mapping) else []
                raise CheckpointError(f"{source}: no entry {state_key!r} (missing {part!r}; keys there: {keys[:20]})")
            cur = cur[part]
        obj = cur
    elif isinstance(obj, Mapping) and not _is_state_dict(obj):
        for key in _CONTAINER_KEYS:
            if key in obj and isinstance(obj[key], Mapping) and _is_state_dict(obj[key]):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not _is_state_dict(obj):
        keys = sorted(obj)[:20] if isinstance(obj, Mapping) else type(obj).__name__
        raise CheckpointError(
            f"{source}: no state dict found (looked for a mapping of tensors at the top and under "
            f"{list(_CONTAINER_KEYS)}); got {keys}. Pass state_key=... to name it"
        )
    return dict(obj)


def _is_state_dict(obj: Mapping) -> bool:
    return (
        len(obj) > 0 and all(isinstance(k, str) for k in obj) and any(isinstance(v, torch.Tensor) for v in obj.values())
    )


KeyMap = Union[Mapping[str, str], Callable[[str], Optional[str]], Sequence[tuple[str, str]]]


def remap_keys(
    state: Mapping[str, torch.Tensor],
    *,
    strip_prefixes: Sequence[str] = ("module.",),
    key_map: Optional[KeyMap] = None,
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Rename state-dict keys; returns ``(new_state, {old: new})`` for the keys that changed.

    * ``strip_prefixes``: a prefix is removed when **every** key carries it (DataParallel's
      ``module.``), repeatedly, in the given order.
    * ``key_map``: a dict ``{old: new}`` (exact names), a list of ``(regex, replacement)`` pairs
      applied in order with ``re.sub``, or a function ``old -> new`` (``None`` drops the key).
    """
    keys = list(state)
    names = {k: k for k in keys}
    changed = True
    while changed:
        changed = False
        for prefix in strip_prefixes:
            if prefix and names and all(v.startswith(prefix) for v in names.values()):
                names = {k: v[len(prefix) :] for k, v in names.items()}
                changed = True
    out: dict[str, torch.Tensor] = {}
    renamed: dict[str, str] = {}
    for old in keys:
        new: Optional[str] = names[old]
        if key_map is not None:
            if callable(key_map):
                new = key_map(new)
            elif isinstance(key_map, Mapping):
                new = key_map.get(new, new)
            else:
                for pattern, repl in key_map:
                    new = re.sub(pattern, repl, new)
        if new is None:
            renamed[old] = "<dropped>"
            continue
        if new in out:
            raise CheckpointError(f"key map sends two keys to {new!r} (one of them {old!r})")
        out[new] = state[old]
        if new != old:
            renamed[old] = new
    return out, renamed


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(re.search(p, name) for p in patterns)


def load_weights(
    model: nn.Module,
    source: Union[PathLike, Mapping[str, Any]],
    *,
    strict: bool = True,
    state_key: Optional[str] = None,
    strip_prefixes: Sequence[str] = ("module.",),
    key_map: Optional[KeyMap] = None,
    ignore_missing: Sequence[str] = (),
    ignore_unexpected: Sequence[str] = (),
    trusted: bool = False,
) -> LoadResult:
    """Load model weights only (no optimizer/step state) from a file or an in-memory checkpoint.

    Args:
        model: the target (a DDP wrapper is unwrapped).
        source: a checkpoint path or an already-loaded object.
        strict: raise when keys are missing or unexpected (after the ``ignore_*`` regexes); shape
            mismatches always raise.
        state_key: where the state dict sits in the container (see :func:`extract_state_dict`).
        strip_prefixes / key_map: renaming, see :func:`remap_keys`.
        ignore_missing / ignore_unexpected: regexes of keys allowed to be absent / left over
            (e.g. a classifier head being replaced, a frozen teacher saved alongside).
        trusted: allow non-weights-only pickles (only for files you trust).
    Returns:
        :class:`LoadResult` with the missing/unexpected keys that were tolerated.
    """
    label = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "<in-memory checkpoint>"
    obj = load_checkpoint(source, trusted=trusted) if isinstance(source, (str, os.PathLike)) else source
    state = extract_state_dict(obj, state_key=state_key, source=label)
    state, renamed = remap_keys(state, strip_prefixes=strip_prefixes, key_map=key_map)
    target = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    own = target.state_dict()

    shape_errors = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and isinstance(v, torch.Tensor) and tuple(v.shape) != tuple(own[k].shape)
    ]
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    bad_missing = [k for k in missing if not _matches(k, ignore_missing)]
    bad_unexpected = [k for k in unexpected if not _matches(k, ignore_unexpected)]
    if shape_errors or (strict and (bad_missing or bad_unexpected)):
        lines = [f"cannot load weights from {label} into {type(target).__name__}:"]
        if shape_errors:
            lines.append(f"  {len(shape_errors)} shape mismatch(es): " + "; ".join(shape_errors[:10]))
        if strict and bad_missing:
            lines.append(f"  {len(bad_missing)} missing key(s) (in the model, not in the file): {bad_missing[:10]}")
        if strict and bad_unexpected:
            hints = []
            for k in bad_unexpected[:3]:
                close = difflib.get_close_matches(k, missing, n=1, cutoff=0.6)
                if close:
                    hints.append(f"{k!r} ~ {close[0]!r}")
            lines.append(
                f"  {len(bad_unexpected)} unexpected key(s) (in the file, not in the model): {bad_unexpected[:10]}"
            )
            if hints:
                lines.append("  similar names (a key_map / strip_prefixes may be needed): " + ", ".join(hints))
        raise CheckpointError("\n".join(lines))
    # shapes were checked above, so a non-strict load only skips the tolerated keys
    target.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    return LoadResult(missing=missing, unexpected=unexpected, renamed=renamed)
