"""Original DL-DKD checkpoints: key maps (ICCV ``A_``/``B_`` and DL-DKD++ names) and ``model.ckpt`` loading.

The original ``model.ckpt`` is ``torch.save({"model": state_dict, "model_cfg": EasyDict, "epoch": int})``.
The pickled EasyDict makes ``torch.load(..., weights_only=True)`` fail on torch >= 2.6, and
``add_safe_globals([EasyDict])`` is not enough (the weights-only unpickler refuses SETITEM on a
dict subclass). :func:`load_checkpoint_file` therefore reads such files with a *restricted*
unpickler: it admits only the globals torch's own weights-only loader admits (tensor rebuilds,
storages, dtypes, OrderedDict) and turns ``easydict.EasyDict`` into a plain dict. No code from the
file can run, so the usual ``weights_only=False`` escape hatch is needed only for files that hold
other classes, and only when the caller says the file is trusted.
"""

from __future__ import annotations

import os
import pickle
import types
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import torch

from videokd.errors import UserError

if TYPE_CHECKING:
    from .model import DLDKD

__all__ = [
    "detect_layout",
    "from_original_state_dict",
    "to_original_state_dict",
    "load_checkpoint_file",
    "model_state_from_checkpoint",
    "config_from_state_dict",
    "model_from_state_dict",
    "CheckpointError",
]


class CheckpointError(UserError, RuntimeError):
    """A checkpoint that cannot be read or does not fit the model."""


# our sub-module name -> (ICCV name, master name), per branch
_ICCV = {"inheritance": "B_", "exploration": "A_"}
_PARTS_ICCV = {
    "query_input_proj": "query_input_proj",
    "query_pos_embed": "query_pos_embed",
    "query_encoder": "query_encoder",
    "modular_vector_mapping": "modular_vector_mapping",
    "frame_input_proj": "frame_input_proj",
    "frame_pos_embed": "frame_pos_embed",
    "frame_encoder": "frame_encoder",
    "mapping_linear": "mapping_linear",
}
_PARTS_MASTER = {
    "query_input_proj": "query_input_proj",
    "query_pos_embed": "query_pos_embed",
    "query_encoder": "query_encoder",
    "modular_vector_mapping": "modular_vector_mapping",
    "frame_input_proj": "visual_input_proj",
    "frame_pos_embed": "visual_pos_embed",
    "frame_encoder": "visual_encoder",
    "mapping_linear": "out_mapping_linear",
}
_MASTER = {"inheritance": "", "exploration": "exp_"}


def _strip_module(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the ``module.`` prefix DataParallel / DDP put on every key."""
    if sd and all(k.startswith("module.") for k in sd):
        return {k[len("module.") :]: v for k, v in sd.items()}
    return dict(sd)


def detect_layout(state_dict: Mapping[str, Any]) -> str:
    """``"native"`` (this package), ``"iccv"`` (``A_``/``B_`` prefixes) or ``"master"`` (DL-DKD++ names)."""
    keys = list(_strip_module(state_dict))
    if any(k.startswith("inheritance.") for k in keys):
        return "native"
    if any(k.startswith(("B_", "A_")) for k in keys):
        return "iccv"
    if any(k.startswith(("query_input_proj.", "visual_input_proj.", "exp_")) for k in keys):
        return "master"
    raise CheckpointError(
        "unrecognised DL-DKD state_dict: expected keys starting with 'B_'/'A_' (ICCV), "
        f"'query_input_proj.'/'visual_input_proj.'/'exp_' (DL-DKD++) or 'inheritance.'; first keys: {keys[:5]}"
    )


def _table(layout: str) -> dict[str, str]:
    """original prefix -> native prefix, e.g. ``B_frame_encoder.`` -> ``inheritance.frame_encoder.``."""
    out = {}
    for branch in ("inheritance", "exploration"):
        for ours, iccv in _PARTS_ICCV.items():
            if layout == "iccv":
                out[f"{_ICCV[branch]}{iccv}."] = f"{branch}.{ours}."
            else:
                out[f"{_MASTER[branch]}{_PARTS_MASTER[ours]}."] = f"{branch}.{ours}."
    return out


def from_original_state_dict(state_dict: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str]:
    """Map an original (ICCV or DL-DKD++) or native state_dict onto this package's names.

    Returns ``(native_state_dict, layout)``. ``module.`` prefixes are stripped. A key that fits
    no known name raises :class:`CheckpointError` naming it.
    """
    sd = _strip_module(state_dict)
    layout = detect_layout(sd)
    if layout == "native":
        return sd, layout
    table = _table(layout)
    # longest prefix first so "exp_query_input_proj." never matches "query_input_proj."
    prefixes = sorted(table, key=len, reverse=True)
    out: dict[str, torch.Tensor] = OrderedDict()
    unknown = []
    for key, value in sd.items():
        for p in prefixes:
            if key.startswith(p):
                out[table[p] + key[len(p) :]] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointError(f"{layout} state_dict has keys that no DL-DKD module owns: {unknown[:8]}")
    return out, layout


def to_original_state_dict(state_dict: Mapping[str, torch.Tensor], layout: str = "iccv") -> dict[str, torch.Tensor]:
    """The inverse of :func:`from_original_state_dict` (``layout`` = ``"iccv"`` or ``"master"``)."""
    if layout not in ("iccv", "master"):
        raise ValueError(f"layout must be 'iccv' or 'master', got {layout!r}")
    inverse = {v: k for k, v in _table(layout).items()}
    out = OrderedDict()
    for key, value in state_dict.items():
        prefix = ".".join(key.split(".")[:2]) + "."
        if prefix not in inverse:
            raise CheckpointError(f"native key {key!r} has no {layout} name")
        out[inverse[prefix] + key[len(prefix) :]] = value
    return out


# ---------------------------------------------------------------------------------------------
# reading files


class _PlainDict(dict):
    """What an ``easydict.EasyDict`` becomes while unpickling; turned into a dict afterwards."""

    def __setstate__(self, state: Any) -> None:  # EasyDict pickles its attribute dict as BUILD state
        if isinstance(state, Mapping):
            for k, v in state.items():
                self.setdefault(k, v)


def _restricted_pickle_module() -> types.ModuleType:
    from torch import _weights_only_unpickler as wou

    allowed = dict(wou._get_allowed_globals())

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            full = f"{module}.{name}"
            if module == "easydict" and name == "EasyDict":
                return _PlainDict
            if full in allowed:
                return allowed[full]
            if module == "torch" and name.endswith("Storage"):
                return getattr(torch, name)
            if module == "torch._utils" and name.startswith("_rebuild_"):
                return getattr(torch._utils, name)
            raise pickle.UnpicklingError(f"global {full!r} is not allowed in a DL-DKD checkpoint")

    mod = types.ModuleType("dldkd_restricted_pickle")
    mod.Unpickler = Unpickler  # type: ignore[attr-defined]
    mod.load = pickle.load  # type: ignore[attr-defined]
    mod.__name__ = "dldkd_restricted_pickle"
    return mod


def _plain(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, OrderedDict):
        return OrderedDict((k, _plain(v)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_plain(v) for v in obj)
    return obj


def _unreadable(path: Path, err: BaseException) -> CheckpointError:
    first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return CheckpointError(
        f"{path} ({path.stat().st_size} bytes) is truncated or corrupt and cannot be read ({first_line}); "
        "copy or download it again"
    )


def load_checkpoint_file(path: str | os.PathLike, *, trusted: bool = False) -> dict[str, Any]:
    """Read a checkpoint written by this package or by the original training script.

    Tries ``weights_only=True`` first (this package's files hold plain data). Original files that
    pickle an EasyDict ``model_cfg`` are then read with the restricted unpickler described in the
    module docstring (the EasyDict comes back as a plain dict). ``trusted=True`` allows a last
    resort ``weights_only=False`` load for files holding other classes; only use it for files
    you trust, because unpickling can run arbitrary code.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass  # not plain data: try the restricted unpickler below
    except Exception as first:  # truncated zip, wrong format, ...
        if "weights_only" not in str(first).lower() and "unpickl" not in str(first).lower():
            raise _unreadable(path, first) from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_restricted_pickle_module())
        return _plain(obj)
    except pickle.UnpicklingError as second:
        if trusted:
            return _plain(torch.load(path, map_location="cpu", weights_only=False))
        raise CheckpointError(
            f"{path} cannot be loaded with weights_only=True and holds objects beyond tensors, dicts and "
            f"an EasyDict config ({second}). If you trust this file, "
            "load it with trusted=True (uses torch.load(weights_only=False), which can run code from the file)."
        ) from second
    except Exception as second:
        raise _unreadable(path, second) from None


def model_state_from_checkpoint(ckpt: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The state_dict inside a loaded checkpoint (``model`` key, or the dict itself when it is one)."""
    if "model" in ckpt and isinstance(ckpt["model"], Mapping):
        return dict(ckpt["model"])
    if ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        return dict(ckpt)
    raise CheckpointError(f"checkpoint has no 'model' state_dict; keys: {sorted(ckpt)[:10]}")


def config_from_state_dict(state_dict: Mapping[str, torch.Tensor], **overrides: Any) -> dict[str, Any]:
    """Architecture sizes read from a native state_dict's shapes (``n_heads`` cannot be: pass it)."""
    sd = state_dict
    try:
        inh = sd["inheritance.frame_input_proj.LayerNorm.weight"]
        cfg = {
            "visual_input_size": int(inh.shape[0]),
            "query_input_size": int(sd["inheritance.query_input_proj.LayerNorm.weight"].shape[0]),
            "inheritance_hidden": int(sd["inheritance.mapping_linear.weight"].shape[0]),
            "max_ctx_l": int(sd["inheritance.frame_pos_embed.position_embeddings.weight"].shape[0]),
            "max_desc_l": int(sd["inheritance.query_pos_embed.position_embeddings.weight"].shape[0]),
        }
    except KeyError as err:
        raise CheckpointError(f"state_dict lacks {err.args[0]!r}; is it a DL-DKD model?") from None
    has_exp = any(k.startswith("exploration.") for k in sd)
    cfg["double_branch"] = has_exp
    exp_width = sd.get("exploration.frame_pos_embed.position_embeddings.weight")
    cfg["exploration_hidden"] = int(exp_width.shape[1]) if exp_width is not None else cfg["inheritance_hidden"]
    cfg.update(overrides)
    return cfg


def model_from_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    *,
    n_heads: Optional[int] = None,
    share_query_input_proj: Optional[bool] = None,
    **overrides: Any,
) -> tuple[DLDKD, str]:
    """Build a :class:`dldkd.model.DLDKD` whose sizes fit ``state_dict`` (any layout) and load it.

    ``share_query_input_proj`` defaults to the layout's wiring: True for ICCV checkpoints (the
    exploration query path uses the inheritance projection), False for DL-DKD++. Native
    checkpoints should pass it from their saved config. Returns ``(model, layout)``.
    """
    from .model import DLDKD, DLDKDConfig

    native, layout = from_original_state_dict(state_dict)
    if n_heads is None:  # not recoverable from shapes: the model's default
        n_heads = DLDKDConfig.n_heads
    if share_query_input_proj is None:
        share_query_input_proj = layout != "master"
    cfg = config_from_state_dict(native, n_heads=n_heads, share_query_input_proj=share_query_input_proj, **overrides)
    model = DLDKD(DLDKDConfig.from_dict(cfg))
    missing, unexpected = model.load_state_dict(native, strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"{layout} state_dict does not fit the model: missing {missing[:6]}, unexpected {unexpected[:6]}"
        )
    return model, layout
