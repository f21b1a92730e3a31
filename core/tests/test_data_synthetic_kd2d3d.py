"""The kd2d3d synthetic formats: the Kinetics crawler CSVs and videos, in their real layout."""

from __future__ import annotations

import csv

from videokd.data.synthetic import class_name
from videokd.data.synthetic.kinetics_crawler import FORMATS, write_kinetics_crawler
from videokd.data.video import probe_video


def test_kinetics_crawler_layout(tmp_path):
    ds = write_kinetics_crawler(tmp_path, classes=3, videos_per_class=5, frames=8, size=32, seed=1)
    assert FORMATS["kinetics-crawler"] is write_kinetics_crawler
    rows = {s: list(csv.DictReader(open(tmp_path / f"kinetics_{s}.csv"))) for s in ("train", "val", "test")}
    assert list(rows["train"][0]) == ["label", "youtube_id", "time_start", "time_end", "split", "is_cc"]
    assert list(rows["val"][0]) == ["label", "youtube_id", "time_start", "time_end", "split"]
    assert list(rows["test"][0]) == ["youtube_id", "time_start", "time_end", "split"]
    assert sum(len(r) for r in rows.values()) == 15 and all(rows.values())
    names = {class_name(c) for c in range(3)}
    first_seen = list(dict.fromkeys(r["label"] for r in rows["train"]))
    assert set(first_seen) == names and first_seen != sorted(first_seen)  # csv order is not sorted
    for split, folder_of in (
        ("train", lambda r: r["label"]),
        ("val", lambda r: r["label"]),
        ("test", lambda r: "test"),
    ):
        for r in rows[split]:
            stem = f"{r['youtube_id']}_{int(r['time_start']):06d}_{int(r['time_end']):06d}"
            path = tmp_path / "videos" / folder_of(r) / f"{stem}.mp4"
            assert path.is_file(), path
    assert probe_video(next((tmp_path / "videos" / "test").iterdir())).num_frames >= 1
    assert ds.files["train_csv"] == tmp_path / "kinetics_train.csv"
