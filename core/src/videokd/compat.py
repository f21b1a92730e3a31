"""Compatibility shims for third-party packages, kept in one place.

pytorchvideo 0.1.5 (its last release) imports ``torchvision.transforms.functional_tensor``, which
torchvision removed (it lives on as the private ``_functional_tensor``). Call
:func:`import_pytorchvideo_transforms` (or :func:`install_pytorchvideo_shim` before importing
pytorchvideo yourself) instead of importing ``pytorchvideo.transforms`` directly.

detectron2 is on no package registry. The only operator the papers take from it is RoIAlign, which
``torchvision.ops.RoIAlign`` provides with the same semantics (``aligned=True`` matches detectron2's
default ``ROIAlign(aligned=True)``); :func:`roi_align_layer` returns detectron2's layer when it is
installed and torchvision's otherwise.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType


def install_pytorchvideo_shim() -> None:
    """Alias ``torchvision.transforms.functional_tensor`` to its private successor if it is missing."""
    name = "torchvision.transforms.functional_tensor"
    if name in sys.modules:
        return
    try:
        importlib.import_module(name)
        return
    except ImportError:
        pass
    private = importlib.import_module("torchvision.transforms._functional_tensor")
    sys.modules[name] = private


def import_pytorchvideo_transforms() -> ModuleType:
    """Import ``pytorchvideo.transforms`` with the shim installed; a clear error if it is absent."""
    install_pytorchvideo_shim()
    try:
        return importlib.import_module("pytorchvideo.transforms")
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("pytorchvideo is required for this transform: pip install 'pytorchvideo>=0.1.5'") from err


def roi_align_layer(output_size, spatial_scale: float, sampling_ratio: int = 0, aligned: bool = True):
    """RoIAlign as detectron2 builds it, from detectron2 if installed, else from torchvision.ops."""
    try:  # pragma: no cover - detectron2 is not installable from a registry
        from detectron2.layers import ROIAlign  # type: ignore

        return ROIAlign(output_size, spatial_scale, sampling_ratio, aligned=aligned)
    except ImportError:
        from torchvision.ops import RoIAlign

        return RoIAlign(output_size, spatial_scale, sampling_ratio, aligned=aligned)
