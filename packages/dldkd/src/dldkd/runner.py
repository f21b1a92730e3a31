"""Evaluation of a finished run (the original ``method/eval.py``; ``do_test.sh``).

``python -m dldkd.evaluate --collection C --visual_feature F --root_path R --dset_name C --model_dir M``
reads ``M/opt.json`` and ``M/model.ckpt`` (``M`` is a path, or a run name under
``<root_path>/<collection>/results``), scores the test captions against the test videos and
prints the R@1/5/10/100/SumR table. It writes ``eval_test_metrics.json`` and ``eval_test_ranks.tsv``
into the run dir. The checkpoint may be this package's plain-data ``model.ckpt`` or an original
one (ICCV ``A_``/``B_`` or DL-DKD++ names, EasyDict config).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from .checkpoint import (
    CheckpointError,
    from_original_state_dict,
    load_checkpoint_file,
    model_from_state_dict,
    model_state_from_checkpoint,
)
from .config import parse_test_options, resolve_device
from .model import DLDKD, DLDKDConfig

__all__ = ["load_model_from_run", "run_test"]


def load_model_from_run(run_dir: str | Path, opt: Any = None, *, trusted: bool = False) -> tuple[DLDKD, dict]:
    """The model stored in ``run_dir/model.ckpt`` (any layout) and a small description of it."""
    path = Path(run_dir) / "model.ckpt"
    ckpt = load_checkpoint_file(path, trusted=trusted)
    state = model_state_from_checkpoint(ckpt)
    native, layout = from_original_state_dict(state)
    if layout == "native" and isinstance(ckpt.get("model_cfg"), dict):
        model = DLDKD(DLDKDConfig.from_dict(ckpt["model_cfg"]))
        missing, unexpected = model.load_state_dict(native, strict=False)
        if missing or unexpected:
            raise CheckpointError(
                f"{path}: state_dict does not fit its model_cfg: missing {missing[:6]}, unexpected {unexpected[:6]}"
            )
    else:
        cfg = ckpt.get("model_cfg") if isinstance(ckpt.get("model_cfg"), dict) else {}
        n_heads = int(cfg.get("n_heads", getattr(opt, "n_heads", 4) if opt is not None else 4))
        model, layout = model_from_state_dict(state, n_heads=n_heads)
    model.eval()
    return model, {"path": str(path), "layout": layout, "epoch": ckpt.get("epoch")}


def run_test(argv: Optional[Sequence[str]] = None) -> int:
    """The ``do_test.sh`` entry point; returns a process exit code."""
    from .data import collection_paths
    from .train import evaluate_run_dir

    opt = parse_test_options(argv)
    paths = collection_paths(opt.root_path, opt.collection, opt.visual_feature)
    missing = paths.missing(opt.split)
    if missing:
        print("[dldkd] evaluation data is missing:\n  " + "\n  ".join(str(p) for p in missing), file=sys.stderr)
        return 2
    if not (Path(opt.model_dir) / "model.ckpt").is_file():
        print(f"[dldkd] no model.ckpt in {opt.model_dir}", file=sys.stderr)
        return 2
    import logging

    log = logging.getLogger("dldkd")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    device = resolve_device(opt.device)
    evaluate_run_dir(Path(opt.model_dir), opt, split=opt.split, device=device, trusted=opt.trust_checkpoint)
    return 0
