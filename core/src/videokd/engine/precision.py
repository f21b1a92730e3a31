"""Numeric precision: fp32, bf16 autocast, or fp16 autocast with a GradScaler.

``Precision("bf16", device)`` gives an ``autocast()`` context for the forward pass and loss, and
routes ``backward``/``step`` through a GradScaler only for fp16 (bf16 has fp32's exponent range and
needs no loss scaling). Autocast works on CPU as well (bf16 and fp16), so tests exercise the same
code paths as GPU runs.

Typical step (what :class:`videokd.engine.loop.Trainer` does)::

    prec = Precision("fp16", device)
    with prec.autocast():
        loss = model(batch)
    prec.backward(loss)
    prec.unscale_(optimizer)            # before clipping, so the norm is in real units
    clip_grad_norm(model.parameters(), 1.0)
    stepped = prec.step(optimizer)      # False when fp16 found inf/nan and skipped the step
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from typing import Any, Optional, Union

import torch

__all__ = ["PRECISIONS", "Precision", "autocast_dtype"]

PRECISIONS = ("fp32", "bf16", "fp16")
_ALIASES = {
    "32": "fp32",
    "float32": "fp32",
    "bf16": "bf16",
    "bfloat16": "bf16",
    "16": "fp16",
    "float16": "fp16",
    "amp": "fp16",
}


def _normalise(precision: str) -> str:
    key = str(precision).lower()
    key = _ALIASES.get(key, key)
    if key not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return key


def autocast_dtype(precision: str) -> Optional[torch.dtype]:
    """``torch.bfloat16`` / ``torch.float16`` / ``None`` (fp32)."""
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[_normalise(precision)]


class Precision:
    """Autocast + (fp16 only) GradScaler for one device.

    Args:
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"``.
        device: the compute device (its type picks the autocast backend).
        init_scale: initial fp16 loss scale (torch default ``2**16``).
    """

    def __init__(
        self, precision: str = "fp32", device: Union[str, torch.device] = "cpu", *, init_scale: float = 2.0**16
    ) -> None:
        self.precision = _normalise(precision)
        self.device = torch.device(device)
        self.dtype = autocast_dtype(self.precision)
        if self.precision == "bf16" and self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
            name = torch.cuda.get_device_name(self.device)
            raise RuntimeError(f"precision 'bf16' requested but the GPU {name} does not support bfloat16; use 'fp16'")
        self.scaler: Optional[torch.amp.GradScaler] = (
            torch.amp.GradScaler(self.device.type, init_scale=init_scale) if self.precision == "fp16" else None
        )

    def autocast(self) -> AbstractContextManager[Any]:
        """Context for forward + loss; a no-op for fp32."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def unscale_(self, optimizer: torch.optim.Optimizer) -> None:
        """Divide the gradients by the loss scale in place (fp16); call before clipping."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        """Optimizer step (+ scaler update). Returns False when fp16 skipped it for inf/nan gradients."""
        if self.scaler is None:
            optimizer.step()
            return True
        before = self.scaler.get_scale()
        self.scaler.step(optimizer)
        self.scaler.update()
        # the scaler backs off (scale shrinks) exactly when it found inf/nan and skipped the step
        return self.scaler.get_scale() >= before

    @property
    def loss_scale(self) -> float:
        return float(self.scaler.get_scale()) if self.scaler is not None else 1.0

    def state_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "scaler": self.scaler.state_dict() if self.scaler is not None else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("precision") not in (None, self.precision):
            # resuming across precisions is allowed, but the fp16 loss scale is then meaningless
            return
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
