"""The KICLIP synthetic layouts: the exact list/label files the entry scripts read, real decodable videos."""

from __future__ import annotations

import json

import pytest

from videokd.data.synthetic.kiclip_b2n import FORMATS
from videokd.data.video import VideoReader

LAYOUT = {
    "kiclip_k400": ("zs_label_db/B2N_k400", ["train_s3.csv", "val_new.csv", "test_1.csv"], "k400", " "),
    "kiclip_ucf101": ("zs_label_db/B2N_ucf101", ["train_s1.csv", "val_1.csv", "test_raw.csv"], "ucf101", ","),
    "kiclip_hmdb51": (
        "zs_label_db/B2N_hmdb",
        ["train.csv", "val.csv", "val_test.csv", "test.csv"],
        "hmdb51/videos",
        ",",
    ),
    "kiclip_cd_k400": ("label_db/weng_compress_full_splits", ["train.csv", "val.csv", "test.csv"], "k400", ","),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_layout_matches_what_the_scripts_read(fmt, tmp_path):
    FORMATS[fmt](tmp_path, classes=4, videos_per_class=5, frames=12, size=24)
    lists, names, videos, first_sep = LAYOUT[fmt]
    for name in names:
        rows = (tmp_path / lists / name).read_text().splitlines()
        assert rows, name
        sep = first_sep if name in ("train_s3.csv", "test_1.csv") else ","
        for row in rows:
            path, label = row.rsplit(sep, 1)
            assert (tmp_path / videos / path).is_file() and int(label) >= 0
    if fmt == "kiclip_cd_k400":
        labels = json.loads((tmp_path / "label_rephrase" / "k400_rephrased_classes.json").read_text())
        assert len(labels) == 4
    else:
        base = json.loads((tmp_path / lists / "train_rephrased.json").read_text())
        novel = json.loads((tmp_path / lists / "test_rephrased.json").read_text())
        assert len(base) == 2 and len(novel) == 2 and all(":" in t for t in base.values())
    first = (tmp_path / lists / names[0]).read_text().splitlines()[0].replace(" ", ",").rsplit(",", 1)[0]
    with VideoReader(tmp_path / videos / first) as reader:
        assert reader.info.num_frames >= 10
