"""Collate functions shared by the packages.

* :func:`repeated_augmentation_collate` - repeated augmentation (PySlowFast / TDS-CLIP
  ``multiple_samples_collate``, KICLIP's ``AUG.NUM_SAMPLE``, TDS-CLIP's ``data.num_sample``): each
  dataset item holds ``num_sample`` independently augmented copies of one video; the batch is the
  flat list of every copy, video-major (video 0 copy 0, video 0 copy 1, video 1 copy 0, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch.utils.data import default_collate

__all__ = ["repeated_augmentation_collate"]


def repeated_augmentation_collate(batch: Sequence[Sequence[Any]]) -> Any:
    """``[[sample, ...] per video]`` -> ``default_collate`` of all samples, video-major.

    A sample is anything ``default_collate`` takes (a dict of tensors, a tuple ``(video, label)``...).
    Every item must hold at least one sample; items may hold different numbers of samples.
    """
    flat = []
    for i, item in enumerate(batch):
        if isinstance(item, (str, bytes)) or not isinstance(item, Sequence) or len(item) == 0:
            raise TypeError(
                f"repeated_augmentation_collate: item {i} must be a non-empty list of augmented samples, "
                f"got {type(item).__name__}"
            )
        flat.extend(item)
    return default_collate(flat)
