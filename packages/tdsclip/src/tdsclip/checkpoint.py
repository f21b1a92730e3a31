"""Building TDS-CLIP from an OpenAI CLIP file, and reading / writing checkpoints.

* :func:`model_from_clip_state` / :func:`model_from_clip_file` - the original ``clip.load`` +
  ``VideoCLIP`` construction: sizes inferred from the CLIP file, its visual weights copied
  (fp16 values cast exactly to fp32), the side network and ``fc`` left at their init. The missing
  and unused keys are reported (:class:`ClipLoadReport`) instead of being dropped silently.
* Checkpoints written by this package hold only the trained tensors (side network, its BN buffers,
  ``fc``) plus the identity of the frozen backbone (:func:`backbone_identity`); the original files
  (``model_state_dict`` with all 675 keys, optionally ``module.``-prefixed) load as well
  (:func:`load_model_weights`). :func:`original_checkpoint` writes the original layout.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import torch

from videokd import clip
from videokd.errors import UserError

from .model import TDSConfig, VideoCLIP, is_trainable_name

__all__ = [
    "ClipLoadReport",
    "TDSCheckpointError",
    "clip_sizes",
    "model_from_clip_state",
    "model_from_clip_file",
    "backbone_identity",
    "load_model_weights",
    "original_checkpoint",
    "strip_module",
]

_METADATA = ("input_resolution", "context_length", "vocab_size")


class TDSCheckpointError(UserError, ValueError):
    """A checkpoint or CLIP file that does not fit the model (names the file and what differs)."""


@dataclass
class ClipLoadReport:
    """What happened to the keys of an OpenAI CLIP file when it was loaded into ``VideoCLIP``."""

    loaded: list[str] = field(default_factory=list)  # VideoCLIP keys taken from the file
    not_in_checkpoint: list[str] = field(default_factory=list)  # VideoCLIP keys left at init (side, fc)
    unused: list[str] = field(default_factory=list)  # file keys ignored (text tower, ln_post, proj, metadata)


def strip_module(state: Mapping[str, Any]) -> dict[str, Any]:
    """Remove the ``module.`` (DDP) prefix from every key that has it."""
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state.items()}


def clip_sizes(state: Mapping[str, torch.Tensor]) -> dict[str, int]:
    """The trunk sizes the original ``build_model`` infers from an OpenAI state dict."""
    text_width = int(state["ln_final.weight"].shape[0]) if "ln_final.weight" in state else 64
    cfg = clip.infer_config(
        {k: v for k, v in state.items() if k not in _METADATA}, transformer_heads=max(1, text_width // 64)
    )
    return {
        "vision_width": cfg.vision_width,
        "vision_layers": cfg.vision_layers,
        "vision_patch_size": cfg.vision_patch_size,
        "grid": cfg.grid,
        "image_resolution": cfg.image_resolution,
        "vision_heads": cfg.vision_heads,
    }


def model_from_clip_state(
    state: Mapping[str, torch.Tensor],
    *,
    side_dim: int,
    num_classes: int,
    num_segments: int,
    source: str = "CLIP state dict",
    **options: Any,
) -> tuple[VideoCLIP, ClipLoadReport]:
    """``VideoCLIP`` with the CLIP trunk of an OpenAI-layout ``state`` (fp16 or fp32).

    ``options`` go to :class:`TDSConfig` (``td_reduction``, ``drop_fc``, ``side_heads``, ...).
    """
    state = {k: (v.to_dense() if v.layout != torch.strided else v) for k, v in strip_module(state).items()}
    try:
        sizes = clip_sizes(state)
    except (KeyError, ValueError) as err:
        raise TDSCheckpointError(f"{source}: not an OpenAI ViT CLIP state dict ({err})") from err
    cfg = TDSConfig(
        image_resolution=sizes["image_resolution"],
        vision_patch_size=sizes["vision_patch_size"],
        vision_width=sizes["vision_width"],
        vision_layers=sizes["vision_layers"],
        vision_heads=sizes["vision_heads"],
        side_dim=side_dim,
        num_classes=num_classes,
        num_segments=num_segments,
        **options,
    )
    model = VideoCLIP(cfg)
    own = model.state_dict()
    report = ClipLoadReport()
    take = {}
    for k in own:
        if k in state and not is_trainable_name(k):
            if tuple(state[k].shape) != tuple(own[k].shape):
                raise TDSCheckpointError(
                    f"{source}: {k} has shape {tuple(state[k].shape)}, the model expects {tuple(own[k].shape)}"
                )
            take[k] = state[k].to(own[k].dtype)
            report.loaded.append(k)
        else:
            report.not_in_checkpoint.append(k)
    frozen_missing = [k for k in report.not_in_checkpoint if not is_trainable_name(k)]
    if frozen_missing:
        raise TDSCheckpointError(f"{source}: CLIP weights missing: {frozen_missing[:10]}")
    report.unused = [k for k in state if k not in take]
    model.load_state_dict(take, strict=False)
    return model, report


def model_from_clip_file(path: Union[str, os.PathLike], **kwargs: Any) -> tuple[VideoCLIP, ClipLoadReport]:
    """:func:`model_from_clip_state` on an OpenAI ``.pt`` file (TorchScript archive or state dict)."""
    path = Path(path)
    if not path.is_file():
        raise TDSCheckpointError(
            f"CLIP weights not found: {path}. Put OpenAI's ViT-B-16.pt / ViT-L-14.pt there "
            "(https://openaipublic.azureedge.net/clip/models/...) or pass network.clip_path"
        )
    try:
        state = clip.read_state_dict(path)
    except ValueError as err:
        raise TDSCheckpointError(str(err)) from err
    return model_from_clip_state(state, source=str(path), **kwargs)


def backbone_identity(model: VideoCLIP) -> dict[str, Any]:
    """Sizes and a sha256 over the frozen CLIP tensors (what a trainable-only checkpoint was trained on)."""
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        if not is_trainable_name(k):
            h.update(k.encode())
            h.update(v.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return {"config": model.config.to_dict(), "frozen_sha256": h.hexdigest()}


def load_model_weights(
    model: VideoCLIP,
    state: Mapping[str, torch.Tensor],
    *,
    source: str = "checkpoint",
    check_backbone: Optional[dict] = None,
) -> str:
    """Load an original full ``model_state_dict`` (strict) or a trainable-only one; returns which.

    A trainable-only state must hold exactly the model's trained keys; ``check_backbone`` (the
    identity stored with it) is compared with the model's frozen weights.
    """
    state = strip_module(state)
    own = model.state_dict()
    trained = [k for k in own if is_trainable_name(k)]
    if set(state) == set(own):
        kind = "full"
        clip.load_state_dict_strict(model, state, source=source)
    elif set(state) == set(trained):
        kind = "trainable"
        try:
            model.load_state_dict(state, strict=False)
        except RuntimeError as err:
            raise TDSCheckpointError(f"{source}: {err}") from err
        if check_backbone is not None:
            mine = backbone_identity(model)["frozen_sha256"]
            if check_backbone.get("frozen_sha256") != mine:
                raise TDSCheckpointError(
                    f"{source} was trained on another CLIP backbone (frozen weights sha256 "
                    f"{str(check_backbone.get('frozen_sha256'))[:12]}..., this model's {mine[:12]}...): "
                    "point network.clip_path at the CLIP file used for training"
                )
    else:
        try:
            clip.load_state_dict_strict(model, state, source=source)  # the readable key report
        except clip.CheckpointMismatchError as err:
            raise TDSCheckpointError(str(err)) from err
        kind = "full"
    return kind


def original_checkpoint(model: VideoCLIP, optimizer: Optional[torch.optim.Optimizer], epoch: int) -> dict[str, Any]:
    """The dict the original ``epoch_saving`` writes: ``epoch``, full ``model_state_dict``, ``optimizer_state_dict``."""
    out: dict[str, Any] = {"epoch": int(epoch), "model_state_dict": model.state_dict()}
    if optimizer is not None:
        out["optimizer_state_dict"] = optimizer.state_dict()
    return out
