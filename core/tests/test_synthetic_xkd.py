"""The XKD synthetic formats: Kinetics-Sound lists and the FSD50K release layout."""

from __future__ import annotations

import csv
import json

import soundfile as sf

from videokd.data.synthetic.audio_visual_eval import FORMATS, write_fsd50k, write_kinetics_sound


def test_kinetics_sound_lists_name_existing_clips_of_a_class_subset(tmp_path):
    ds = write_kinetics_sound(tmp_path, classes=3, videos_per_class=2, frames=12, size=32)
    for folder in ("train", "val"):
        entries = json.loads((tmp_path / "cache" / "kinetics_sound" / f"{folder}.txt").read_text())
        assert entries and all((tmp_path / "videos" / folder / e).is_file() for e in entries)
        assert {e.split("/")[0] for e in entries} == set(ds.meta["kinetics_sound_classes"])
    assert len(ds.meta["kinetics_sound_classes"]) == 2 and set(FORMATS) == {"kinetics-sound", "fsd50k"}


def test_fsd50k_layout_and_multi_labels(tmp_path):
    ds = write_fsd50k(tmp_path, classes=5, videos_per_class=4, seconds=0.5, seed=2)
    gt = tmp_path / "FSD50K.ground_truth"
    vocab = list(csv.reader((gt / "vocabulary.csv").open()))
    assert [int(r[0]) for r in vocab] == list(range(5))
    dev = list(csv.DictReader((gt / "dev.csv").open()))
    ev = list(csv.DictReader((gt / "eval.csv").open()))
    assert len(dev) + len(ev) == 20 and {r["split"] for r in dev} == {"train", "val"}
    names = {r[1] for r in vocab}
    for rows, folder in ((dev, "FSD50K.dev_audio"), (ev, "FSD50K.eval_audio")):
        for r in rows:
            assert set(r["labels"].split(",")) <= names and len(r["labels"].split(",")) == len(r["mids"].split(","))
            wave, rate = sf.read(tmp_path / folder / f"{r['fname']}.wav")
            assert rate == 16000 and len(wave) == 8000
    assert any("," in r["labels"] for r in dev + ev)  # some clips are multi-label
    assert len(ds.splits["eval"]) == len(ev)
