#!/usr/bin/env python
"""Run the benchmark scripts, each in its own process, collect their JSON and write benchmarks/RESULTS.md.

    python benchmarks/run.py --quick                     # every script at its CPU smoke size (minutes)
    python benchmarks/run.py                             # CPU sizes (long: the DL-DKD TVR eval, ViT-B steps)
    python benchmarks/run.py --device cuda               # on a GPU: the bf16 / MFU rows (scripts/gpu_check.sh)
    python benchmarks/run.py --only dldkd_eval decode    # some of them
    python benchmarks/run.py --upstream-root /tmp/upstream   # also the side-by-side scripts in upstream/
    python benchmarks/run.py --report-only               # rewrite RESULTS.md from the JSON already there
    python benchmarks/run.py --list

Each benchmark runs as ``python <script> --device D [--quick] [--threads N] --out <results>/<name>.json``
in a subprocess of its own (so its peak memory is its own), with ``--timeout`` seconds; a failure or a
timeout is recorded and the next benchmark runs. A benchmark's JSON is replaced only when it
succeeds. ``<results>/run.json`` lists every benchmark's status, exit code, time and log file
(``<results>/logs/<name>.log``); after a partial run (``--only``, ``--skip``) it keeps the earlier
entries of the benchmarks left out, marked with the run they came from. Results go to ``benchmarks/results/<quick|cpu|cuda>/`` by default;
RESULTS.md is generated from every result document under ``benchmarks/results/`` (other JSON
files there are listed by name only). Exit code 1 when a benchmark failed or timed out.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
try:
    import _bench  # noqa: E402
except ModuleNotFoundError as _exc:  # no torch here: --help still answers, a run says which Python to use
    _bench, _IMPORT_ERROR = None, _exc

# the checkout folder each side-by-side script expects under --upstream-root (see upstream/README.md)
UPSTREAM_DIRS = {
    "dldkd_vs_upstream": "DL-DKD",
    "tdsclip_vs_upstream": "TDS-CLIP",
    "kiclip_vs_upstream": "KICLIP",
    "kd2d3d_vs_upstream": "3D-ResNets-PyTorch",
    "xkd_vs_upstream": "XKD",
}
# arguments beyond --device for a GPU run (the rows issue #15 asks for); --script-args adds to them
CUDA_ARGS = {
    "dldkd_eval": ["--sizes", "tvr", "activitynet", "--train-step", "--precisions", "fp32", "bf16"],
    "kd2d3d_train_step": ["--channels-last", "--skip-extraction"],
}
CPU_ONLY = {"engine_loop", "decode", "retrieval_metric"}  # they measure CPU-side work
STATUS_OK, STATUS_SKIPPED, STATUS_FAILED, STATUS_TIMEOUT = "ok", "skipped", "failed", "timeout"


def discover(bench_dir: Path, with_upstream: bool) -> dict[str, Path]:
    """Benchmark name -> script: ``*.py`` in ``bench_dir`` (not ``_*`` or run.py), then ``upstream/*.py``."""
    found = {p.stem: p for p in sorted(bench_dir.glob("*.py")) if not p.name.startswith("_") and p.name != "run.py"}
    if with_upstream:
        found.update({p.stem: p for p in sorted((bench_dir / "upstream").glob("*.py")) if not p.name.startswith("_")})
    return found


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_one(name: str, script: Path, args: argparse.Namespace, results: Path, extra: list[str]) -> dict:
    """Run one benchmark script in a subprocess (own process group, killed on timeout)."""
    logs = results / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    partial = results / ".partial"
    partial.mkdir(parents=True, exist_ok=True)
    out_tmp = partial / f"{name}.json"
    out_tmp.unlink(missing_ok=True)
    cmd = [sys.executable, str(script), "--device", args.device, "--out", str(out_tmp)]
    if args.quick:
        cmd.append("--quick")
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    cmd += extra
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    log = logs / f"{name}.log"
    final = results / f"{name}.json"
    shown = ["python", _rel(script)] + [_rel(final) if c == str(out_tmp) else c for c in cmd[2:]]  # repo-relative
    entry = {"name": name, "script": _rel(script), "command": shlex.join(shown), "log": str(log.relative_to(results))}
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        fh.write(f"$ {shlex.join(cmd)}\n")
        fh.flush()
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            rc = proc.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()
            rc = None
    entry["seconds"] = round(time.perf_counter() - t0, 1)
    entry["returncode"] = rc
    if rc is None:
        entry["status"] = STATUS_TIMEOUT
        entry["error"] = f"killed after the {args.timeout} s timeout"
    elif rc != 0:
        entry["status"] = STATUS_FAILED
        entry["error"] = f"exit code {rc}: " + _tail(log)
    elif not out_tmp.exists():
        entry["status"] = STATUS_SKIPPED
        entry["error"] = _tail(log, 3)
    else:
        try:
            problems = _bench.validate(json.loads(out_tmp.read_text()))
        except json.JSONDecodeError as err:
            problems = [f"not JSON: {err}"]
        if problems:
            entry["status"] = STATUS_FAILED
            entry["error"] = "result document: " + "; ".join(problems)
        else:
            os.replace(out_tmp, final)
            entry["status"] = STATUS_OK
            entry["result"] = final.name
    return entry


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(BENCH_DIR.parent))
    except ValueError:
        return str(path)


def report_root(results: Path) -> Path:
    """The folder RESULTS.md is made from: benchmarks/results/ for its sub-folders, else ``results`` itself."""
    default = (BENCH_DIR / "results").resolve()
    return default if results.resolve().is_relative_to(default) else results.resolve()


def _tail(path: Path, lines: int = 5) -> str:
    text = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip() and not ln.startswith("$ ")]
    return " | ".join(text[-lines:])[-800:]


# ----------------------------------------------------------------------------------------- report
def _shown(root: Path) -> str:
    default = (BENCH_DIR / "results").resolve()
    return "benchmarks/results/" if root.resolve() == default else str(root)


def _relto(path: Path, root: Path) -> str:
    return str(path.relative_to(root.parent)) if path != root.parent else "."


def _fmt(v) -> str:
    if isinstance(v, float):
        if v == 0 or 0.001 <= abs(v) < 1e6:
            return f"{v:.4g}"
        return f"{v:.3g}"
    return str(v)


def _doc_section(doc: dict, path: Path, root: Path) -> list[str]:
    m = doc["machine"]
    where = m.get("gpu") or f"{m.get('processor')} CPU, {m.get('cpu_count')} cores"
    lines = [
        f"#### `{doc['benchmark']}` ({doc['device']}{', quick' if doc['quick'] else ''})",
        "",
        f"`{doc['script']}` -> `{_relto(path, root)}`, {doc['created']}: {where}, torch {doc['torch']}, "
        f"{m.get('threads')} torch thread(s), load average {m.get('load_avg_1min_at_start')} at start.",
        "",
        "Config: `" + json.dumps(doc["config"], separators=(", ", ": "), default=str)[:600] + "`",
        "",
        "| name | median s | per | n | peak MiB | metrics |",
        "|---|---|---|---|---|---|",
    ]
    for r in doc["results"]:
        mem = r.get("peak_memory_mib")
        kind = str(r.get("peak_memory_kind", ""))
        mem_s = "" if mem is None else f"{mem:.0f} ({'CUDA alloc' if kind.startswith('cuda') else 'RSS'})"
        if r.get("peak_memory_growth_mib") is not None:
            mem_s += f", +{r['peak_memory_growth_mib']:.0f}"
        metrics = ", ".join(f"{k} {_fmt(v)}" for k, v in r["metrics"].items())
        lines.append(f"| {r['name']} | {_fmt(r['median_s'])} | {r['unit']} | {r['repeats']} | {mem_s} | {metrics} |")
    for note in doc.get("notes") or []:
        lines += ["", f"Note: {note}"]
    return lines + [""]


def write_report(root: Path, path: Path) -> Path:
    """RESULTS.md from every result document under ``root`` (grouped by folder) and each folder's run.json."""
    docs: dict[Path, list[tuple[Path, dict]]] = {}
    runs: dict[Path, dict] = {}
    legacy: list[Path] = []
    for f in sorted(root.rglob("*.json")):
        if ".partial" in f.parts or "logs" in f.parts:
            continue
        try:
            doc = json.loads(f.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            legacy.append(f)
            continue
        if f.name == "run.json" and isinstance(doc, dict) and doc.get("kind") == "videokd-bench-run":
            runs[f.parent] = doc
        elif isinstance(doc, dict) and doc.get("schema") == _bench.SCHEMA:
            docs.setdefault(f.parent, []).append((f, doc))
        else:
            legacy.append(f)
    out = [
        "# Benchmark results",
        "",
        f"Generated by `python benchmarks/run.py` from the JSON under `{_shown(root)}` (do not edit by hand;",
        "`python benchmarks/run.py --report-only` rewrites it). How each figure is measured: "
        "[benchmarks/README.md](README.md).",
        "Times are medians of the `n` timed calls after warm-up; peak memory is CUDA `max_memory_allocated`",
        "or the process's peak RSS on the CPU (`+N`: its rise during the timed calls). `--quick` rows are",
        "smoke sizes that show the scripts run, not measurements to quote.",
        "",
    ]
    for folder in sorted(set(docs) | set(runs)):
        out += [f"## `{_relto(folder, root)}/`", ""]
        run = runs.get(folder)
        if run:
            out += [
                f"Run of {run['created']} (`{run['command']}`): {run['summary']}." + (f" {run['note']}" if run.get("note") else ""),
                "",
                "| benchmark | status | seconds | note |",
                "|---|---|---|---|",
            ]  # fmt: skip
            earlier: dict[str, str] = {}
            for e in run["benchmarks"]:
                note = (e.get("error") or "")[:300]
                if e.get("from_run"):
                    src = e["from_run"]
                    earlier[str(src.get("created"))] = str(src.get("command"))
                    note = f"from the earlier run of {src.get('created')} {note}".strip()
                note = note.replace("|", "/")
                out.append(f"| `{e['name']}` | {e['status']} | {e['seconds']} | {note} |")
            out.append("")
            out += [f"Earlier run of {created}: `{command}`." for created, command in earlier.items()]
            out += [""] if earlier else []
        for f, doc in docs.get(folder, []):
            out += _doc_section(doc, f, root)
    if legacy:
        out += ["## Other JSON files (not in the result schema)", ""]
        out += [f"- `{_relto(f, root)}`" for f in legacy] + [""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out).rstrip() + "\n")
    return path


def carried_entries(run_file: Path, ran: set[str], known: set[str]) -> list[dict]:
    """The entries of the folder's previous run.json for benchmarks this run left out (``--only`` /
    ``--skip``), each marked with the run it came from, so run.json keeps describing every result
    document in the folder. Benchmarks whose script no longer exists are dropped."""
    try:
        prev = json.loads(run_file.read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(prev, dict) or prev.get("kind") != "videokd-bench-run":
        return []
    kept = []
    for e in prev.get("benchmarks") or []:
        if not isinstance(e, dict) or e.get("name") in ran or e.get("name") not in known:
            continue
        kept.append({**e, "from_run": e.get("from_run") or {"created": prev.get("created"),
                                                             "command": prev.get("command")}})  # fmt: skip
    return kept


# ----------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="CPU smoke sizes (each script's --quick)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N, passed to every script")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    p.add_argument("--skip", nargs="+", metavar="NAME", default=[], help="leave these out")
    p.add_argument("--threads", type=int, default=None, help="torch threads and OMP_NUM_THREADS for every script")
    p.add_argument("--timeout", type=float, default=None, help="seconds per benchmark (default 900; 3600 full size)")
    p.add_argument("--results", type=Path, default=None, help="folder (default benchmarks/results/<quick|cpu|cuda>)")
    p.add_argument("--report", type=Path, default=None,
                   help="RESULTS.md to write (default benchmarks/RESULTS.md; <results>/RESULTS.md for a --results "
                   "folder outside benchmarks/results/)")  # fmt: skip
    p.add_argument("--no-report", action="store_true", help="do not write RESULTS.md")
    p.add_argument("--report-root", type=Path, default=None,
                   help="folder whose result documents RESULTS.md shows (default benchmarks/results/, or --results)")  # fmt: skip
    p.add_argument("--report-only", action="store_true", help="only rewrite RESULTS.md from the existing JSON")
    p.add_argument("--upstream-root", type=Path, default=None,
                   help="folder holding checkouts of the original repositories: also run upstream/*.py")  # fmt: skip
    p.add_argument("--script-args", action="append", default=[], metavar="NAME=ARGS",
                   help="extra arguments for one benchmark, e.g. dldkd_eval='--sizes tvr'")  # fmt: skip
    p.add_argument("--note", default="", help="a sentence recorded in run.json and RESULTS.md (e.g. machine load)")
    p.add_argument("--bench-dir", type=Path, default=BENCH_DIR, help=argparse.SUPPRESS)  # tests
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    a = p.parse_args(argv)
    if _bench is None:
        print(f"benchmarks/run.py: {_IMPORT_ERROR}. Run it with the project's Python: bash scripts/setup.sh, "
              "then .venv/bin/python benchmarks/run.py", file=sys.stderr)  # fmt: skip
        return 2
    import torch

    kind = "quick" if a.quick else torch.device(a.device).type
    results = (a.results or BENCH_DIR / "results" / kind).resolve()
    root = a.report_root.resolve() if a.report_root else report_root(results)
    if a.report is None:  # never overwrite the committed report with an outside folder's results
        default_root = (BENCH_DIR / "results").resolve()
        a.report = BENCH_DIR / "RESULTS.md" if root == default_root else root / "RESULTS.md"
    if a.report_only:
        print(f"wrote {write_report(root, a.report)}")
        return 0
    with_upstream = a.upstream_root is not None or bool(a.only and any(n in UPSTREAM_DIRS for n in a.only))
    scripts = discover(a.bench_dir, with_upstream)
    if a.list:
        for name, script in scripts.items():
            print(f"{name:24s} {script}")
        return 0
    unknown = [n for n in (a.only or []) + a.skip if n not in scripts]
    if unknown:
        p.error(f"unknown benchmark(s) {unknown}; known: {sorted(scripts)}")
    extra: dict[str, list[str]] = {}
    for item in a.script_args:
        name, sep, rest = item.partition("=")
        if not sep or name not in scripts:
            p.error(f"--script-args {item!r}: expected NAME=ARGS with NAME one of {sorted(scripts)}")
        extra.setdefault(name, []).extend(shlex.split(rest))
    a.timeout = a.timeout or (900 if a.quick or a.device != "cpu" else 3600)
    names = [n for n in (a.only or scripts) if n not in a.skip]
    cuda = torch.device(a.device).type == "cuda"
    results.mkdir(parents=True, exist_ok=True)
    entries = []
    for name in names:
        args = list(CUDA_ARGS.get(name, [])) if cuda else []
        if name in UPSTREAM_DIRS and a.upstream_root is not None:
            args += ["--upstream", str(a.upstream_root / UPSTREAM_DIRS[name])]
        if cuda and name in CPU_ONLY:
            entries.append({"name": name, "status": STATUS_SKIPPED, "seconds": 0, "returncode": None,
                            "error": "measures CPU-side work; not run with --device cuda"})  # fmt: skip
            continue
        print(f"[run] {name} ...", flush=True)
        e = run_one(name, scripts[name], a, results, args + extra.get(name, []))
        print(f"[run] {name}: {e['status']} in {e['seconds']} s" + (f" ({e['error']})" if e.get("error") else ""))
        entries.append(e)
    shutil.rmtree(results / ".partial", ignore_errors=True)
    counts = {
        s: sum(e["status"] == s for e in entries) for s in (STATUS_OK, STATUS_SKIPPED, STATUS_FAILED, STATUS_TIMEOUT)
    }
    kept = carried_entries(results / "run.json", ran=set(names), known=set(scripts))
    run = {
        "kind": "videokd-bench-run",
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/run.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "device": a.device,
        "quick": a.quick,
        "machine": _bench.machine_info("cpu"),
        "note": a.note,
        "summary": ", ".join(f"{v} {k}" for k, v in counts.items() if v)
        + (f"; {len(kept)} kept from earlier runs" if kept else ""),
        "benchmarks": sorted(entries + kept, key=lambda e: list(scripts).index(e["name"])),
    }
    (results / "run.json").write_text(json.dumps(run, indent=1) + "\n")
    print(f"[run] {run['summary']}; wrote {results / 'run.json'}")
    if not a.no_report:
        print(f"[run] wrote {write_report(root, a.report)}")
    return 1 if counts[STATUS_FAILED] or counts[STATUS_TIMEOUT] else 0


if __name__ == "__main__":
    raise SystemExit(main())
