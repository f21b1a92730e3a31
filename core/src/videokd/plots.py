"""PNG plots of a run, for people: training curves from ``metrics.jsonl`` and a few result figures.

Command line (the ``videokd`` console script, or the module)::

    videokd plot RUN_DIR [--out DIR]
    python -m videokd.plots RUN_DIR [--out DIR]

read ``RUN_DIR/metrics.jsonl`` (written by :class:`videokd.engine.MetricLogger`: one JSON object per
line, ``{"step", "epoch", "time", <name>: value}``) and write into ``DIR`` (default ``RUN_DIR/plots``):

==================  ==========================================================================
``loss.png``        ``train/loss`` per logged step and its epoch average ``epoch/train_loss``;
                    the named loss terms (``train/<term>``) in a second panel when there are any
``lr.png``          the learning rate of every parameter group (``train/lr_group<g>``, else
                    ``epoch/lr_group<g>``)
``val.png``         every ``val/*`` metric against the epochs trained (``-1``: before training)
``schedule.png``    every ``schedule/*`` value per epoch (a package's per-epoch weights, e.g.
                    dldkd's KD coefficient)
==================  ==========================================================================

Only ``loss.png`` is required: a file without ``train/loss`` or ``epoch/train_loss`` is an error
naming the file and the keys it has (exit code 2 from the command line, like a missing folder).

The result figures (:func:`plot_bars`, :func:`plot_recall_at_k`, :func:`plot_confusion`) take plain
numbers; the caller reads its own result files. matplotlib is imported lazily and drawn through
its Agg canvas (no display, no global pyplot state); it comes with ``pip install
'videokd-core[plots]'``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from .errors import UserError

__all__ = [
    "PlotError",
    "load_metrics",
    "series",
    "epoch_series",
    "plot_run",
    "plot_bars",
    "plot_recall_at_k",
    "recall_at_k",
    "confusion_matrix",
    "plot_confusion",
    "main",
]

PathLike = Union[str, "os.PathLike[str]"]
METRICS_FILE = "metrics.jsonl"
# logged next to the losses but not losses
_NOT_TERMS = ("lr_group", "steps_per_s", "grad_norm", "loss_scale")


class PlotError(UserError, ValueError):
    """A run folder or metrics file that cannot be plotted (the message names the file)."""


# ---------------------------------------------------------------------------------------- reading


def load_metrics(path: PathLike) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` file (or of ``<run dir>/metrics.jsonl``), in file order.

    A last line cut by a hard kill is skipped; any other line that is not a JSON object is an error
    naming the file and line.
    """
    p = Path(path)
    if not p.exists() and p.suffix != ".jsonl":
        raise PlotError(f"{p}: no such run folder")
    if p.is_dir():
        p = p / METRICS_FILE
    if not p.is_file():
        where = p.parent
        if not where.is_dir():
            raise PlotError(f"{where}: no such run folder")
        raise PlotError(f"{p}: not found (the engine writes {METRICS_FILE} into every run folder; is {where} one?)")
    lines = p.read_text(encoding="utf-8").splitlines()
    records = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            if n == len(lines):
                continue  # the last line of a killed run
            raise PlotError(f"{p}, line {n}: not JSON ({err.msg})") from None
        if not isinstance(record, dict):
            raise PlotError(f"{p}, line {n}: expected a JSON object, got {type(record).__name__}")
        records.append(record)
    if not records:
        raise PlotError(f"{p}: no records (did the run log anything?)")
    return records


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None  # "nan"/"inf" are logged as strings: not drawn
    return float(value) if math.isfinite(value) else None


def series(records: Sequence[Mapping[str, Any]], key: str, *, x: str = "step") -> tuple[np.ndarray, np.ndarray]:
    """``(xs, ys)`` of ``key`` over the records that have it (non-finite values left out)."""
    xs, ys = [], []
    for r in records:
        v = _number(r.get(key))
        if v is None or x not in r:
            continue
        xs.append(float(r[x]))
        ys.append(v)
    return np.asarray(xs), np.asarray(ys)


def epoch_series(records: Sequence[Mapping[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """``(epochs, ys)`` of ``key``, one point per epoch (the last one logged wins: a resumed run may
    log an epoch twice), sorted by epoch."""
    last: dict[int, float] = {}
    for r in records:
        v = _number(r.get(key))
        if v is not None and "epoch" in r:
            last[int(r["epoch"])] = v
    epochs = sorted(last)
    return np.asarray(epochs, dtype=float), np.asarray([last[e] for e in epochs])


def _keys(records: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for r in records:
        for k in r:
            seen.setdefault(k, None)
    return [k for k in seen if k not in ("step", "epoch", "time")]


# ---------------------------------------------------------------------------------------- drawing


def _figure(rows: int = 1, cols: int = 1, *, size: tuple[float, float] = (6.4, 4.0)):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotError("matplotlib is not installed: pip install 'videokd-core[plots]' (or matplotlib)") from None
    fig = Figure(figsize=(size[0] * cols, size[1] * rows), dpi=100)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(rows * cols)]
    return fig, axes


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def _title(title: Optional[str], what: str) -> str:
    return f"{title}: {what}" if title else what


def plot_run(run_dir: PathLike, out_dir: Optional[PathLike] = None, *, title: Optional[str] = None) -> list[Path]:
    """Draw the training curves of ``run_dir/metrics.jsonl`` (see the module docstring); returns the files.

    ``run_dir`` may also be the ``metrics.jsonl`` file itself. ``out_dir`` defaults to
    ``<run dir>/plots``.
    """
    src = Path(run_dir)
    metrics_file = src / METRICS_FILE if src.is_dir() else src
    records = load_metrics(src)
    out = Path(out_dir) if out_dir is not None else metrics_file.parent / "plots"
    keys = _keys(records)
    if "train/loss" not in keys and "epoch/train_loss" not in keys:
        raise PlotError(
            f"{metrics_file}: no 'train/loss' or 'epoch/train_loss' records to draw the loss curve from "
            f"(keys found: {', '.join(keys[:20]) or 'none'})"
        )
    written = [_plot_loss(records, keys, out / "loss.png", title)]
    lr_keys = [k for k in keys if k.startswith("train/lr_group")] or [k for k in keys if k.startswith("epoch/lr_group")]
    if lr_keys:
        written.append(_plot_lr(records, lr_keys, out / "lr.png", title))
    val_keys = [k for k in keys if k.startswith("val/")]
    if val_keys:
        written.append(_plot_per_epoch(records, val_keys, out / "val.png", _title(title, "validation"), shift=1))
    sched_keys = [k for k in keys if k.startswith("schedule/")]
    if sched_keys:
        written.append(
            _plot_per_epoch(records, sched_keys, out / "schedule.png", _title(title, "per-epoch schedule"), shift=0)
        )
    return written


def _is_accuracy(key: str) -> bool:
    name = key.rsplit("/", 1)[-1].lower()
    return "acc" in name or name.startswith("top")


def _plot_loss(records, keys: list[str], path: Path, title: Optional[str]) -> Path:
    train = [k for k in keys if k.startswith("train/") and k != "train/loss" and not any(s in k for s in _NOT_TERMS)]
    terms = [k for k in train if not _is_accuracy(k)]
    accs = [k for k in train if _is_accuracy(k)]
    fig, axes = _figure(1, 1 + bool(terms) + bool(accs))
    ax = axes[0]
    xs, ys = series(records, "train/loss")
    if len(xs):
        ax.plot(xs, ys, lw=1.2, label="train/loss (logged steps)")
    ex, ey = series([r for r in records if "epoch/train_loss" in r], "epoch/train_loss")
    if len(ex):
        ax.plot(ex, ey, "o-", ms=4, lw=1, label="epoch average")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title(_title(title, "training loss"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    panels = [(group, what) for group, what in ((terms, "loss terms"), (accs, "training accuracy")) if group]
    for ax2, (group, what) in zip(axes[1:], panels):
        for k in group:
            tx, ty = series(records, k)
            ax2.plot(tx, ty, lw=1.2, marker="." if len(tx) < 30 else None, label=k[len("train/") :])
        ax2.set_xlabel("optimizer step")
        ax2.set_title(_title(title, what))
        ax2.grid(alpha=0.3)
        ax2.legend(fontsize=8)
    return _save(fig, path)


def _plot_lr(records, lr_keys: list[str], path: Path, title: Optional[str]) -> Path:
    fig, (ax,) = _figure()
    for k in lr_keys:
        xs, ys = series(records, k)
        ax.plot(xs, ys, lw=1.2, marker="." if len(xs) < 30 else None, label=k.split("/", 1)[1])
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate")
    ax.set_title(_title(title, "learning rate"))
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def _plot_per_epoch(records, keys: list[str], path: Path, title: str, *, shift: int) -> Path:
    """Small multiples, one panel per key (their scales differ: R@1 in %, SumR up to 600, medR...)."""
    cols = min(4, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = _figure(rows, cols, size=(3.4, 2.6) if len(keys) > 1 else (6.4, 4.0))
    from matplotlib.ticker import MaxNLocator

    for ax, k in zip(axes, keys):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ex, ey = epoch_series(records, k)
        ax.plot(ex + shift, ey, "o-", ms=3, lw=1.2)
        ax.set_title(k.split("/", 1)[1], fontsize=10)
        ax.set_xlabel("epochs trained" if shift else "epoch (0-based)", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    fig.suptitle(title)
    return _save(fig, path)


def plot_bars(
    values: Mapping[str, float],
    path: PathLike,
    *,
    title: str,
    ylabel: str = "accuracy (%)",
    chance: Optional[float] = None,
) -> Path:
    """One bar per named value (e.g. base / novel / harmonic mean), the value printed on each bar,
    and a dashed line at ``chance`` when given."""
    if not values:
        raise PlotError(f"{path}: no values to draw")
    fig, (ax,) = _figure(size=(5.0, 4.0))
    names = list(values)
    heights = [float(values[n]) for n in names]
    bars = ax.bar(names, heights, color=["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3"][: len(names)])
    for bar, h in zip(bars, heights):
        ax.annotate(f"{h:.1f}", (bar.get_x() + bar.get_width() / 2, h), ha="center", va="bottom", fontsize=9)
    if chance is not None:
        ax.axhline(chance, ls="--", color="gray", lw=1, label=f"chance {chance:.1f}")
        ax.legend(fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, max(max(heights), chance or 0) * 1.15 + 1e-9)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, Path(path))


def recall_at_k(ranks: Sequence[int], ks: Sequence[int]) -> np.ndarray:
    """Recall@K in percent for every ``K`` in ``ks``: the share of queries whose (1-based) rank of the
    first relevant item is ``<= K``."""
    r = np.asarray(ranks, dtype=np.int64)
    if r.size == 0:
        raise PlotError("no ranks to compute recall@K from")
    if (r < 1).any():
        raise PlotError(f"ranks are 1-based; got {int(r.min())}")
    k = np.asarray(ks, dtype=np.int64)
    return 100.0 * (r[None, :] <= k[:, None]).mean(axis=1)


def plot_recall_at_k(
    ranks: Mapping[str, Sequence[int]],
    path: PathLike,
    *,
    title: str,
    marks: Sequence[int] = (1, 5, 10, 100),
    num_items: Optional[int] = None,
) -> Path:
    """Recall@K against K (log axis, K = 1 .. ``num_items``) for each named list of 1-based ranks,
    the ``marks`` (R@1/5/10/100) as points, and chance (``100 K / num_items``) dashed when
    ``num_items`` (the size of the ranked gallery) is given."""
    if not ranks:
        raise PlotError(f"{path}: no ranks to draw")
    top = num_items or max(int(max(r)) for r in ranks.values())
    top = max(top, 2)
    ks = np.unique(np.concatenate([np.geomspace(1, top, num=200).astype(int), [top]]))
    shown = [m for m in marks if m <= top]
    fig, (ax,) = _figure()
    for name, r in ranks.items():
        (line,) = ax.step(ks, recall_at_k(r, ks), where="post", lw=1.5, label=name)
        ax.plot(shown, recall_at_k(r, shown), "o", ms=4, color=line.get_color())
    if num_items:
        ax.plot(ks, 100.0 * ks / num_items, "--", color="gray", lw=1, label="chance")
    ax.set_xscale("log")
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_xticks(sorted(set(shown) | {top}))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(0.9, top * 1.05)
    ax.set_xlabel("K" + (f" (of {num_items} items)" if num_items else ""))
    ax.set_ylabel("recall@K (%)")
    ax.set_ylim(0, 102)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(fig, Path(path))


def confusion_matrix(labels: Sequence[int], predictions: Sequence[int], num_classes: int) -> np.ndarray:
    """``(num_classes, num_classes)`` counts, rows the true class, columns the predicted one."""
    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(predictions, dtype=np.int64)
    if y.shape != p.shape:
        raise PlotError(f"{y.size} labels but {p.size} predictions")
    for name, a in (("label", y), ("prediction", p)):
        if a.size and (a.min() < 0 or a.max() >= num_classes):
            raise PlotError(f"a {name} outside 0..{num_classes - 1}")
    return np.bincount(y * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def plot_confusion(
    labels: Sequence[int], predictions: Sequence[int], class_names: Sequence[str], path: PathLike, *, title: str
) -> Path:
    """A confusion matrix (counts in the cells, rows true, columns predicted), accuracy in the title."""
    n = len(class_names)
    cm = confusion_matrix(labels, predictions, n)
    acc = 100.0 * np.trace(cm) / max(cm.sum(), 1)
    side = min(max(5.0, 3.0 + 0.45 * n), 12.0)
    fig, (ax,) = _figure(size=(side + 1.0, side))
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels(class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticklabels(class_names, fontsize=8)
    if n <= 30:
        for i in range(n):
            for j in range(n):
                color = "white" if cm[i, j] > cm.max() / 2 else "black"
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", color=color, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}\ntop-1 {acc:.1f} % of {int(cm.sum())}", fontsize=10)
    return _save(fig, Path(path))


# ------------------------------------------------------------------------------------ command line


def build_parser(prog: str = "python -m videokd.plots") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Draw PNG training curves (loss, learning rate, validation metrics, schedules) "
        "from a run folder's metrics.jsonl.",
    )
    parser.add_argument("run_dir", help="a run folder holding metrics.jsonl (or the metrics.jsonl file)")
    parser.add_argument("--out", default=None, help="where to write the PNG files (default: RUN_DIR/plots)")
    parser.add_argument("--title", default=None, help="a prefix for the figure titles (default: the folder name)")
    return parser


def main(argv: Optional[Sequence[str]] = None, *, prog: str = "python -m videokd.plots") -> int:
    args = build_parser(prog).parse_args(argv)
    run = Path(args.run_dir)
    if not run.exists():
        raise PlotError(f"{run}: no such run folder")
    title = args.title if args.title is not None else (run if run.is_dir() else run.parent).resolve().name
    for f in plot_run(run, args.out, title=title):
        print(f)
    return 0


if __name__ == "__main__":
    from .cli import run_main

    raise SystemExit(run_main(main, prog="videokd.plots"))
