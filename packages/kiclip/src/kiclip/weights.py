"""Checkpoint files: the original layouts (per-epoch ``checkpoint_epoch_XXXXX.pyth``, ``swa_S_E.pth``),
loading them into :class:`~kiclip.model.KICLIP`, and the weight averaging of ``weight_average_tool.py``.

Weight averaging (as upstream): the candidates are the raw CLIP weights (id 0, keys prefixed
``model.``) and every per-epoch checkpoint (id = the integer after the last ``_`` of the file name
before the first ``.``); those with ``start <= id <= end`` are averaged uniformly. Averaged keys: every
raw-CLIP key, plus every key of the last checkpoint whose name contains one of
:data:`EXTRA_KEY_PATTERNS` (the projectors and ``resblocks_f``). The teacher (``raw_model.*``) and the
aux head (``res_classifier.*``) are not in the result. A window starting at 0 includes raw CLIP: for
the extra keys it contributes its own blocks as ``resblocks_f`` (the values the frozen stream is
built from) and nothing for the projectors (averaged over the checkpoints that have them; upstream
left such keys as unusable lists).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

import torch

from videokd.clip import read_state_dict
from videokd.engine.checkpoint import CheckpointError

from .model import FROZEN_PREFIXES, KICLIP

__all__ = [
    "EXTRA_KEY_PATTERNS",
    "RAW_CLIP_METADATA",
    "epoch_id",
    "average_checkpoints",
    "weight_average",
    "checkpoint_name",
    "load_kiclip_weights",
]

EXTRA_KEY_PATTERNS = (
    "projector",
    "adapter",
    "post_prompt",
    "tempx_blocks",
    "dca",
    "lstm",
    "spatial_model",
    "temporal_model",
    "resblocks_f",
)
RAW_CLIP_METADATA = ("input_resolution", "context_length", "vocab_size")
_CKPT_RE = re.compile(r"^checkpoint_epoch_(\d+)\.pyth$")


def checkpoint_name(epoch: int) -> str:
    """The original per-epoch file name (1-based epoch, five digits)."""
    return f"checkpoint_epoch_{epoch:05d}.pyth"


def epoch_id(file_name: str) -> int:
    """``checkpoint_epoch_00007.pyth -> 7`` (the integer after the last ``_`` before the first ``.``)."""
    return int(file_name.split(".")[0].split("_")[-1])


def average_checkpoints(
    raw_clip_state: Mapping[str, torch.Tensor],
    checkpoints: Sequence[tuple[str, Mapping[str, torch.Tensor]]],
    *,
    start: int,
    end: int,
    extra_key_patterns: Iterable[str] = EXTRA_KEY_PATTERNS,
) -> dict[str, Any]:
    """Average ``[(file_name, model_state), ...]`` (and raw CLIP when ``start <= 0``) over ``[start, end]``.

    Returns ``{"model_state", "checkpoint_ids_used", "averaged_keys", "excluded_checkpoint_keys"}``.
    """
    if not checkpoints:
        raise CheckpointError("weight averaging: no checkpoints given")
    raw = {f"model.{k}": v for k, v in raw_clip_state.items() if k not in RAW_CLIP_METADATA}
    raw_blocks = "model.visual.transformer.resblocks."
    for k in list(raw):
        if k.startswith(raw_blocks):
            raw["model.visual.transformer.resblocks_f." + k[len(raw_blocks) :]] = raw[k]
    ordered = sorted(((epoch_id(name), name, state) for name, state in checkpoints), key=lambda c: c[0])
    candidates = [(0, "raw CLIP", raw)] + ordered
    kept = [(i, name, state) for i, name, state in candidates if start <= i <= end]
    if not any(i > 0 for i, _, _ in kept):
        have = [i for i, _, _ in ordered]
        raise CheckpointError(f"weight averaging: no checkpoint epoch lies in [{start}, {end}] (epochs found: {have})")
    last_state = ordered[-1][2]
    patterns = tuple(extra_key_patterns)
    keys = [f"model.{k}" for k in raw_clip_state if k not in RAW_CLIP_METADATA]
    keys += [k for k in last_state if any(p in k for p in patterns) and k not in keys]
    averaged: dict[str, torch.Tensor] = {}
    for key in keys:
        values = [state[key] for _, _, state in kept if key in state]
        if not values:
            raise CheckpointError(f"weight averaging: key {key!r} is in no checkpoint of the window [{start}, {end}]")
        averaged[key] = torch.stack([v.float() for v in values]).mean(0)
    excluded = sorted(k for k in last_state if k not in averaged)
    return {
        "model_state": averaged,
        "checkpoint_ids_used": [i for i, _, _ in kept],
        "averaged_keys": sorted(averaged),
        "excluded_checkpoint_keys": excluded,
    }


def _read_model_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(f"{path}: cannot be read as a checkpoint (torch.load failed: {err})") from err
    if isinstance(obj, Mapping):
        for key in ("model_state", "model"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: holds no state dict (expected 'model_state' or 'model' with tensors)")
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in obj.items()}


def weight_average(
    checkpoint_dir: str | os.PathLike,
    *,
    start: int,
    end: int,
    output: str | os.PathLike,
    raw_clip: Optional[str | os.PathLike] = None,
) -> dict[str, Any]:
    """Average the per-epoch checkpoints of a run folder and write ``{"model_state": ...}`` to ``output``."""
    folder = Path(checkpoint_dir)
    if not folder.is_dir():
        raise FileNotFoundError(2, "checkpoint folder not found (train first)", str(folder))
    files = sorted(p for p in folder.iterdir() if _CKPT_RE.match(p.name))
    if not files:
        raise CheckpointError(f"{folder}: no checkpoint_epoch_XXXXX.pyth files (is this a KICLIP run's checkpoints/?)")
    if start <= 0 and raw_clip is None:
        raise CheckpointError("the averaging window starts at 0, which includes raw CLIP: pass its file (--clip)")
    raw_state = read_state_dict(raw_clip) if raw_clip is not None else {}
    if raw_clip is None:
        # the raw-CLIP key set defines the averaged backbone keys; without the file use the checkpoint's own
        sample = _read_model_state(files[-1])
        raw_state = {
            k[len("model.") :]: v for k, v in sample.items() if k.startswith("model.") and "resblocks_f" not in k
        }
    checkpoints = [(p.name, _read_model_state(p)) for p in files if start <= epoch_id(p.name) <= end or p == files[-1]]
    result = average_checkpoints(raw_state, checkpoints, start=start, end=end)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    torch.save({"model_state": result["model_state"]}, tmp)
    os.replace(tmp, out)
    return result


def load_kiclip_weights(model: KICLIP, path: str | os.PathLike) -> dict[str, list[str]]:
    """Load a KICLIP checkpoint into ``model``: an original per-epoch file, a ``swa_*.pth``, a plain state
    dict, or this package's training checkpoint (``last.pt``).

    ``module.`` prefixes are stripped. Keys the CLIP file rebuilds (teacher, ``resblocks_f``) and the
    aux head may be absent; keys for parts the model does not have (a teacher or aux head in a test
    model) are ignored. Anything else missing or unexpected is an error naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "checkpoint not found", str(path))
    state = _read_model_state(path)
    own = model.full_state_dict()
    ignorable = []
    if model.raw_model is None:
        ignorable.append("raw_model.")
    if model.res_classifier is None:
        ignorable.append("res_classifier.")
    state = {k: v for k, v in state.items() if not k.startswith(tuple(ignorable))}
    optional = FROZEN_PREFIXES + ("res_classifier.",)
    missing = [k for k in own if k not in state and not k.startswith(optional)]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and v.shape != own[k].shape
    ]
    if missing or unexpected or shapes:
        parts = []
        for title, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes)):
            if items:
                parts.append(f"{title} ({len(items)}): {', '.join(items[:8])}{' ...' if len(items) > 8 else ''}")
        raise CheckpointError(f"{path} does not fit this KICLIP model: " + "; ".join(parts))
    dense = {k: (v.to_dense() if v.layout != torch.strided else v) for k, v in state.items()}
    for k, v in own.items():
        if k not in dense:
            dense[k] = v
    model.load_state_dict(dense, strict=True)
    return {"loaded": sorted(state), "kept_from_clip": sorted(k for k in own if k not in state)}
