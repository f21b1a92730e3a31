"""Synthetic datasets in two more on-disk formats XKD's evaluations read (registered in
:data:`videokd.data.synthetic.FORMATS`, so ``datasets/make_synthetic.py`` writes them).

* :func:`write_kinetics_sound` - a Kinetics root (``videos/{train,val}/<class>/<clip>.avi`` with AAC
  audio, from :func:`videokd.data.synthetic.make_kinetics_dataset`) plus the Kinetics-Sound clip lists
  ``cache/kinetics_sound/{train,val}.txt`` (JSON lists of ``"class/file"``, as XKD's cache), which pick
  a subset of the classes (all but the last one when there are more than two).
* :func:`write_fsd50k` - the official FSD50K release layout: ``FSD50K.dev_audio/<id>.wav``,
  ``FSD50K.eval_audio/<id>.wav`` (16-bit mono) and ``FSD50K.ground_truth/{vocabulary,dev,eval}.csv``
  (``index,label,mid`` without header; ``fname,labels,mids[,split]`` with comma-joined multi-labels).
  Every clip mixes the class tones of 1-3 labels, so a multi-label probe can beat chance mAP.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ._registry import SyntheticDataset, register_format
from .classification import make_kinetics_dataset
from .content import class_name, render_audio

__all__ = ["write_kinetics_sound", "write_fsd50k", "FORMATS"]


def write_kinetics_sound(
    root: str | os.PathLike,
    *,
    classes: int = 4,
    videos_per_class: int = 4,
    frames: int = 60,
    size: int = 48,
    seed: int = 0,
    **_: Any,
) -> SyntheticDataset:
    """Kinetics-layout audio-visual clips + Kinetics-Sound lists (see the module doc)."""
    ds = make_kinetics_dataset(
        root, classes=classes, videos_per_class=videos_per_class, frames=frames, size=size, ext="avi", seed=seed
    )
    root = Path(root)
    names = sorted(ds.meta["classes"])
    chosen = set(names[:-1] if len(names) > 2 else names)
    cache = root / "cache" / "kinetics_sound"
    cache.mkdir(parents=True, exist_ok=True)
    splits = {}
    for folder in ("train", "val"):
        base = root / "videos" / folder
        entries = sorted(
            f"{c}/{f.name}" for c in sorted(chosen) if (base / c).is_dir() for f in sorted((base / c).iterdir())
        )
        (cache / f"{folder}.txt").write_text(json.dumps(entries))
        splits[folder] = entries
    out = SyntheticDataset(
        root,
        "kinetics-sound",
        files={**ds.files, "ks_train": cache / "train.txt", "ks_val": cache / "val.txt"},
        splits=splits,
        meta={**ds.meta, "kinetics_sound_classes": sorted(chosen)},
    )
    out.write_meta()
    return out


def write_fsd50k(
    root: str | os.PathLike,
    *,
    classes: int = 6,
    videos_per_class: int = 4,
    seconds: float = 2.0,
    audio_rate: int = 16000,
    seed: int = 0,
    **_: Any,
) -> SyntheticDataset:
    """FSD50K release layout with multi-label clips (see the module doc). ``videos_per_class`` clips
    per class carry that class as their first label; every fifth dev clip is marked ``val``."""
    import soundfile as sf

    root = Path(root)
    rng = np.random.default_rng(seed)
    gt = root / "FSD50K.ground_truth"
    gt.mkdir(parents=True, exist_ok=True)
    labels = [class_name(c, "snake") for c in range(classes)]
    mids = [f"/m/{c:05d}" for c in range(classes)]
    with (gt / "vocabulary.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([i, labels[i], mids[i]] for i in range(classes))
    rows: dict[str, list[list[str]]] = {"dev": [], "eval": []}
    splits: dict[str, list[str]] = {"train": [], "val": [], "eval": []}
    fname, n_dev = 100000, 0
    for c in range(classes):
        for k in range(videos_per_class):
            part = "eval" if k % 4 == 3 else "dev"
            extra = rng.choice([x for x in range(classes) if x != c], size=int(rng.integers(0, 3)), replace=False)
            present = [c, *sorted(int(x) for x in extra)]
            wave = sum(render_audio(x, seconds=seconds, rate=audio_rate, rng=rng) for x in present) / len(present)
            folder = root / f"FSD50K.{part}_audio"
            folder.mkdir(parents=True, exist_ok=True)
            fname += int(rng.integers(1, 50))
            sf.write(folder / f"{fname}.wav", wave[0], audio_rate, subtype="PCM_16")
            row = [str(fname), ",".join(labels[x] for x in present), ",".join(mids[x] for x in present)]
            if part == "dev":
                n_dev += 1
                split = "val" if n_dev % 5 == 0 else "train"
                row.append(split)
                splits[split].append(str(fname))
            else:
                splits["eval"].append(str(fname))
            rows[part].append(row)
    for part, header in (("dev", ["fname", "labels", "mids", "split"]), ("eval", ["fname", "labels", "mids"])):
        with (gt / f"{part}.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows[part])
    ds = SyntheticDataset(
        root,
        "fsd50k",
        files={
            "dev_audio": root / "FSD50K.dev_audio",
            "eval_audio": root / "FSD50K.eval_audio",
            "vocabulary": gt / "vocabulary.csv",
            "dev": gt / "dev.csv",
            "eval": gt / "eval.csv",
        },
        splits=splits,
        meta={"kind": "audio", "classes": labels, "audio_rate": audio_rate, "seconds": seconds, "seed": seed},
    )
    ds.write_meta()
    return ds


def _kinetics_sound(out_dir, *, classes=4, videos_per_class=4, frames=60, size=48, seed=0, **kwargs):
    return write_kinetics_sound(
        out_dir, classes=classes, videos_per_class=videos_per_class, frames=frames, size=size, seed=seed
    )


def _fsd50k(out_dir, *, classes=6, videos_per_class=4, frames=32, size=64, seed=0, **kwargs):
    return write_fsd50k(out_dir, classes=classes, videos_per_class=videos_per_class, seed=seed, **kwargs)


_kinetics_sound.__doc__ = (
    "Kinetics .avi (+AAC) + cache/kinetics_sound/{train,val}.txt clip lists (xkd audio-visual SVM)."
)
_fsd50k.__doc__ = "FSD50K release layout: dev/eval wav folders + ground-truth csvs, multi-label (xkd)."

#: format name -> builder(out_dir, *, classes, videos_per_class, frames, size, seed)
FORMATS: dict[str, Any] = {"kinetics-sound": _kinetics_sound, "fsd50k": _fsd50k}
for _name, _builder in FORMATS.items():
    register_format(_name, _builder)
