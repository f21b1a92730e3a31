"""Every synthetic format is written in its real layout and read back by the readers."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from videokd.data.audio import read_audio
from videokd.data.frames import FrameFolder, count_frames, read_n_frames
from videokd.data.synthetic import FORMATS, class_attributes, class_name, make_dataset, render_audio, render_clip
from videokd.data.video import VideoReader

SMALL = dict(classes=3, videos_per_class=3, frames=12, size=32, seed=0)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache: dict[str, object] = {}

    def get(fmt: str):
        if fmt not in cache:
            cache[fmt] = make_dataset(fmt, tmp_path_factory.mktemp(fmt.replace("-", "_")), **SMALL)
        return cache[fmt]

    return get


def _rows(path: Path, sep: str = ","):
    return [line.rstrip("\r\n").rsplit(sep, 1) for line in path.read_text().splitlines() if line.strip()]


def test_every_format_is_registered_and_documented():
    readme = (Path(__file__).resolve().parents[2] / "datasets" / "README.md").read_text()
    for fmt, build in FORMATS.items():
        assert build.__doc__, fmt
        assert f"`{fmt}`" in readme, f"datasets/README.md does not describe {fmt}"
    with pytest.raises(KeyError, match="unknown synthetic format"):
        make_dataset("youtube8m", "/tmp/never")


def test_render_clip_encodes_class_in_colour_and_direction():
    for label in range(8):
        clip = render_clip(label, frames=10, height=48, width=64, rng=np.random.default_rng(label))
        colour, direction = class_attributes(label)
        from videokd.data.synthetic import _COLOURS, _DIRECTIONS  # noqa: PLC0415 - test-only access

        target = np.asarray(_COLOURS[colour])
        mask = np.abs(clip.astype(int) - target).sum(-1) < 10  # pixels of the square
        ys, xs = [], []
        for t in range(10):
            y, x = np.nonzero(mask[t])
            ys.append(y.mean()), xs.append(x.mean())
        dx, dy = _DIRECTIONS[direction]
        moved = np.array([xs[-1] - xs[0], ys[-1] - ys[0]])
        assert np.sign(moved[0]) == dx and np.sign(moved[1]) == dy, (label, moved)
    wave = render_audio(2, seconds=0.5, rate=8000, rng=np.random.default_rng(0))
    assert wave.shape == (1, 4000) and np.abs(wave).max() <= 1


@pytest.mark.parametrize("fmt", ["kinetics", "kinetics-avi"])
def test_kinetics_layout(built, fmt):
    ds = built(fmt)
    root, ext = ds.root, ds.meta["ext"]
    names = sorted(p.name for p in (root / "videos" / "train").iterdir())
    assert names == ds.meta["classes"] == sorted(class_name(c) for c in range(3))  # class = sorted folder
    assert (root / "kinetics_labels.csv").read_text().splitlines()[0] == "id,name"
    for split in ("train", "val"):
        rows = _rows(root / "lists" / f"{split}.csv")
        assert rows and all((root / "videos" / p).is_file() and p.endswith(ext) for p, _ in rows)
        for p, label in rows:
            assert p.split("/")[1] == names[int(label)]  # label index = position of the class folder
            assert re.fullmatch(r"[\w-]{11}_\d{6}_\d{6}\." + ext, p.split("/")[-1])
        space = _rows(root / "lists" / f"kinetics_video_{split}.txt", " ")
        assert space == rows
    # B2N: base classes in train/val, novel classes (re-indexed from 0) in test, with label json
    b2n = root / "B2N_kinetics"
    base = json.loads((b2n / "train_rephrased.json").read_text())
    novel = json.loads((b2n / "test_rephrased.json").read_text())
    assert list(base) == [str(i) for i in range(len(base))] and ":" in base["0"]
    assert {int(l) for _, l in _rows(b2n / "train.csv")} <= set(range(len(base)))
    assert {int(l) for _, l in _rows(b2n / "test.csv")} <= set(range(len(novel)))
    for folder in ("train", "val"):
        cached = json.loads((root / "cache" / "kinetics400" / f"{folder}.txt").read_text())
        assert cached and all((root / "videos" / folder / c).is_file() for c in cached)
    # every file decodes: H.264 video and an AAC track as long as the video
    path = root / "videos" / _rows(root / "lists" / "train.csv")[0][0]
    with VideoReader(path) as reader:
        info = reader.info
        assert info.codec == "h264" and info.has_audio and info.width == 44 and info.height == 32
        assert reader.get_frames([0, info.num_frames - 1]).shape == (2, 32, 44, 3)
    wave, rate = read_audio(path)
    assert rate == ds.meta["audio_rate"] and abs(wave.shape[1] / rate - info.duration) < 0.1


def test_ucf_and_hmdb_split_files(built):
    ucf = built("ucf101").root
    classes = [line.split() for line in (ucf / "ucfTrainTestlist/classInd.txt").read_text().splitlines()]
    assert [int(i) for i, _ in classes] == [1, 2, 3]
    for k in (1, 2, 3):
        train = [line.split() for line in (ucf / f"ucfTrainTestlist/trainlist0{k}.txt").read_text().splitlines()]
        test = (ucf / f"ucfTrainTestlist/testlist0{k}.txt").read_text().split()
        assert all((ucf / "UCF-101" / p).is_file() for p, _ in train) and all(
            (ucf / "UCF-101" / p).is_file() for p in test
        )
        assert all(classes[int(i) - 1][1] == p.split("/")[0] for p, i in train)
        assert not {p for p, _ in train} & set(test)
    hmdb = built("hmdb51").root
    split_files = sorted((hmdb / "testTrainMulti_7030_splits").iterdir())
    assert len(split_files) == 3 * 3
    for f in split_files:
        cls = re.fullmatch(r"(.+)_test_split[123]\.txt", f.name).group(1)
        for line in f.read_text().splitlines():
            name, sid = line.split()
            assert sid in {"0", "1", "2"} and (hmdb / "HMDB-51" / cls / name).is_file()
    rows = _rows(hmdb / "B2N_hmdb" / "train.csv")
    with VideoReader(hmdb / "HMDB-51" / rows[0][0]) as reader:
        assert not reader.info.has_audio and reader.info.num_frames >= 10


def test_resnet3d_and_activitynet_frames(built):
    ds = built("resnet3d-jpg")
    ann = json.loads((ds.root / "ucf101_01.json").read_text())
    assert ann["labels"] == [class_name(c, "camel") for c in range(3)]
    for key, entry in ann["database"].items():
        assert entry["subset"] in ("training", "validation")
        folder = ds.root / "jpg" / entry["annotations"]["label"] / key
        assert (folder / "n_frames").read_text() == str(read_n_frames(folder))  # no trailing newline
        assert read_n_frames(folder) == count_frames(folder, "image_{:05d}.jpg")
        assert FrameFolder(folder).get_frames([0, read_n_frames(folder) - 1]).shape == (2, 32, 44, 3)
    anet = built("activitynet-jpg")
    doc = json.loads((anet.root / "activity_net.v1-3.min.json").read_text())
    parents = {n["parentId"] for n in doc["taxonomy"]}
    leaves = [n["nodeName"] for n in doc["taxonomy"] if n["nodeId"] not in parents]
    assert len(leaves) == 3
    for key, entry in doc["database"].items():
        folder = anet.root / "jpg" / f"v_{key}"
        fps = float((folder / "fps").read_text())
        n = count_frames(folder, "image_{:05d}.jpg")
        assert entry["duration"] == pytest.approx(n / fps, abs=0.01)
        for seg in entry["annotations"]:
            assert seg["label"] in leaves and 0 <= seg["segment"][0] < seg["segment"][1] <= entry["duration"]
        if entry["subset"] == "testing":
            assert entry["annotations"] == []


@pytest.mark.parametrize("fmt,template", [("sthv2", "img_{:05d}.jpg"), ("sthv1", "{:05d}.jpg")])
def test_something_lists_match_folders(built, fmt, template):
    ds = built(fmt)
    for split in ("train", "val", "test"):
        for line in (ds.root / "lists" / f"{split}_rgb.txt").read_text().splitlines():
            vid, n, label = line.split()
            folder = FrameFolder(ds.root / "frames" / vid)
            assert folder.template == template and len(folder) == int(n)
            assert 0 <= int(label) < 3 and (split != "test" or label == "0")
    labels = list(csv.reader((ds.root / "lists" / "sth_labels.csv").read_text().splitlines()))
    assert labels[0] == ["id", "name"] and len(labels) == 4
    assert ds.meta["flip_pairs"] == [[0, 1]]
    assert class_attributes(0)[1] == "right" and class_attributes(1)[1] == "left"


def test_audio_formats(built):
    aud = built("audioset")
    lines = (aud.root / "balanced_train_segments.csv").read_text().splitlines()
    assert lines[2] == "# YTID, start_seconds, end_seconds, positive_labels"
    ytid, start, end, label = [x.strip() for x in lines[3].split(",", 3)]
    path = aud.root / "videos" / f"{ytid}_{int(float(start))}.mp4"
    wave, rate = read_audio(path, mono=True)
    assert wave.shape[0] == 1 and abs(wave.shape[1] / rate - (float(end) - float(start))) < 0.1
    esc = built("esc50")
    rows = list(csv.DictReader((esc.root / "meta/esc50.csv").read_text().splitlines()))
    assert len(rows) == 9
    for row in rows:
        fold, _, _, target = row["filename"][:-4].split("-")
        assert fold == row["fold"] and target == row["target"]  # label = integer after the last '-'
        info = sf.info(esc.root / "audio" / row["filename"])
        assert info.samplerate == 16000 and info.channels == 1 and info.subtype == "PCM_16"


def test_videos_carry_a_learnable_signal(built):
    """Nearest class-mean on colour statistics of decoded clips beats chance on held-out videos."""
    ds = built("kinetics")

    def features(split):
        x, y = [], []
        for p, label in _rows(ds.root / "lists" / f"{split}.csv"):
            with VideoReader(ds.root / "videos" / p) as reader:
                frames = reader.get_frames(np.arange(0, len(reader), 3), layout="tchw")
            bright = frames.amax(dim=(0, 2, 3))  # the square is the most saturated colour in view
            x.append(torch.cat([bright, frames.mean(dim=(0, 2, 3))]))
            y.append(int(label))
        return torch.stack(x), torch.tensor(y)

    xtr, ytr = features("train")
    xva, yva = features("val")
    centres = torch.stack([xtr[ytr == c].mean(0) for c in range(3)])
    pred = torch.cdist(xva, centres).argmin(1)
    assert (pred == yva).float().mean() > 0.8  # chance is 1/3


def test_family_modules_register_their_formats_and_clashes_are_refused():
    import videokd.data.synthetic as synthetic  # noqa: PLC0415
    from videokd.data.synthetic import register_format  # noqa: PLC0415

    # the family modules registered their builders on import, in the historical order
    assert list(FORMATS)[:3] == ["tvr", "activitynet-prvr", "charades-prvr"]
    assert FORMATS["tvr"].__module__ == "videokd.data.synthetic.prvr"
    assert FORMATS["esc50"].__module__ == "videokd.data.synthetic.audio"
    with pytest.raises(ValueError, match="already registered"):
        register_format("tvr", lambda out_dir, **kw: None)

    @register_format("test-only-format")
    def build(out_dir, **kwargs):
        """A format added by a test."""
        return synthetic.SyntheticDataset(Path(out_dir), "test-only-format")

    try:
        assert make_dataset("test-only-format", "/tmp/never").format == "test-only-format"
        with pytest.raises(ValueError, match="docstring"):
            register_format("undocumented", lambda out_dir, **kw: None)
    finally:
        del FORMATS["test-only-format"]
