"""scripts/demo.sh's bookkeeping with stand-in stages: a failing stage is named with its log, the other
stages still run, the exit code says whether all passed, and the table is built from the summaries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "scripts" / "demo.sh"

GOOD = """
stage_good() {
  echo "good stage ran"
  mkdir -p "$OUT/good"
  cat > "$OUT/good/summary.json" <<EOF
{"stage": "good", "entry": "train.sh", "task": "a stand-in", "metrics": [["top-1", 42.5]], "chance": "top-1 25.0",
 "plots": []}
EOF
}
"""
BAD = """
stage_bad() {
  echo "bad stage starts"
  false
  echo "NOT REACHED: set -e stops a stage at its first failing command"
}
"""
LATER = GOOD.replace("good", "later")
NOSUMMARY = """
stage_nosummary() { echo "passes but leaves no summary and has no summary reader"; }
"""


def _stages(tmp_path: Path) -> Path:
    d = tmp_path / "stages"
    d.mkdir()
    for name, text in (("good", GOOD), ("bad", BAD), ("later", LATER), ("nosummary", NOSUMMARY)):
        (d / f"{name}.sh").write_text(text)
    return d


def _demo(tmp_path: Path, *stages: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DEMO_PYTHON": sys.executable,
        "DEMO_STAGES_DIR": str(_stages(tmp_path) if not (tmp_path / "stages").is_dir() else tmp_path / "stages"),
        "VIDEOKD_DEMO_DIR": str(tmp_path / "out"),
        "DEMO_DEVICE": "cpu",
    }
    return subprocess.run(["bash", str(DEMO), *stages], capture_output=True, text=True, timeout=300, env=env)


def test_a_failing_stage_is_named_with_its_log_and_the_others_still_run(tmp_path: Path) -> None:
    out = _demo(tmp_path, "good", "bad", "later")
    assert out.returncode == 1, out.stdout + out.stderr
    bad_log = tmp_path / "out" / "logs" / "bad.log"
    assert "stage bad FAILED (exit 1)" in out.stderr and str(bad_log) in out.stderr
    assert f"FAILED stage bad: see {bad_log}" in out.stderr
    log = bad_log.read_text()
    assert "bad stage starts" in log and "NOT REACHED" not in log
    # the stage after the failing one ran, and its output is on the terminal and in its log
    assert "good stage ran" in out.stdout and "later stage ran" in out.stdout
    assert "later stage ran" in (tmp_path / "out" / "logs" / "later.log").read_text()
    rows = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [(r["stage"], r["rc"]) for r in rows] == [("good", 0), ("bad", 1), ("later", 0)]
    md = (tmp_path / "out" / "summary.md").read_text().splitlines()
    assert md[0].startswith("| package | entry script(s) | trained / evaluated | paper metric | chance | wall time")
    assert md[2].startswith("| good | train.sh | a stand-in | top-1 42.5 | top-1 25.0 |") and md[2].endswith("| ok |")
    assert "| bad |" in md[3] and "FAILED (exit 1)" in md[3] and str(bad_log) in md[3]
    assert "top-1 42.5" in out.stdout  # the table is printed too


def test_a_subset_that_passes_exits_0_with_only_its_rows(tmp_path: Path) -> None:
    out = _demo(tmp_path, "later", "good")
    assert out.returncode == 0, out.stdout + out.stderr
    rows = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [r["stage"] for r in rows] == ["later", "good"]
    assert "all 2 stages passed" in out.stderr


def test_a_stage_without_a_summary_counts_as_failed(tmp_path: Path) -> None:
    out = _demo(tmp_path, "nosummary", "good")
    assert out.returncode == 1
    assert "stage nosummary FAILED" in out.stderr
    assert "invalid choice: 'nosummary'" in (tmp_path / "out" / "logs" / "nosummary.log").read_text()


def test_an_unknown_stage_is_refused_before_anything_runs(tmp_path: Path) -> None:
    out = _demo(tmp_path, "good", "nope")
    assert out.returncode == 2 and "unknown stage 'nope'" in out.stderr and "good" in out.stderr
    assert "good stage ran" not in out.stdout


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_describes_subsets_and_failures(flag: str) -> None:
    out = subprocess.run(["bash", str(DEMO), flag], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "bash scripts/demo.sh dldkd kiclip" in out.stdout and "OUT/logs/<name>.log" in out.stdout


REPORT = DEMO.parent / "demo_report.py"


def _metrics_jsonl(run: Path) -> None:
    run.mkdir(parents=True, exist_ok=True)
    records = [
        {"step": s, "epoch": s // 3, "train/loss": 1.0 / s, "train/lr_group0": 1e-3 / s} for s in range(1, 7)
    ] + [{"step": 6, "epoch": 1, "epoch/train_loss": 0.2}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def _report(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPORT), *args], capture_output=True, text=True, timeout=120)


def test_the_kiclip_summary_reads_b2n_results(tmp_path: Path) -> None:
    run = tmp_path / "kiclip" / "runs" / "B2N_k400_KICLIP"
    _metrics_jsonl(run)
    res = {"base": {"videos": 12, "classes": 4, "top1": 75.0}, "novel": {"videos": 9, "classes": 3, "top1": 55.5}}
    res["hm"] = 2 * 75.0 * 55.5 / (75.0 + 55.5)
    (run / "b2n_results.json").write_text(json.dumps(res))
    out = _report("stage", "kiclip", "--out", str(tmp_path / "kiclip"))
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "kiclip" / "summary.json").read_text())
    assert summary["metrics"] == [["base", 75.0], ["novel", 55.5], ["HM", res["hm"]]]
    assert summary["chance"] == "base 25.0, novel 33.3"
    assert {Path(p).name for p in summary["plots"]} == {"loss.png", "lr.png", "base_novel.png"}
    assert all(Path(p).is_file() for p in summary["plots"])


def test_the_kd2d3d_confusion_matrix_comes_from_the_saved_video_predictions(tmp_path: Path) -> None:
    root = tmp_path / "kd2d3d"
    names = ["a", "b", "c"]
    truth = {"v0": "a", "v1": "a", "v2": "b", "v3": "c", "t0": "c"}
    annotation = {
        "labels": names,
        "database": {
            v: {"subset": "training" if v.startswith("t") else "validation", "annotations": {"label": lab}}
            for v, lab in truth.items()
        },
    }
    (tmp_path / "ann.json").write_text(json.dumps(annotation))
    predicted = {"v0": "a", "v1": "b", "v2": "b", "v3": "a"}
    for tag, acc in (("kd", 0.5), ("nokd", 0.25)):
        run = root / f"run_{tag}"
        _metrics_jsonl(run)
        (run / "opts.json").write_text(json.dumps({"annotation_path": str(tmp_path / "ann.json")}))
        (run / "val_accuracy.json").write_text(json.dumps({"clip_top1": acc, "video_top1": acc, "video_top5": 1.0}))
        results = {v: [{"label": p, "score": 0.9}, {"label": "c", "score": 0.1}] for v, p in predicted.items()}
        (run / "val.json").write_text(json.dumps({"results": results}))
    out = _report("stage", "kd2d3d", "--out", str(root))
    assert out.returncode == 0, out.stderr
    summary = json.loads((root / "summary.json").read_text())
    assert summary["metrics"] == [
        ["clip top-1 (with KD)", 50.0],
        ["video top-1 (with KD)", 50.0],
        ["clip top-1 (no KD)", 25.0],
        ["video top-1 (no KD)", 25.0],
    ]
    assert (root / "plots" / "confusion_kd.png").is_file() and summary["chance"] == "top-1 33.3"
    # the counts behind the figure: the top-1 of val.json against the annotation's validation videos
    assert summary["confusion_kd"] == {"classes": names, "matrix": [[1, 1, 0], [0, 1, 0], [1, 0, 0]]}


def test_a_missing_result_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "kiclip").mkdir()
    out = _report("stage", "kiclip", "--out", str(tmp_path / "kiclip"))
    assert out.returncode == 2 and "b2n_results.json: not found" in out.stderr


def test_the_dldkd_summary_reads_the_test_metrics_and_draws_recall_and_the_kd_schedule(tmp_path: Path) -> None:
    run = tmp_path / "dldkd" / "data" / "tvr" / "results" / "tvr-demo-2026_01_01_00_00_00"
    _metrics_jsonl(run)
    with (run / "metrics.jsonl").open("a") as f:
        for e in range(2):
            f.write(json.dumps({"step": 3 * e, "epoch": e, "schedule/kd_coefficient": 0.1 * 0.95**e}) + "\n")
    fused = {"r1": 40.0, "r5": 80.0, "r10": 100.0, "r100": 100.0, "sumr": 320.0}
    doc = {"n_queries": 5, "n_videos": 10, "metrics": {"fused": fused}}
    (run / "eval_test_metrics.json").write_text(json.dumps(doc))
    ranks = "cap_id\tvideo_id\trank_fused\trank_inheritance\n" + "".join(
        f"q{i}\tv{i}\t{r}\t{r + 1}\n" for i, r in enumerate([1, 1, 3, 5, 7])
    )
    (run / "eval_test_ranks.tsv").write_text(ranks)
    out = _report("stage", "dldkd", "--out", str(tmp_path / "dldkd"))
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "dldkd" / "summary.json").read_text())
    assert summary["metrics"] == [["R@1", 40.0], ["R@5", 80.0], ["R@10", 100.0], ["R@100", 100.0], ["SumR", 320.0]]
    assert summary["chance"] == "R@1 10.0, SumR 260.0"  # K/N for N = 10 videos: 10 + 50 + 100 + 100
    assert {Path(p).name for p in summary["plots"]} == {"loss.png", "lr.png", "schedule.png", "recall_at_k.png"}
