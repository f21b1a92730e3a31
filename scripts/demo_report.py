"""The demo's bookkeeping: one stage's summary + plots from the files its package wrote, and the final table.

    python scripts/demo_report.py stage NAME --out OUT/NAME [--run DIR ...]   (called at the end of a stage)
    python scripts/demo_report.py table OUT --result NAME:RC:SECONDS:LOG ...  (called once by demo.sh)

``stage`` reads the result files the package's own scripts wrote (``metrics.jsonl`` of the engine,
kiclip's ``b2n_results.json``, dldkd's ``eval_test_metrics.json`` and ``eval_test_ranks.tsv``,
tdsclip's ``--output_json``, kd2d3d's ``val_accuracy.json`` and ``val.json``, xkd's
``svm_results.json`` / ``linear_results.json``), draws the figures with :mod:`videokd.plots` into
``OUT/NAME/plots/`` and writes ``OUT/NAME/summary.json``::

    {"stage", "entry", "task", "metrics": [[name, value], ...], "chance", "plots": [...], "sources": [...]}

Nothing is computed here that the package did not write, except the confusion matrix and the
recall@K curve, which are counted from the per-video predictions / per-query ranks the packages saved.

``table`` prints one row per stage (package, entry script, what ran, the paper's metric, chance,
wall time, status), writes ``OUT/summary.md`` + ``OUT/summary.json``, and lists the plot files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

from videokd import plots


class ReportError(Exception):
    """A result file a stage should have written is missing or malformed (the message names it)."""


def _json(path: Path) -> Any:
    if not path.is_file():
        raise ReportError(f"{path}: not found (the stage's scripts should have written it)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ReportError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None


def _one(pattern: str, root: Path) -> Path:
    found = sorted(root.glob(pattern), key=lambda p: p.stat().st_mtime)
    if not found:
        raise ReportError(f"{root}: nothing matches {pattern}")
    return found[-1]


def _curves(run: Path, out: Path, title: str) -> list[str]:
    return [str(p) for p in plots.plot_run(run, out, title=title)]


# ---------------------------------------------------------------------------------------- stages
# each returns the summary dict (without "stage"); `out` is OUT/<stage>, figures go to out/plots


def stage_core(out: Path) -> dict:
    r = _json(out / "result.json")
    run = Path(r["run_dir"])
    figs = _curves(run, out / "plots", "core tiny CLIP")
    return {
        "entry": "scripts/demo_core.py",
        "task": f"tiny CLIP video classifier, {r['classes']} synthetic classes, {r['epochs_run']} epochs; "
        f"{r['heldout_videos']} held-out videos",
        "metrics": [["top-1", r["best_val_top1"]]],
        "chance": f"top-1 {r['chance_top1']:.1f}",
        "plots": figs,
        "sources": [str(out / "result.json"), str(run / "metrics.jsonl")],
    }


def stage_dldkd(out: Path) -> dict:
    run = _one("data/tvr/results/tvr-demo-*", out)
    doc = _json(run / "eval_test_metrics.json")
    m = doc["metrics"]["fused"]
    n = int(doc["n_videos"])
    ks = (1, 5, 10, 100)
    chance = [min(100.0, 100.0 * k / n) for k in ks]
    ranks_file = run / "eval_test_ranks.tsv"
    ranks = _read_ranks(ranks_file)
    figs = _curves(run, out / "plots", "dldkd")
    figs.append(
        str(plots.plot_recall_at_k(ranks, out / "plots" / "recall_at_k.png", title="dldkd test: recall@K", num_items=n))
    )
    return {
        "entry": "do_tvr.sh, do_test.sh",
        "task": f"DL-DKD (tiny) on synthetic TVR features, {doc['n_queries']} test queries x {n} videos",
        "metrics": [[f"R@{k}", m[f"r{k}"]] for k in ks] + [["SumR", m["sumr"]]],
        "chance": f"R@1 {chance[0]:.1f}, SumR {sum(chance):.1f}",
        "plots": figs,
        "sources": [str(run / "eval_test_metrics.json"), str(ranks_file), str(run / "metrics.jsonl")],
    }


def _read_ranks(path: Path) -> dict[str, list[int]]:
    if not path.is_file():
        raise ReportError(f"{path}: not found")
    lines = path.read_text(encoding="utf-8").splitlines()
    head = lines[0].split("\t")
    cols = {name[len("rank_") :]: i for i, name in enumerate(head) if name.startswith("rank_")}
    if not cols:
        raise ReportError(f"{path}: no rank_* columns in the header {head}")
    rows = [line.split("\t") for line in lines[1:] if line.strip()]
    return {name: [int(r[i]) for r in rows] for name, i in cols.items()}


def stage_kiclip(out: Path) -> dict:
    run = out / "runs" / "B2N_k400_KICLIP"
    res = _json(run / "b2n_results.json")
    base, novel = res["base"], res["novel"]
    chance_b, chance_n = 100.0 / base["classes"], 100.0 / novel["classes"]
    figs = _curves(run, out / "plots", "kiclip")
    figs.append(
        str(
            plots.plot_bars(
                {"base": base["top1"], "novel": novel["top1"], "HM": res["hm"]},
                out / "plots" / "base_novel.png",
                title="kiclip K400 base-to-novel (top-1)",
                chance=100.0 / max(base["classes"], novel["classes"]),
            )
        )
    )
    return {
        "entry": "train_b2n_k400.sh, weight_average_tool.py, test_b2n_k400.sh",
        "task": f"KICLIP B2N on synthetic K400: {base['classes']} base / {novel['classes']} novel classes, "
        f"{base['videos']} + {novel['videos']} test videos",
        "metrics": [["base", base["top1"]], ["novel", novel["top1"]], ["HM", res["hm"]]],
        "chance": f"base {chance_b:.1f}, novel {chance_n:.1f}",
        "plots": figs,
        "sources": [str(run / "b2n_results.json"), str(run / "metrics.jsonl")],
    }


def stage_tdsclip(out: Path) -> dict:
    test_json = _one("exp/somethingv1/tiny/*/test_3x2.json", out)
    run = test_json.parent
    t = _json(test_json)
    classes = _yaml_num_classes(run / "config.yaml")
    figs = _curves(run, out / "plots", "tdsclip")
    return {
        "entry": "scripts/run_train_vision.sh, scripts/run_test_vision.sh",
        "task": f"TDS-CLIP (tiny) on synthetic SSv1 frames, {classes} classes, {int(t['videos'])} test videos, "
        f"{t['views']} views",
        "metrics": [["top-1", t["top1"]], ["top-5", t["top5"]]],
        "chance": f"top-1 {100.0 / classes:.1f}, top-5 {min(100.0, 500.0 / classes):.1f}",
        "plots": figs,
        "sources": [str(test_json), str(run / "metrics.jsonl")],
    }


def _yaml_num_classes(path: Path) -> int:
    import yaml

    if not path.is_file():
        raise ReportError(f"{path}: not found")
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        return int(cfg["data"]["num_classes"])
    except (KeyError, TypeError):
        raise ReportError(f"{path}: no data.num_classes") from None


def stage_kd2d3d(out: Path) -> dict:
    metrics: list[list[Any]] = []
    sources: list[str] = []
    figs: list[str] = []
    classes = None
    for tag, name in (("kd", "with KD"), ("nokd", "no KD")):
        run = out / f"run_{tag}"
        acc = _json(run / "val_accuracy.json")
        metrics += [
            [f"clip top-1 ({name})", 100.0 * acc["clip_top1"]],
            [f"video top-1 ({name})", 100.0 * acc["video_top1"]],
        ]
        sources += [str(run / "val_accuracy.json"), str(run / "metrics.jsonl")]
        figs += _curves(run, out / "plots" / tag, f"kd2d3d {name}")
        if tag == "kd":
            opts = _json(run / "opts.json")
            annotation = _json(Path(opts["annotation_path"]))
            names = list(annotation["labels"])
            classes = len(names)
            truth = {
                vid: names.index(entry["annotations"]["label"])
                for vid, entry in annotation["database"].items()
                if entry.get("subset") == "validation"
            }
            predicted = _json(run / "val.json")["results"]
            vids = [v for v in predicted if v in truth]
            if not vids:
                raise ReportError(f"{run / 'val.json'}: no video of the annotation's validation subset")
            preds = [names.index(predicted[v][0]["label"]) for v in vids]
            confusion = plots.confusion_matrix([truth[v] for v in vids], preds, classes).tolist()
            figs.append(
                str(
                    plots.plot_confusion(
                        [truth[v] for v in vids],
                        preds,
                        names,
                        out / "plots" / "confusion_kd.png",
                        title="kd2d3d with KD: video predictions",
                    )
                )
            )
            sources += [str(run / "val.json"), opts["annotation_path"]]
    assert classes is not None
    return {
        "entry": "tools/*.py, main.py --config configs/tiny.yaml (kd.type=both / none)",
        "task": f"3D ResNet-10 on synthetic UCF-101 ({classes} classes), with KD from an untrained 2D ResNet-18 (no weights are downloaded) and without",
        "metrics": metrics,
        "chance": f"top-1 {100.0 / classes:.1f}",
        "plots": figs,
        "sources": sources,
        "confusion_kd": {"classes": names, "matrix": confusion},  # rows true, columns predicted (val.json top-1)
    }


def stage_xkd(out: Path) -> dict:
    pre = out / "runs" / "Transformer" / "pretext" / "demo"
    metrics: list[list[Any]] = []
    chance = []
    sources = [str(pre / "metrics.jsonl")]
    for db, label in (("ucf101", "video SVM UCF101"), ("esc50", "audio SVM ESC-50")):
        f = _one(f"runs/Transformer/*/{db}/demo/svm_results.json", out)
        res = _json(f)
        fold = res["folds"][0]
        metrics.append([label, res.get("mean_top1", fold["top1"])])
        chance.append(f"{db} {fold['chance']:.1f}")
        sources.append(str(f))
    linear = sorted(out.glob("runs/Transformer/*/kinetics400/demo*/linear_results.json"))
    for f in linear:
        res = _json(f)
        figs_linear = _curves(f.parent, out / "plots" / "linear", "xkd linear probe")
        metrics.append(["video linear K400", res["test"].get("top1", next(iter(res["test"].values())))])
        if res.get("chance") is not None:
            chance.append(f"k400 {res['chance']:.1f}")
        sources.append(str(f))
    finetune = sorted(out.glob("runs/Transformer/*/esc50/demo*/finetune_results.json"))
    for f in finetune:
        res = _json(f)
        fold = res["folds"][0]
        metric = fold["metric"]
        metrics.append(["audio fine-tune ESC-50", res.get(f"mean_{metric}", fold["test"][metric])])
        sources.append(str(f))
    figs = _curves(pre, out / "plots", "xkd pre-training") + (figs_linear if linear else [])
    return {
        "entry": "codes/train/src/xkd.sh, codes/eval/src/svm_ucf101.sh, svm_esc50.sh"
        + (", linear_k400.sh" if linear else "")
        + (", finetune_esc50.sh" if finetune else ""),
        "task": "micro XKD audio-visual pre-training (2 epochs) on synthetic clips, then frozen-feature evaluations",
        "metrics": metrics,
        "chance": ", ".join(chance),
        "plots": figs,
        "sources": sources,
    }


STAGES: dict[str, Callable[[Path], dict]] = {
    "core": stage_core,
    "dldkd": stage_dldkd,
    "kiclip": stage_kiclip,
    "tdsclip": stage_tdsclip,
    "kd2d3d": stage_kd2d3d,
    "xkd": stage_xkd,
}


def write_stage_summary(name: str, out: Path) -> dict:
    if name not in STAGES:
        raise ReportError(f"no summary reader for stage {name!r} (known: {', '.join(STAGES)})")
    summary = {"stage": name, **STAGES[name](out)}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    shown = ", ".join(f"{k} {_fmt(v)}" for k, v in summary["metrics"])
    print(f"[{name}] {shown} (chance: {summary['chance']})")
    print(f"[{name}] plots: {out / 'plots'}")
    return summary


# ----------------------------------------------------------------------------------------- table


def _fmt(v: Any) -> str:
    return f"{v:.1f}" if isinstance(v, (int, float)) else str(v)


COLUMNS = ("package", "entry script(s)", "trained / evaluated", "paper metric", "chance", "wall time", "status")


def collect(out: Path, results: Sequence[tuple[str, int, int, str]]) -> list[dict]:
    """One row per ``(stage, exit code, seconds, log)``: its summary.json read back; a passed stage
    without a readable summary counts as failed."""
    docs = []
    for name, rc, seconds, log in results:
        doc: dict[str, Any] = {"stage": name, "rc": rc, "seconds": seconds, "log": log}
        cells = dict.fromkeys(COLUMNS, "-")
        cells.update({"package": name, "wall time": f"{seconds} s"})
        cells["status"] = "ok" if rc == 0 else f"FAILED (exit {rc})"
        if rc == 0:
            try:
                summary = json.loads((out / name / "summary.json").read_text(encoding="utf-8"))
                cells["entry script(s)"] = summary["entry"]
                cells["trained / evaluated"] = summary["task"]
                cells["chance"] = summary["chance"]
                cells["paper metric"] = ", ".join(f"{k} {_fmt(v)}" for k, v in summary["metrics"])
                doc["summary"] = summary
            except (OSError, ValueError, KeyError, TypeError) as err:
                cells["status"] = "FAILED (no summary)"
                doc["error"] = f"no readable {out / name / 'summary.json'}: {err}"
                doc["rc"] = 1
        doc["cells"] = cells
        docs.append(doc)
    return docs


def markdown_table(docs: Sequence[dict]) -> str:
    rows = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for d in docs:
        cells = dict(d["cells"])
        if d["rc"] != 0:
            cells["status"] += f"; log: {d['log']}"
        rows.append("| " + " | ".join(str(cells[c]).replace("|", "/") for c in COLUMNS) + " |")
    return "\n".join(rows)


def text_table(docs: Sequence[dict], widths: Sequence[int] = (8, 24, 32, 32, 20, 9, 15)) -> str:
    """The same rows for a terminal: fixed column widths, long cells wrapped onto further lines."""
    import textwrap

    def row(cells: Sequence[str]) -> list[str]:
        wrapped = [textwrap.wrap(str(c), w, break_long_words=True) or [""] for c, w in zip(cells, widths)]
        height = max(len(w) for w in wrapped)
        return [
            " | ".join((w[i] if i < len(w) else "").ljust(width) for w, width in zip(wrapped, widths)).rstrip()
            for i in range(height)
        ]

    rule = "-+-".join("-" * w for w in widths)
    lines = row(COLUMNS) + [rule]
    for d in docs:
        lines += row([d["cells"][c] for c in COLUMNS]) + [rule]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_stage = sub.add_parser("stage", help="write OUT/NAME/summary.json and the stage's plots")
    p_stage.add_argument("name", choices=sorted(STAGES))
    p_stage.add_argument("--out", type=Path, required=True, help="the stage's output folder (OUT/NAME)")
    p_table = sub.add_parser("table", help="the summary table of a demo run")
    p_table.add_argument("out", type=Path, help="the demo's output folder")
    p_table.add_argument("--result", action="append", default=[], help="NAME:RC:SECONDS:LOG, one per stage run")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "stage":
            write_stage_summary(args.name, args.out)
            return 0
        results = []
        for item in args.result:
            name, rc, seconds, log = item.split(":", 3)
            results.append((name, int(rc), int(seconds), log))
        docs = collect(args.out, results)
    except (ReportError, plots.PlotError) as err:
        print(f"demo_report: error: {err}", file=sys.stderr)
        return 2
    (args.out / "summary.md").write_text(markdown_table(docs) + "\n", encoding="utf-8")
    (args.out / "summary.json").write_text(json.dumps(docs, indent=1) + "\n", encoding="utf-8")
    print(text_table(docs))
    folders: dict[str, list[str]] = {}
    for d in docs:
        for p in d.get("summary", {}).get("plots", []):
            path = Path(p).resolve()
            folders.setdefault(str(path.parent), []).append(path.name)
    if folders:
        count = sum(len(v) for v in folders.values())
        print(f"\nplots ({count} PNG files; redraw a run's curves with: videokd plot RUN_DIR):")
        for folder, names in folders.items():
            print(f"  {folder}/  {' '.join(names)}")
    for d in docs:
        if d["rc"] != 0:
            why = f"; {d['error']}" if "error" in d else ""
            print(f"FAILED: stage {d['stage']} (log: {d['log']}{why})", file=sys.stderr)
    failed = [d["stage"] for d in docs if d["rc"] != 0]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
