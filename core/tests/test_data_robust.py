"""Robustness rules: corrupt / truncated / empty / missing files, and lazy per-worker HDF5 handles."""

from __future__ import annotations

import logging
import pickle
import shutil

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from videokd.data.frames import FrameFolder
from videokd.data.hdf5 import LazyHDF5
from videokd.data.robust import FailedSample, FailureReport, RobustDataset, TooManyFailures, collate_skip_failed
from videokd.data.samplers import tsn_val_indices
from videokd.data.synthetic import make_dataset
from videokd.data.video import VideoReader


class ClipDataset(Dataset):
    """A minimal video dataset: 4 frames per clip, decoded with PyAV."""

    def __init__(self, paths, labels):
        self.paths, self.labels = list(paths), list(labels)

    def __len__(self):
        return len(self.paths)

    def sample_path(self, index):
        return self.paths[index]

    def __getitem__(self, index):
        with VideoReader(self.paths[index]) as reader:
            frames = reader.get_frames(tsn_val_indices(len(reader), 4), layout="tchw")
        return frames, self.labels[index]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("robust")
    ds = make_dataset("ucf101", root / "ucf", classes=2, videos_per_class=5, frames=12, size=32)
    good = sorted((ds.root / "UCF-101").rglob("*.avi"))
    bad_dir = root / "bad"
    bad_dir.mkdir()
    truncated = bad_dir / "truncated.avi"
    truncated.write_bytes(good[0].read_bytes()[: good[0].stat().st_size // 3])
    empty = bad_dir / "empty.avi"
    empty.touch()
    junk = bad_dir / "junk.avi"
    junk.write_bytes(b"RIFF....AVI " + bytes(range(256)) * 8)
    missing = bad_dir / "missing.avi"
    return good, [truncated, empty, junk, missing]


def _dataset(good, bad):
    paths = [*good, *bad]
    return ClipDataset(paths, list(range(len(paths))))


def test_each_kind_of_bad_file_raises_a_named_error(videos):
    good, bad = videos
    ds = _dataset(good, bad)
    assert ds[0][0].shape == (4, 3, 32, 44)
    for i, path in enumerate(bad, start=len(good)):
        with pytest.raises(Exception) as info:
            ds[i]
        assert path.name in str(info.value), (path, info.value)


def test_training_skips_and_counts(videos, caplog):
    good, bad = videos
    robust = RobustDataset(_dataset(good, bad), train=True, max_failure_rate=0.5, seed=0)
    caplog.set_level(logging.WARNING, logger="videokd.data.robust")
    labels = []
    for i in range(len(robust)):
        frames, label = robust[i]
        assert frames.shape == (4, 3, 32, 44)
        labels.append(label)
    # every item came back, the bad ones replaced by readable samples
    assert all(label < len(good) for label in labels[len(good) :])
    assert robust.failure_count >= len(bad)
    assert {p.split("/")[-1] for p in robust.failures} == {p.name for p in bad}
    logged = caplog.text
    assert "another sample drawn" in logged and "missing.avi" in logged and "failure(s) so far" in logged


def test_training_stops_when_too_many_fail(videos):
    good, bad = videos
    robust = RobustDataset(_dataset(good[:1], bad), train=True, max_failure_rate=0.2, min_attempts=5, seed=0)
    with pytest.raises(TooManyFailures, match=r"unreadable files:(.|\n)*\.avi"):
        for i in range(len(robust)):
            robust[i]
    only_bad = RobustDataset(_dataset([], bad), train=True, max_failure_rate=1.0, max_retries=6, seed=0)
    with pytest.raises(TooManyFailures, match="6 consecutive samples failed"):
        only_bad[0]


def test_code_errors_are_not_swallowed(videos):
    class Buggy(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            raise KeyError("a bug, not a bad file")

    with pytest.raises(KeyError, match="a bug"):
        RobustDataset(Buggy(), train=True)[0]


@pytest.mark.parametrize("workers", [0, 2])
def test_evaluation_reports_by_name_never_replaces(videos, workers):
    good, bad = videos
    robust = RobustDataset(_dataset(good, bad), train=False, max_failure_rate=0.5)
    loader = DataLoader(robust, batch_size=4, num_workers=workers, collate_fn=collate_skip_failed)
    report = FailureReport(total=len(robust), max_failure_rate=0.5)
    seen = []
    for batch, failed in loader:
        report.extend(failed)
        if batch is not None:
            seen.extend(batch[1].tolist())
    # exactly the readable videos were evaluated, each once, and the others are named
    assert sorted(seen) == list(range(len(good)))
    assert report.count == len(bad)
    assert {f.path.split("/")[-1] for f in report.failed} == {p.name for p in bad}
    assert all(isinstance(f, FailedSample) and f.error for f in report.failed)
    report.check()  # 4 of 14 < 50 %
    assert report.as_dict()["failed"] == len(bad)
    strict = FailureReport(total=len(robust), max_failure_rate=0.1, failed=list(report.failed))
    with pytest.raises(TooManyFailures, match=r"4 of 14 evaluation samples could not be read(.|\n)*empty.avi"):
        strict.check()


def test_corrupt_frame_folder_in_training(tmp_path):
    ds = make_dataset("sthv2", tmp_path, classes=2, videos_per_class=3, frames=8, size=32)
    folders = sorted((ds.root / "frames").iterdir())
    (folders[0] / "img_00003.jpg").write_bytes(b"")
    shutil.rmtree(folders[1])

    class Frames(Dataset):
        def __len__(self):
            return len(folders)

        def __getitem__(self, i):
            return FrameFolder(folders[i]).get_frames(range(4), layout="tchw")

    robust = RobustDataset(Frames(), train=True, max_failure_rate=0.5, seed=1)
    out = [robust[i] for i in range(len(robust))]
    assert all(x.shape == (4, 3, 32, 44) for x in out)
    assert any("img_00003.jpg" in p for p in robust.failures)
    assert any(folders[1].name in p for p in robust.failures)


class H5Dataset(Dataset):
    def __init__(self, path):
        self.store = LazyHDF5(path)  # created before the workers fork: must not hold a handle

    def __len__(self):
        return 6

    def __getitem__(self, i):
        return torch.from_numpy(self.store[f"v{i}"]), self.store.file.id.id


def test_lazy_hdf5_opens_per_worker(tmp_path):
    path = tmp_path / "f.hdf5"
    with h5py.File(path, "w") as f:
        for i in range(6):
            f.create_dataset(f"v{i}", data=np.full((2, 3), i, np.float32))
        f.create_dataset("a#1", data=np.zeros(1, np.float32))
    ds = H5Dataset(path)
    assert ds.store._file is None  # nothing opened yet
    state = pickle.loads(pickle.dumps(ds.store))
    assert state._file is None
    loader = DataLoader(ds, batch_size=1, num_workers=2)
    values = sorted(int(x[0, 0, 0]) for x, _ in loader)
    assert values == list(range(6))
    assert ds.store._file is None  # the main process never opened it
    assert ds.store.shape("v1") == (2, 3) and "v2" in ds.store and len(ds.store) == 7
    assert ds.store.get("a#enc#1", "a#1").shape == (1,)  # DL-DKD++ key fallback
    with pytest.raises(KeyError, match=r"f.hdf5: no dataset 'nope'"):
        ds.store["nope"]
    with pytest.raises(FileNotFoundError, match="missing.hdf5"):
        LazyHDF5(tmp_path / "missing.hdf5")
    ds.store.close()


def test_truncated_mp4_with_intact_index_counts_as_a_failure(tmp_path, videos, caplog):
    """A cut mp4 whose moov atom is at the front opens and would read as a shorter video: the reader
    rejects it, and the robust wrapper counts it like any other unreadable file."""
    import av  # noqa: PLC0415

    good, _ = videos
    cut = tmp_path / "cut.mp4"
    with av.open(str(cut), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(40):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])

    evaluation = RobustDataset(_dataset(good, [cut]), train=False)
    failed = evaluation[len(good)]
    assert isinstance(failed, FailedSample) and failed.path == str(cut)
    assert "VideoDecodeError" in failed.error and "truncated or corrupt" in failed.error
    assert evaluation.failure_count == 1

    training = RobustDataset(_dataset(good, [cut]), train=True, max_failure_rate=0.5, seed=0)
    caplog.set_level(logging.WARNING, logger="videokd.data.robust")
    frames, label = training[len(good)]
    assert frames.shape == (4, 3, 32, 44) and label < len(good)  # replaced by a readable sample
    assert training.failure_count == 1 and list(training.failures) == [str(cut)]
    assert "cut.mp4" in caplog.text and "frames decodable" in caplog.text
