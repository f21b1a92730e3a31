"""benchmarks/run.py and benchmarks/_bench.py: the runner, the result schema, RESULTS.md, the side-by-side hints.

No timing is asserted (timing lives in benchmarks/): these tests check that one tiny benchmark runs
through the runner and writes a valid document, that a failing or hanging benchmark is reported while
the others still run, and that the side-by-side scripts without ``--upstream`` say what to clone.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"
RUN = BENCH / "run.py"

pytestmark = pytest.mark.skipif(not RUN.is_file(), reason="benchmarks/ is not part of this checkout")


def _bench_module():
    sys.path.insert(0, str(BENCH))
    try:
        import _bench

        return _bench
    finally:
        sys.path.remove(str(BENCH))


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)


def test_quick_run_of_one_benchmark_writes_a_valid_document_and_the_report(tmp_path):
    res, report = tmp_path / "res", tmp_path / "RESULTS.md"
    r = _run(RUN, "--quick", "--only", "retrieval_metric", "--threads", "1", "--results", res, "--report", report)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads((res / "retrieval_metric.json").read_text())
    assert _bench_module().validate(doc) == []
    assert doc["quick"] is True and doc["device"] == "cpu" and doc["machine"]["threads"] == 1
    names = [row["name"] for row in doc["results"]]
    assert "small_ranks" in names and "small_full_call" in names
    for row in doc["results"]:
        assert row["median_s"] > 0 and len(row["runs_s"]) == row["repeats"]
        assert row["peak_memory_kind"].startswith("cpu process peak RSS")
    run = json.loads((res / "run.json").read_text())
    assert [(e["name"], e["status"]) for e in run["benchmarks"]] == [("retrieval_metric", "ok")]
    # the recorded command is the one a person would type: repo-relative script, the final --out, no temp folder
    (entry,) = run["benchmarks"]
    assert entry["command"].startswith("python benchmarks/retrieval_metric.py --device cpu --out "), entry["command"]
    assert str(res / "retrieval_metric.json") in entry["command"] and ".partial" not in entry["command"]
    text = report.read_text()
    assert "`retrieval_metric` (cpu, quick)" in text and "| small_ranks |" in text
    assert "| `retrieval_metric` | ok |" in text
    # --report-only rebuilds the same tables from the JSON alone
    report.unlink()
    r = _run(RUN, "--report-only", "--quick", "--results", res, "--report", report)
    assert r.returncode == 0, r.stderr
    assert "| small_ranks |" in report.read_text()


FAKE_OK = """
import argparse, sys
sys.path.insert(0, {bench!r})
import _bench
p = argparse.ArgumentParser()
_bench.add_common_args(p)
a = p.parse_args()
device = _bench.setup(a)
row = _bench.measure(lambda: sum(range(1000)), device, name="tiny_sum", unit="call", warmup=1, repeats=3)
_bench.write_doc(a.out, benchmark="b_ok", script=__file__, device=device, quick=a.quick, config={{}}, results=[row])
"""
FAKE_FAIL = "import sys\nprint('boom: something broke')\nsys.exit(3)\n"
FAKE_BAD_DOC = """
import argparse, json
p = argparse.ArgumentParser()
p.add_argument('--out'); p.add_argument('--device'); p.add_argument('--quick', action='store_true')
p.add_argument('--threads')
a = p.parse_args()
open(a.out, 'w').write(json.dumps({'schema': 'something else', 'results': []}))
"""
FAKE_HANG = "import time\ntime.sleep(60)\n"


def test_a_failing_or_hanging_benchmark_is_reported_and_the_others_still_run(tmp_path):
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "a_fails.py").write_text(FAKE_FAIL)
    (bench / "b_ok.py").write_text(textwrap.dedent(FAKE_OK.format(bench=str(BENCH))))
    (bench / "c_bad_doc.py").write_text(FAKE_BAD_DOC)
    (bench / "_helper.py").write_text("raise SystemExit('a helper module is not a benchmark')\n")
    res, report = tmp_path / "res", tmp_path / "R.md"
    r = _run(RUN, "--bench-dir", bench, "--results", res, "--report", report, "--quick")
    assert r.returncode == 1, r.stdout + r.stderr
    run = json.loads((res / "run.json").read_text())
    status = {e["name"]: e for e in run["benchmarks"]}
    assert list(status) == ["a_fails", "b_ok", "c_bad_doc"]
    assert status["a_fails"]["status"] == "failed" and status["a_fails"]["returncode"] == 3
    assert "boom: something broke" in status["a_fails"]["error"]
    assert status["b_ok"]["status"] == "ok" and (res / "b_ok.json").is_file()
    assert status["c_bad_doc"]["status"] == "failed" and "schema" in status["c_bad_doc"]["error"]
    assert not (res / "c_bad_doc.json").exists()  # an invalid document is not kept
    assert run["summary"] == "1 ok, 2 failed"
    assert (res / "logs" / "a_fails.log").read_text().count("boom") == 1
    text = report.read_text()
    assert "| `a_fails` | failed |" in text and "| tiny_sum |" in text
    # a failed rerun keeps the previous good result
    before = (res / "b_ok.json").read_text()
    (bench / "b_ok.py").write_text(FAKE_FAIL)
    assert _run(RUN, "--bench-dir", bench, "--results", res, "--report", report, "--only", "b_ok").returncode == 1
    assert (res / "b_ok.json").read_text() == before
    # the partial rerun's run.json keeps the left-out benchmarks' entries, marked with their run
    rerun = json.loads((res / "run.json").read_text())
    status = {e["name"]: e for e in rerun["benchmarks"]}
    assert list(status) == ["a_fails", "b_ok", "c_bad_doc"]
    assert status["b_ok"]["status"] == "failed" and "from_run" not in status["b_ok"]
    assert status["a_fails"]["from_run"]["created"] == run["created"]
    assert "--quick" in status["c_bad_doc"]["from_run"]["command"]
    assert rerun["summary"] == "1 failed; 2 kept from earlier runs"
    text = report.read_text()
    assert f"| `a_fails` | failed | {status['a_fails']['seconds']} | from the earlier run of {run['created']}" in text
    assert text.count(f"Earlier run of {run['created']}: `python benchmarks/run.py ") == 1  # named once


def test_a_benchmark_past_its_timeout_is_killed_and_reported(tmp_path):
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "d_hangs.py").write_text(FAKE_HANG)
    res = tmp_path / "res"
    committed = (BENCH / "RESULTS.md").read_bytes()
    r = _run(RUN, "--bench-dir", bench, "--results", res, "--timeout", "2")
    assert r.returncode == 1, r.stdout + r.stderr
    (entry,) = json.loads((res / "run.json").read_text())["benchmarks"]
    assert entry["status"] == "timeout" and entry["returncode"] is None and entry["seconds"] < 30
    # a --results folder outside benchmarks/results/ gets its own report; the committed one is untouched
    assert "| `d_hangs` | timeout |" in (res / "RESULTS.md").read_text()
    assert (BENCH / "RESULTS.md").read_bytes() == committed


def test_unknown_benchmark_name_is_a_usage_error(tmp_path):
    r = _run(RUN, "--only", "no_such_bench", "--results", tmp_path / "res", "--no-report")
    assert r.returncode == 2 and "unknown benchmark" in r.stderr and "retrieval_metric" in r.stderr


SIDE_BY_SIDE = sorted(p.stem for p in (BENCH / "upstream").glob("*_vs_upstream.py"))


def _upstream_dirs() -> dict[str, str]:
    """run.py's UPSTREAM_DIRS: the checkout folder --upstream-root gives each side-by-side script."""
    tree = ast.parse(RUN.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "UPSTREAM_DIRS":
            return ast.literal_eval(node.value)
    raise AssertionError("run.py has no UPSTREAM_DIRS")


def test_every_paper_has_a_side_by_side_script_and_the_runner_knows_its_checkout():
    assert [n.removesuffix("_vs_upstream") for n in SIDE_BY_SIDE] == ["dldkd", "kd2d3d", "kiclip", "tdsclip", "xkd"]
    assert sorted(_upstream_dirs()) == SIDE_BY_SIDE


@pytest.mark.parametrize("name", SIDE_BY_SIDE)
def test_side_by_side_without_upstream_says_what_to_clone_and_exits_0(name, tmp_path):
    r = _run(BENCH / "upstream" / f"{name}.py", "--out", tmp_path / "x.json")
    assert r.returncode == 0, r.stderr
    assert re.search(r"git clone (-b \S+ )?https://github\.com/", r.stdout) and "--upstream" in r.stdout
    # the folder the hint clones into is the one run.py --upstream-root hands the script
    assert f"python benchmarks/upstream/{name}.py --upstream /tmp/upstream/{_upstream_dirs()[name]}\n" in r.stdout
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("name", SIDE_BY_SIDE)
def test_side_by_side_with_a_wrong_checkout_names_it_and_exits_2(name, tmp_path):
    r = _run(BENCH / "upstream" / f"{name}.py", "--upstream", tmp_path, "--out", tmp_path / "x.json")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert f"{name}: error: {tmp_path} lacks " in r.stderr and "not a checkout of " in r.stderr
    assert not (tmp_path / "x.json").exists()


def test_validate_rejects_documents_that_break_the_schema():
    b = _bench_module()
    row = {"name": "x", "unit": "call", "median_s": 2.0, "runs_s": [1.0, 2.0, 9.0], "repeats": 3,
           "peak_memory_mib": None, "peak_memory_kind": "cpu", "metrics": {}}  # fmt: skip
    doc = {"schema": b.SCHEMA, "benchmark": "x", "script": "s", "created": "t", "device": "cpu", "quick": True,
           "torch": "2", "machine": {}, "config": {}, "results": [row]}  # fmt: skip
    assert b.validate(doc) == []
    assert any("median" in p for p in b.validate({**doc, "results": [{**row, "median_s": 1.0}]}))
    assert any(
        "'metrics'" in p for p in b.validate({**doc, "results": [{k: v for k, v in row.items() if k != "metrics"}]})
    )
    assert any("'machine'" in p for p in b.validate({k: v for k, v in doc.items() if k != "machine"}))


def test_runner_without_torch_answers_help_and_says_which_python_to_use(tmp_path):
    fake = tmp_path / "torch"  # shadows the real torch: as if run with a Python that lacks it
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    h = subprocess.run([sys.executable, str(RUN), "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert h.returncode == 0 and "--report-only" in h.stdout, h.stderr
    r = subprocess.run([sys.executable, str(RUN), "--list"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "No module named 'torch'" in r.stderr and "scripts/setup.sh" in r.stderr
