"""Small synthetic datasets in the exact on-disk formats the five packages read.

Every generator is deterministic for a given ``seed`` and writes real files (H.264 mp4 through
PyAV, JPEG frame folders, float32 ``feature.bin`` + HDF5 files, wav) so that the packages'
entry scripts can run end to end on them. The content carries a learnable signal:

* videos: a coloured square moving across a textured background; the class sets the colour
  and the direction of motion, so a tiny model can beat chance;
* PRVR features: every *moment* of a video is a noisy copy of a concept latent, its frames are
  noisy projections of that latent, and the captions that describe the moment are noisy
  projections of the same latent through another matrix, so text-to-video retrieval can beat
  random (and the CLIP "teacher" features share the signal, so distillation helps too).

The functions return a :class:`SyntheticDataset` (root, written files, per-split ids) and also
write ``synthetic.json`` beside the data describing what was generated.

Layout of this package (one module per dataset family; every public name is importable from
``videokd.data.synthetic`` itself):

* ``_registry``: :class:`SyntheticDataset`, the format registry :data:`FORMATS`,
  :func:`register_format`, :func:`make_dataset` (used by ``datasets/make_synthetic.py``);
* ``content``: class attributes / names and the class-dependent picture and sound;
* ``media``: the file writers shared by the families (H.264 + AAC video, JPEG frames);
* ``prvr``: TVR / ActivityNet / Charades retrieval feature bundles (dldkd);
* ``classification``: Kinetics, UCF101, HMDB51 video files + KICLIP base-to-novel lists;
* ``frame_folders``: 3D-ResNets, ActivityNet v1.3 and Something-Something JPEG frame folders;
* ``audio``: AudioSet-style audio-visual clips and ESC-50 wav folds.

Adding a format: write ``videokd/data/synthetic/<family>.py`` whose generator returns a
:class:`SyntheticDataset`, and register a builder at the bottom of that module::

    from ._registry import SyntheticDataset, register_format, with_common_args

    def make_foo_dataset(out_dir, *, classes=4, videos_per_class=4, frames=32, size=64, seed=0):
        ...

    register_format("foo", with_common_args(make_foo_dataset, "Foo layout (which package reads it)."))

Nothing else needs editing: this package imports every module in its folder (those not starting
with ``_``), so the format appears in :data:`FORMATS`, :func:`make_dataset` and
``make_synthetic.py --list``. A builder takes ``(out_dir, *, classes, videos_per_class, frames,
size, seed, **kwargs)`` and needs a docstring (its first line is the ``--list`` entry); the test
suite also wants the format described in ``datasets/README.md``. Re-export the new ``make_*``
function below if it should be importable from ``videokd.data.synthetic``.
"""

from __future__ import annotations

import importlib
import pkgutil

# The family modules register their formats on import, in this order (the order of FORMATS).
# isort: off
from . import prvr, classification, frame_folders, audio  # noqa: F401

# isort: on
from ._registry import FORMATS, SyntheticDataset, make_dataset, register_format, with_common_args
from .audio import make_audioset_dataset, make_esc50_dataset
from .classification import make_hmdb51_dataset, make_kinetics_dataset, make_ucf101_dataset
from .content import (
    _COLOURS,  # noqa: F401 - the tests look at the palette
    _DIRECTIONS,  # noqa: F401
    MAX_CLASSES,
    class_attributes,
    class_description,
    class_name,
    render_audio,
    render_clip,
)
from .frame_folders import make_activitynet_frames_dataset, make_resnet3d_dataset, make_something_dataset
from .media import write_jpeg_frames, write_video
from .prvr import PRVR_COLLECTIONS, make_prvr_dataset


def _import_family_modules() -> None:
    """Import every public module of this folder: a family module dropped in registers itself."""
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


_import_family_modules()

__all__ = [
    "SyntheticDataset",
    "PRVR_COLLECTIONS",
    "make_prvr_dataset",
    "FORMATS",
    "make_dataset",
    "register_format",
    "with_common_args",
    "MAX_CLASSES",
    "class_attributes",
    "class_name",
    "class_description",
    "render_clip",
    "render_audio",
    "write_video",
    "write_jpeg_frames",
    "make_kinetics_dataset",
    "make_ucf101_dataset",
    "make_hmdb51_dataset",
    "make_resnet3d_dataset",
    "make_activitynet_frames_dataset",
    "make_something_dataset",
    "make_audioset_dataset",
    "make_esc50_dataset",
]
