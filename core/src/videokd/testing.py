"""Helpers for parity tests: find the fixtures recorded from the original code and compare outputs.

Fixtures live in ``<repo>/tests/parity/<pkg>/*.pt``; ``$PARITY_ROOT/<pkg>/*.pt`` overrides the root. Each is a dict loaded with ``weights_only=True``
holding ``kind``, ``name``, ``config``, ``inputs``, ``outputs`` and tolerances. Tests parametrise
over :func:`fixture_files` (never over a hard-coded list of names) and compare with
:func:`assert_matches`, which implements the rule every fixture README states: floats match when
``|got - exp| <= atol + rtol * |exp|`` (computed in float64), integers, booleans and strings exactly.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Callable

import torch

__all__ = [
    "parity_root",
    "fixture_files",
    "load_fixture",
    "compare",
    "assert_matches",
    "prefix_tolerance",
    "PAPER_PACKAGES",
    "paper_packages_imported_by",
]

#: the import names of the five paper packages (none may import another)
PAPER_PACKAGES = ("kiclip", "kd2d3d", "dldkd", "tdsclip", "xkd")


def paper_packages_imported_by(package: str) -> list[str]:
    """The other paper packages' modules that ``import package`` loads, in a fresh interpreter.

    Packages depend on videokd-core only; a non-empty answer means one reaches into another.
    """
    others = sorted(set(PAPER_PACKAGES) - {package})
    code = f"import sys, {package}\nprint('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] in {others!r})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError(f"import {package} failed:\n{out.stderr}")
    return [line for line in out.stdout.splitlines() if line]


#: where the fixtures live inside the repository (relative to its root)
REPO_FIXTURE_DIR = Path("tests") / "parity"


def _repo_fixture_root(start: Path) -> Path | None:
    for candidate in [start, *start.parents]:
        found = candidate / REPO_FIXTURE_DIR
        if (found / "README.md").is_file():
            return found
    return None


def parity_root(start: str | os.PathLike | None = None) -> Path:
    """Where the parity fixtures are read from.

    ``$PARITY_ROOT`` when set; else the repository's ``tests/parity`` folder, found from ``start``
    (default: the working directory) or, for an editable install, from this file.
    """
    env = os.environ.get("PARITY_ROOT")
    if env:
        return Path(env).expanduser().resolve()
    for origin in (Path(start or os.getcwd()).resolve(), Path(__file__).resolve().parent):
        found = _repo_fixture_root(origin)
        if found is not None:
            return found
    raise FileNotFoundError(
        f"no parity fixtures: no {REPO_FIXTURE_DIR}/README.md above {Path(start or os.getcwd()).resolve()} "
        "(run the tests from inside the repository, or set PARITY_ROOT to a folder holding <pkg>/*.pt)"
    )


def fixture_files(package: str, *, start: str | os.PathLike | None = None, missing_ok: bool = False) -> list[Path]:
    """Every ``*.pt`` fixture of ``package`` under :func:`parity_root`, sorted by name.

    Raises ``FileNotFoundError`` naming the folder when there is none (unless ``missing_ok``, for
    the core's tests that sweep every package's folder of an override root): a parity test that
    finds no fixture must fail loudly, never pass on an empty parametrisation.
    """
    folder = parity_root(start) / package
    found = sorted(folder.glob("*.pt")) if folder.is_dir() else []
    if not found and not missing_ok:
        origin = "PARITY_ROOT" if os.environ.get("PARITY_ROOT") else "the repository default"
        raise FileNotFoundError(f"no *.pt parity fixtures in {folder} (fixture root from {origin})")
    return found


def load_fixture(path: str | os.PathLike) -> dict:
    """Load one fixture file (plain data only)."""
    return torch.load(os.fspath(path), map_location="cpu", weights_only=True)


def _tol_pair(value: Any) -> tuple[float, float]:
    if isinstance(value, Mapping):
        return float(value.get("atol", 0.0)), float(value.get("rtol", 0.0))
    atol, rtol = value
    return float(atol), float(rtol)


def prefix_tolerance(
    overrides: Mapping[str, Any] | None,
    default: tuple[float, float],
    *,
    sep: str = ".",
    include_indices: bool = True,
) -> Callable[[Sequence[Any]], tuple[float, float]]:
    """A ``path -> (atol, rtol)`` function: the longest override prefix that matches wins.

    ``overrides`` maps path strings (components joined by ``sep``) to ``[atol, rtol]`` or
    ``{"atol":..., "rtol":...}``. With ``include_indices=False`` list indices are left out of the
    path before matching (the kiclip convention); with ``True`` they are numbers in it (xkd).
    """
    table = {k: _tol_pair(v) for k, v in (overrides or {}).items()}

    def lookup(path: Sequence[Any]) -> tuple[float, float]:
        parts = [str(p) for p in path if include_indices or not isinstance(p, int)]
        best, best_len = default, -1
        for key, tol in table.items():
            kparts = key.split(sep)
            if len(kparts) <= len(parts) and parts[: len(kparts)] == kparts and len(kparts) > best_len:
                best, best_len = tol, len(kparts)
        return best

    return lookup


def _fmt(path: Sequence[Any]) -> str:
    return (
        "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path)) or "<root>"
    )


def _as_dense(t: torch.Tensor) -> torch.Tensor:
    return t.to_dense() if t.layout != torch.strided else t


def compare(
    got: Any,
    expected: Any,
    *,
    atol: float,
    rtol: float,
    path: Sequence[Any] = (),
    tolerance: Callable[[Sequence[Any]], tuple[float, float]] | None = None,
    errors: list[str] | None = None,
) -> list[str]:
    """Recursively compare ``got`` with ``expected``; return a list of mismatch descriptions."""
    errors = [] if errors is None else errors
    path = list(path)
    a_tol, r_tol = tolerance(path) if tolerance else (atol, rtol)
    where = _fmt(path)
    if isinstance(expected, torch.Tensor):
        exp = _as_dense(expected.detach().cpu())
        if not isinstance(got, torch.Tensor):
            try:
                got = torch.as_tensor(got)
            except Exception:
                errors.append(f"{where}: expected a tensor {tuple(exp.shape)}, got {type(got).__name__}")
                return errors
        g = _as_dense(got.detach().cpu())
        if tuple(g.shape) != tuple(exp.shape):
            errors.append(f"{where}: shape {tuple(g.shape)} != expected {tuple(exp.shape)}")
            return errors
        if exp.is_floating_point() or exp.is_complex():
            g64, e64 = g.to(torch.float64), exp.to(torch.float64)
            both_nan = torch.isnan(g64) & torch.isnan(e64)
            diff = (g64 - e64).abs()
            bad = ~(diff <= a_tol + r_tol * e64.abs()) & ~both_nan
            if bad.any():
                worst = diff.masked_fill(both_nan, 0).max().item()
                errors.append(
                    f"{where}: {int(bad.sum())}/{exp.numel()} elements differ, max |diff| {worst:.3g} "
                    f"(atol {a_tol:g}, rtol {r_tol:g})"
                )
        else:
            if not torch.equal(g.to(exp.dtype), exp):
                n = int((g.to(exp.dtype) != exp).sum())
                errors.append(f"{where}: {n}/{exp.numel()} integer/bool elements differ")
        return errors
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            errors.append(f"{where}: expected a mapping, got {type(got).__name__}")
            return errors
        missing = [k for k in expected if k not in got]
        if missing:
            errors.append(f"{where}: missing keys {missing}")
        for key in expected:
            if key in got:
                compare(
                    got[key], expected[key], atol=atol, rtol=rtol, path=path + [key], tolerance=tolerance, errors=errors
                )
        return errors
    if isinstance(expected, (list, tuple)):
        if isinstance(got, torch.Tensor):
            got = got.tolist()
        if not isinstance(got, (list, tuple)):
            errors.append(f"{where}: expected a list of {len(expected)}, got {type(got).__name__}")
            return errors
        if len(got) != len(expected):
            errors.append(f"{where}: length {len(got)} != expected {len(expected)}")
            return errors
        for i, (g, e) in enumerate(zip(got, expected)):
            compare(g, e, atol=atol, rtol=rtol, path=path + [i], tolerance=tolerance, errors=errors)
        return errors
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        if got != expected:
            errors.append(f"{where}: {got!r} != expected {expected!r}")
        return errors
    if isinstance(expected, int):
        if isinstance(got, torch.Tensor):
            got = got.item()
        if got != expected:
            errors.append(f"{where}: {got!r} != expected {expected!r}")
        return errors
    if isinstance(expected, float):
        if isinstance(got, torch.Tensor):
            got = got.item()
        try:
            g = float(got)
        except (TypeError, ValueError):
            errors.append(f"{where}: expected float {expected!r}, got {got!r}")
            return errors
        if math.isnan(expected) and math.isnan(g):
            return errors
        if not abs(g - expected) <= a_tol + r_tol * abs(expected):
            errors.append(f"{where}: {g!r} != expected {expected!r} (atol {a_tol:g}, rtol {r_tol:g})")
        return errors
    if got != expected:
        errors.append(f"{where}: {got!r} != expected {expected!r}")
    return errors


def assert_matches(
    got: Any,
    expected: Any,
    *,
    atol: float,
    rtol: float,
    path: Sequence[Any] = (),
    tolerance: Callable[[Sequence[Any]], tuple[float, float]] | None = None,
    context: str = "",
) -> None:
    """Raise AssertionError listing every mismatch (see :func:`compare`)."""
    errors = compare(got, expected, atol=atol, rtol=rtol, path=path, tolerance=tolerance)
    if errors:
        head = f"{context}: " if context else ""
        shown = "\n  ".join(errors[:30])
        more = f"\n  ... and {len(errors) - 30} more" if len(errors) > 30 else ""
        raise AssertionError(f"{head}{len(errors)} mismatch(es):\n  {shown}{more}")
