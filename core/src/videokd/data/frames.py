"""Frame folders: one JPEG (or PNG) per frame, named by a template with 1-based numbers.

Templates the originals use: ``img_{:05d}.jpg`` (mmaction / SSv2 extraction), ``{:05d}.jpg``
(official SSv1 layout) and ``image_{:05d}.jpg`` (3D-ResNets, with an ``n_frames`` file holding the
largest frame number). Indices given to :class:`FrameFolder` are **0-based** positions (as the
samplers return); frame ``i`` is the file ``template.format(i + start_index)``.

Decoding uses ``torchvision.io.decode_jpeg`` (libjpeg-turbo, batched) by default and PIL on
request or for non-JPEG files. A missing or unreadable frame raises an error naming the file -
never a silent substitute frame (:mod:`videokd.data.robust` decides what to do with it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ..errors import UserError
from ._errors import missing_file
from .video import Layout, frames_to_tensor

__all__ = [
    "FRAME_TEMPLATES",
    "FrameDecodeError",
    "detect_template",
    "count_frames",
    "read_n_frames",
    "write_n_frames",
    "FrameFolder",
    "read_frame_folder",
]

FRAME_TEMPLATES = ("img_{:05d}.jpg", "{:05d}.jpg", "image_{:05d}.jpg")


class FrameDecodeError(UserError, RuntimeError):
    """A frame file exists but cannot be decoded (empty, truncated, not an image)."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path, self.reason = os.fspath(path), reason
        super().__init__(f"cannot decode frame {self.path}: {reason}")


def _template_regex(template: str) -> re.Pattern:
    """``img_{:05d}.jpg`` -> ``^img_(\\d+)\\.jpg$``."""
    head, _, rest = template.partition("{")
    _, _, tail = rest.partition("}")
    return re.compile("^" + re.escape(head) + r"(\d+)" + re.escape(tail) + "$")


def detect_template(folder: str | os.PathLike, templates: Sequence[str] = FRAME_TEMPLATES, start_index: int = 1) -> str:
    """The first template whose first frame exists in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise missing_file(f"frame folder not found: {folder}", folder)
    for template in templates:
        if (folder / template.format(start_index)).is_file():
            return template
    raise missing_file(f"{folder}: no frame named like {[t.format(start_index) for t in templates]}", folder)


def count_frames(folder: str | os.PathLike, template: str | None = None) -> int:
    """Number of files in ``folder`` matching ``template`` (detected if None)."""
    folder = Path(folder)
    template = template or detect_template(folder)
    pattern = _template_regex(template)
    return sum(1 for name in os.listdir(folder) if pattern.match(name))


def read_n_frames(folder: str | os.PathLike) -> int:
    """The integer in ``<folder>/n_frames`` (3D-ResNets: the largest frame number)."""
    path = Path(folder) / "n_frames"
    try:
        return int(float(path.read_text().strip()))
    except FileNotFoundError:
        raise missing_file(f"missing n_frames file: {path}", path) from None
    except ValueError as err:
        raise ValueError(f"{path}: not an integer frame count") from err


def write_n_frames(folder: str | os.PathLike, template: str = "image_{:05d}.jpg") -> int:
    """Write ``n_frames`` = the largest frame number found (no trailing newline, as the 3D-ResNets tool)."""
    folder = Path(folder)
    pattern = _template_regex(template)
    numbers = [int(m.group(1)) for name in os.listdir(folder) if (m := pattern.match(name))]
    n = max(numbers, default=0)
    (folder / "n_frames").write_text(str(n))
    return n


def _torchvision_decode_jpeg():
    """torchvision's batched libjpeg-turbo decoder, or None where this torchvision has none.

    torchvision 0.29 marks its image codecs deprecated (in favour of torchcodec); the warning is
    silenced here because PIL is the fallback the day they are removed.
    """
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from torchvision.io import decode_jpeg
    except ImportError:
        return None

    def quiet_decode(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return decode_jpeg(*args, **kwargs)

    return quiet_decode


class FrameFolder:
    """Random access to the frames of one folder.

    Args:
        folder: the directory.
        template: file-name template; detected among :data:`FRAME_TEMPLATES` if None.
        num_frames: frame count if known (e.g. from a list file); else counted on first use.
        start_index: number of the first frame file (1 for every original).
        backend: ``"torchvision"`` (``decode_jpeg``, batched; PIL where torchvision has no
            decoder) or ``"pil"``.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        *,
        template: str | None = None,
        num_frames: int | None = None,
        start_index: int = 1,
        backend: Literal["torchvision", "pil"] = "torchvision",
    ):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise missing_file(f"frame folder not found: {self.folder}", self.folder)
        self.template = template or detect_template(self.folder, start_index=start_index)
        self.start_index = start_index
        self.backend = backend
        self._num_frames = num_frames

    def __len__(self) -> int:
        if self._num_frames is None:
            self._num_frames = count_frames(self.folder, self.template)
        return self._num_frames

    def path(self, index: int) -> Path:
        """File of 0-based frame ``index``."""
        return self.folder / self.template.format(int(index) + self.start_index)

    def _read_bytes(self, path: Path) -> bytes:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise missing_file(f"frame file not found: {path}", path) from None
        if not data:
            raise FrameDecodeError(path, "file is empty (0 bytes)")
        return data

    def _decode(self, paths: list[Path]) -> list[np.ndarray | torch.Tensor]:
        blobs = [self._read_bytes(p) for p in paths]
        decode_jpeg = _torchvision_decode_jpeg() if self.backend == "torchvision" else None
        if decode_jpeg is not None and all(p.suffix.lower() in (".jpg", ".jpeg") for p in paths):
            from torchvision.io import ImageReadMode

            tensors = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in blobs]
            try:
                images = decode_jpeg(tensors, mode=ImageReadMode.RGB)
            except RuntimeError:
                images = None  # find the culprit below, one by one
            if images is not None:
                return [img.permute(1, 2, 0) for img in images]
            out = []
            for p, t in zip(paths, tensors):
                try:
                    out.append(decode_jpeg(t, mode=ImageReadMode.RGB).permute(1, 2, 0))
                except RuntimeError as err:
                    raise FrameDecodeError(p, str(err).splitlines()[0]) from err
            return out
        from io import BytesIO

        from PIL import Image, UnidentifiedImageError

        out = []
        for p, b in zip(paths, blobs):
            try:
                with Image.open(BytesIO(b)) as im:
                    out.append(np.array(im.convert("RGB")))
            except (UnidentifiedImageError, OSError) as err:
                raise FrameDecodeError(p, str(err)) from err
        return out

    def get_frames(self, indices: Sequence[int] | np.ndarray, *, layout: Layout = "thwc") -> torch.Tensor:
        """Frames at 0-based ``indices`` (repeats decoded once): uint8 ``(T, H, W, 3)`` or float ``(T, 3, H, W)``."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size == 0:
            raise ValueError(f"{self.folder}: no frame indices requested")
        if idx.min() < 0:
            raise IndexError(f"{self.folder}: negative frame index {idx.min()}")
        unique, inverse = np.unique(idx, return_inverse=True)
        images = self._decode([self.path(i) for i in unique])
        shapes = {tuple(im.shape) for im in images}
        if len(shapes) > 1:
            raise FrameDecodeError(self.folder, f"frames have different sizes {sorted(shapes)}")
        stacked = torch.stack([torch.as_tensor(im) for im in images])
        return frames_to_tensor(stacked[torch.from_numpy(inverse.reshape(-1))], layout)


def read_frame_folder(
    folder: str | os.PathLike,
    indices: Sequence[int] | np.ndarray,
    *,
    template: str | None = None,
    layout: Layout = "thwc",
    backend: Literal["torchvision", "pil"] = "torchvision",
) -> torch.Tensor:
    """Shortcut for ``FrameFolder(folder, template=template).get_frames(indices)``."""
    return FrameFolder(folder, template=template, backend=backend).get_frames(indices, layout=layout)
