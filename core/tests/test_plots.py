"""videokd.plots: PNG figures from a run folder's metrics.jsonl (as the engine writes it), clear errors, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from videokd import plots
from videokd.engine import MetricLogger


def _png_size(path: Path) -> tuple[int, int]:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    with Image.open(path) as im:
        im.load()
        return im.size


def _synthetic_run(run: Path, *, epochs: int = 4, steps_per_epoch: int = 5) -> None:
    """A metrics.jsonl written by the engine's own logger, shaped like a Trainer run with a per-epoch
    schedule (dldkd's KD coefficient) and an evaluation after every epoch."""
    with MetricLogger(run, tensorboard=False) as logger:
        step = 0
        for epoch in range(epochs):
            logger.log({"schedule/kd_coefficient": 0.1 * 0.9**epoch}, step=step, epoch=epoch)
            for _ in range(steps_per_epoch):
                step += 1
                loss = 2.0 / step
                logger.log(
                    {
                        "train/loss": loss,
                        "train/ce": 0.7 * loss,
                        "train/kd": 0.3 * loss,
                        "train/acc1": 100 - loss * 10,
                        "train/lr_group0": 1e-3 * (1 - step / 20),
                        "train/lr_group1": 1e-4,
                        "train/steps_per_s": 3.0,
                    },
                    step=step,
                    epoch=epoch,
                )
            logger.log(
                {"epoch/train_loss": 2.0 / step, "val/top1": 30.0 + 10 * epoch, "val/loss": float("nan")},
                step=step,
                epoch=epoch,
            )


def test_plot_run_draws_every_figure_from_an_engine_metrics_file(tmp_path: Path) -> None:
    _synthetic_run(tmp_path / "run")
    files = plots.plot_run(tmp_path / "run", title="demo")
    names = [f.name for f in files]
    assert names == ["loss.png", "lr.png", "val.png", "schedule.png"]
    for f in files:
        assert f.parent == tmp_path / "run" / "plots"
        width, height = _png_size(f)
        assert width >= 300 and height >= 200
    # loss + loss terms + training accuracy: three panels side by side, wider than the one-panel LR plot
    assert _png_size(files[0])[0] > 2 * _png_size(files[1])[0]


def test_series_follow_the_records_and_skip_non_finite_values(tmp_path: Path) -> None:
    _synthetic_run(tmp_path / "run", epochs=3, steps_per_epoch=2)
    records = plots.load_metrics(tmp_path / "run" / "metrics.jsonl")
    steps, loss = plots.series(records, "train/loss")
    assert steps.tolist() == [1, 2, 3, 4, 5, 6] and loss == pytest.approx([2.0 / s for s in range(1, 7)])
    epochs, top1 = plots.epoch_series(records, "val/top1")
    assert epochs.tolist() == [0, 1, 2] and top1.tolist() == [30.0, 40.0, 50.0]
    assert plots.epoch_series(records, "val/loss")[0].size == 0  # logged as the string "nan"


def test_an_epoch_logged_twice_keeps_its_last_value(tmp_path: Path) -> None:
    lines = [
        {"step": 0, "epoch": 0, "schedule/w": 1.0},
        {"step": 4, "epoch": 1, "schedule/w": 0.5},
        {"step": 4, "epoch": 1, "schedule/w": 0.25},  # a resumed run logging its epoch start again
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    epochs, w = plots.epoch_series(plots.load_metrics(tmp_path), "schedule/w")
    assert epochs.tolist() == [0, 1] and w.tolist() == [1.0, 0.25]


def test_missing_loss_keys_is_an_error_naming_the_file_and_the_keys_found(tmp_path: Path) -> None:
    (tmp_path / "metrics.jsonl").write_text(json.dumps({"step": 1, "epoch": 0, "val/top1": 50.0}) + "\n")
    with pytest.raises(plots.PlotError) as err:
        plots.plot_run(tmp_path)
    text = str(err.value)
    assert str(tmp_path / "metrics.jsonl") in text and "train/loss" in text and "val/top1" in text
    assert not (tmp_path / "plots").exists()


def test_unreadable_files_are_errors_naming_them(tmp_path: Path) -> None:
    with pytest.raises(plots.PlotError, match="no such run folder"):
        plots.load_metrics(tmp_path / "nope")
    with pytest.raises(plots.PlotError, match=r"metrics\.jsonl: not found"):
        plots.load_metrics(tmp_path)
    bad = tmp_path / "metrics.jsonl"
    bad.write_text('{"step": 1, "train/loss": 1.0}\nnot json\n{"step": 2, "train/loss": 0.5}\n')
    with pytest.raises(plots.PlotError, match=r"metrics\.jsonl, line 2: not JSON"):
        plots.load_metrics(bad)
    # a last line cut by a hard kill is only skipped
    bad.write_text('{"step": 1, "train/loss": 1.0}\n{"step": 2, "train/lo')
    assert plots.load_metrics(bad) == [{"step": 1, "train/loss": 1.0}]


def test_recall_at_k_counts_ranks_within_k() -> None:
    ranks = [1, 1, 2, 5, 9, 40]
    assert plots.recall_at_k(ranks, [1, 2, 5, 10, 100]).tolist() == pytest.approx(
        [100 * 2 / 6, 100 * 3 / 6, 100 * 4 / 6, 100 * 5 / 6, 100.0]
    )
    with pytest.raises(plots.PlotError, match="1-based"):
        plots.recall_at_k([0, 1], [1])


def test_confusion_matrix_counts_true_rows_against_predicted_columns() -> None:
    cm = plots.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert cm.sum() == 6 and np.trace(cm) == 4
    with pytest.raises(plots.PlotError, match="outside 0..2"):
        plots.confusion_matrix([0, 3], [0, 0], 3)


def test_result_figures_are_written(tmp_path: Path) -> None:
    bars = plots.plot_bars({"base": 80.0, "novel": 60.0, "HM": 68.6}, tmp_path / "b.png", title="b2n", chance=33.3)
    rec = plots.plot_recall_at_k(
        {"fused": [1, 2, 3, 10, 1], "inheritance": [1, 1, 4, 12, 2]}, tmp_path / "r.png", title="r", num_items=20
    )
    conf = plots.plot_confusion([0, 1, 2, 2], [0, 2, 2, 1], ["a", "b", "c"], tmp_path / "c.png", title="cm")
    for f in (bars, rec, conf):
        assert _png_size(f)[0] > 100


def _cli(*args: str, module: str = "videokd.plots") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent
    )


def test_cli_help_and_a_missing_run_dir(tmp_path: Path) -> None:
    out = _cli("--help")
    assert out.returncode == 0 and "metrics.jsonl" in out.stdout and "--out" in out.stdout
    out = _cli("plot", "--help", module="videokd")
    assert out.returncode == 0 and "videokd plot" in out.stdout
    out = _cli(str(tmp_path / "missing"))
    assert out.returncode == 2 and f"{tmp_path / 'missing'}: no such run folder" in out.stderr
    assert "Traceback" not in out.stderr
    out = _cli("frobnicate", module="videokd")
    assert out.returncode == 2 and "unknown command 'frobnicate'" in out.stderr


def test_cli_draws_into_out_and_lists_the_files(tmp_path: Path) -> None:
    _synthetic_run(tmp_path / "run", epochs=2, steps_per_epoch=3)
    out = _cli("plot", str(tmp_path / "run"), "--out", str(tmp_path / "figs"), module="videokd")
    assert out.returncode == 0, out.stderr
    listed = out.stdout.split()
    assert listed == [str(tmp_path / "figs" / n) for n in ("loss.png", "lr.png", "val.png", "schedule.png")]
    assert all(Path(f).is_file() for f in listed)


def test_the_console_script_is_declared() -> None:
    from importlib.metadata import entry_points

    eps = entry_points()
    scripts = eps.select(group="console_scripts") if hasattr(eps, "select") else eps["console_scripts"]
    (ep,) = [e for e in scripts if e.name == "videokd"]
    assert ep.value == "videokd.__main__:console"
