"""What every family module shares: the :class:`SyntheticDataset` result, the format registry
:data:`FORMATS` with :func:`register_format`, and :func:`make_dataset` (what
``datasets/make_synthetic.py`` calls)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SyntheticDataset", "FORMATS", "register_format", "make_dataset", "with_common_args"]


@dataclass
class SyntheticDataset:
    """What a generator wrote: ``root`` (the folder to pass as the dataset root), the files,
    the ids per split and free-form ``meta`` (also saved as ``<root>/synthetic.json``)."""

    root: Path
    format: str
    files: dict[str, Path] = field(default_factory=dict)
    splits: dict[str, list[str]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def write_meta(self) -> None:
        doc = {
            "format": self.format,
            "files": {k: os.path.relpath(v, self.root) for k, v in self.files.items()},
            "splits": {k: len(v) for k, v in self.splits.items()},
            "meta": self.meta,
        }
        (self.root / "synthetic.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


#: format name -> builder(out_dir, *, classes, videos_per_class, frames, size, seed, **kwargs); the
#: builder's docstring (first line) is what ``make_synthetic.py --list`` shows. Filled by the family
#: modules of this package when they are imported (see the package docstring).
FORMATS: dict[str, Any] = {}


def register_format(name: str, builder: Callable[..., SyntheticDataset] | None = None):
    """Add ``builder`` to :data:`FORMATS` under ``name``; usable as ``register_format(name, fn)`` or
    as a decorator ``@register_format(name)``. A name can be registered once: a clash between two
    family modules is an error, not a silent override."""

    def add(fn: Callable[..., SyntheticDataset]) -> Callable[..., SyntheticDataset]:
        if name in FORMATS and FORMATS[name] is not fn:
            raise ValueError(f"synthetic format {name!r} is already registered by {FORMATS[name].__module__}")
        if not (fn.__doc__ or "").strip():
            raise ValueError(f"synthetic format {name!r}: the builder needs a docstring (shown by --list)")
        FORMATS[name] = fn
        return fn

    return add if builder is None else add(builder)


def with_common_args(fn: Callable[..., SyntheticDataset], doc: str, **fixed: Any) -> Callable[..., SyntheticDataset]:
    """A registry builder for a generator that takes the common arguments (``classes``,
    ``videos_per_class``, ``frames``, ``size``, ``seed``) by name, with ``fixed`` keyword arguments
    bound (e.g. ``ext="avi"``) and ``doc`` as its docstring."""

    def build(
        out_dir,
        *,
        classes: int = 4,
        videos_per_class: int = 4,
        frames: int = 32,
        size: int = 64,
        seed: int = 0,
        **kwargs,
    ) -> SyntheticDataset:
        return fn(
            out_dir,
            classes=classes,
            videos_per_class=videos_per_class,
            frames=frames,
            size=size,
            seed=seed,
            **fixed,
            **kwargs,
        )

    build.__doc__ = doc
    return build


def make_dataset(fmt: str, out_dir: str | os.PathLike, **kwargs: Any) -> SyntheticDataset:
    """Build synthetic dataset ``fmt`` (a key of :data:`FORMATS`) under ``out_dir``."""
    if fmt not in FORMATS:
        raise KeyError(f"unknown synthetic format {fmt!r}; choose one of {sorted(FORMATS)}")
    return FORMATS[fmt](out_dir, **kwargs)
