"""The evaluation list readers on the core generator's layouts."""

from __future__ import annotations

import pytest

from xkd.data import DataError, hmdb51_split, kinetics_sound_split, ucf101_split


def test_kinetics_sound_lists_pick_their_classes(tmp_path):
    from videokd.data.synthetic.audio_visual_eval import write_kinetics_sound

    ds = write_kinetics_sound(tmp_path, classes=3, videos_per_class=2, frames=8, size=32)
    split = kinetics_sound_split(tmp_path)
    assert split["train"] and split["test"]
    assert all(p.is_file() for p, _ in split["train"] + split["test"])
    assert {lab for _, lab in split["train"]} == set(range(len(ds.meta["kinetics_sound_classes"])))


def test_ucf_and_hmdb_folds(tmp_path):
    from videokd.data.synthetic import make_hmdb51_dataset, make_ucf101_dataset

    make_ucf101_dataset(tmp_path / "ucf", classes=2, videos_per_class=3, frames=4, size=16)
    make_hmdb51_dataset(tmp_path / "hmdb", classes=2, videos_per_class=3, frames=4, size=16)
    for reader, root in ((ucf101_split, tmp_path / "ucf"), (hmdb51_split, tmp_path / "hmdb")):
        for fold in (1, 2, 3):
            split = reader(root, fold)
            train, test = {p for p, _ in split["train"]}, {p for p, _ in split["test"]}
            assert train and test and not train & test and all(p.is_file() for p in train | test)
    with pytest.raises(DataError, match="ucfTrainTestlist"):
        ucf101_split(tmp_path / "hmdb", 1)
