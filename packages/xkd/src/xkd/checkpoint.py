"""XKD checkpoint layouts: the training checkpoint, the four backbone files, the evaluation remap.

* Training checkpoint (``model/checkpoint.pth.tar`` in the original): ``{model, optimizer, epoch, amp}``
  whose ``model`` is a DDP state dict (``module.`` prefix, heads as ``last_layer.weight_g`` /
  ``weight_v``). :func:`model_state_from_checkpoint` accepts it, the engine's ``last.pt`` and a bare
  state dict.
* Backbone files ``<name>_<sub_dir>_<db>_ep<E>{vid_student,vid_teacher,aud_student,aud_teacher}.pth.tar``
  (no separator before the suffix, as the original), each the plain backbone keys.
* :func:`remap_backbone_keys`: pre-training backbone keys -> evaluation ViT keys, the rule of the
  original ``engine/*`` loops.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import torch

from videokd.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from videokd.errors import UserError

__all__ = [
    "BACKBONE_SUFFIXES",
    "remap_backbone_key",
    "remap_backbone_keys",
    "backbone_file_name",
    "backbone_state",
    "save_backbone_files",
    "model_state_from_checkpoint",
    "alias_groups",
    "load_backbone_file",
    "WeightsError",
]

BACKBONE_SUFFIXES = ("vid_student", "vid_teacher", "aud_student", "aud_teacher")


class WeightsError(UserError, ValueError):
    """A weight file that is not an XKD backbone / checkpoint of the expected modality."""


def remap_backbone_key(key: str, *, modality: str) -> str:
    """``encoder.`` / ``encoder_`` removed, ``enc_pos_embed`` -> ``pos_embed``, video ``cuboid_embed`` ->
    ``patch_embed`` (first matching rule wins)."""
    if key.startswith("encoder."):
        return key.replace("encoder.", "")
    if key.startswith("encoder_"):
        return key.replace("encoder_", "")
    if key == "enc_pos_embed":
        return "pos_embed"
    if modality == "video" and key.startswith("cuboid_embed"):
        return key.replace("cuboid_embed", "patch_embed", 1)
    return key


def remap_backbone_keys(keys_or_state: Union[Sequence[str], Mapping[str, Any]], *, modality: str):
    """Remap a key list (-> list) or a state dict (-> dict) from pre-training to evaluation names."""
    if modality not in ("video", "audio"):
        raise ValueError(f"modality must be 'video' or 'audio', got {modality!r}")
    if isinstance(keys_or_state, Mapping):
        return {remap_backbone_key(k, modality=modality): v for k, v in keys_or_state.items()}
    return [remap_backbone_key(k, modality=modality) for k in keys_or_state]


def backbone_file_name(name: str, sub_dir: str, db: str, epoch: int, suffix: str) -> str:
    return f"{name}_{sub_dir}_{db}_ep{epoch}{suffix}.pth.tar"


def backbone_state(model: torch.nn.Module, which: str) -> dict[str, torch.Tensor]:
    """Plain backbone keys of ``vid_student`` / ``vid_teacher`` / ``aud_student`` / ``aud_teacher``."""
    wrapper = getattr(model, which)
    return {k: v.detach().cpu().clone() for k, v in wrapper.backbone.state_dict().items()}


def save_backbone_files(model: torch.nn.Module, folder: Union[str, os.PathLike], *, name: str, sub_dir: str, db: str,
                        epoch: int) -> list[Path]:  # fmt: skip
    """Write the four backbone files (atomically, plain tensors) and return their paths."""
    out = []
    for suffix in BACKBONE_SUFFIXES:
        path = Path(folder) / backbone_file_name(name, sub_dir, db, epoch, suffix)
        save_checkpoint(path, backbone_state(model, suffix))
        out.append(path)
    return out


def model_state_from_checkpoint(obj: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The ``XKD_Net`` state dict from an original checkpoint (``model`` + ``module.``), the engine's
    ``last.pt`` (``model``) or a bare state dict."""
    state = obj.get("model", obj) if isinstance(obj, Mapping) else None
    if not isinstance(state, Mapping) or not state:
        raise WeightsError("the file holds no model state dict")
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state.items()}


def alias_groups(state: Mapping[str, torch.Tensor]) -> list[list[str]]:
    """Groups (>= 2 keys) of state-dict entries that are one tensor, each in state-dict order."""
    groups: dict[tuple, list[str]] = {}
    for k, v in state.items():
        key = (v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape), tuple(v.stride()))
        groups.setdefault(key, []).append(k)
    return [g for g in groups.values() if len(g) > 1]


_VIDEO_MARK, _AUDIO_MARK = "cuboid_embed.proj.weight", "patch_embed.proj.weight"


def load_backbone_file(
    path: Union[str, os.PathLike], *, modality: str, which: str = "student"
) -> dict[str, torch.Tensor]:
    """Evaluation-model state dict from a weight file.

    Accepts a backbone file of this package or the original (pre-training keys, optionally
    ``module.``-prefixed), a full pre-training checkpoint (``which`` picks ``student`` or
    ``teacher`` of that modality), or an already remapped evaluation state dict.
    """
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"{p}: weight file not found; pass --weight_path <file> of a pre-training run")
    try:
        obj = load_checkpoint(p)
    except CheckpointError as err:
        raise WeightsError(f"{p}: not a readable weight file ({err})") from None
    try:
        state = model_state_from_checkpoint(obj)
    except WeightsError as err:
        raise WeightsError(f"{p}: {err}") from None
    prefix = f"{'vid' if modality == 'video' else 'aud'}_{which}.backbone."
    if any(k.startswith(prefix) for k in state):
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    has_video = any(k.startswith("cuboid_embed") for k in state)
    has_audio = "patch_embed.proj.weight" in state and state["patch_embed.proj.weight"].dim() == 2
    if modality == "video" and not has_video and "pos_embed" not in state:
        raise WeightsError(
            f"{p}: not a video backbone (no {_VIDEO_MARK!r}; keys start {list(state)[:3]}); "
            "pass a *vid_student / *vid_teacher file"
        )
    if modality == "audio" and has_video:
        raise WeightsError(f"{p}: this is a video backbone; pass a *aud_student / *aud_teacher file")
    if modality == "audio" and not has_audio:
        raise WeightsError(f"{p}: not an audio backbone (no {_AUDIO_MARK!r}; keys start {list(state)[:3]})")
    return remap_backbone_keys(state, modality=modality)
