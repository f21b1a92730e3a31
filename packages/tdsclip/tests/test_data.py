"""Datasets on real synthetic files: shapes of the train / val / test views, flips, broken inputs."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from tdsclip.data import DataListError, TDSDataset, read_list
from videokd.data.collate import repeated_augmentation_collate
from videokd.data.synthetic import make_dataset


@pytest.fixture(scope="module")
def sth(tmp_path_factory):
    root = tmp_path_factory.mktemp("sth")
    make_dataset("sthv1", root, classes=4, videos_per_class=3, frames=20, size=40, seed=0)
    return root


def _ds(root, mode, **kw):
    recs = read_list(root / "lists" / ("train_rgb.txt" if mode == "train" else "val_rgb.txt"), modality="RGB")
    args = dict(dataset="somethingv1", modality="RGB", mode=mode, num_segments=3, input_size=16,
                image_tmpl="{:05d}.jpg", scale_size=[20, 24], num_sample=2, rand_aug=True)  # fmt: skip
    args.update(kw)
    return TDSDataset(recs, root / "frames", **args)


def test_train_items_are_repeated_augmentations_of_the_same_frames(sth):
    ds = _ds(sth, "train")
    np.random.seed(0)
    random.seed(0)
    item = ds[0]
    assert len(item) == 2 and all(v["video"].shape == (3 * 5 * 3, 16, 16) for v in item)
    batch = repeated_augmentation_collate([ds[0], ds[1]])
    assert batch["video"].shape == (4, 45, 16, 16) and batch["label"].shape == (4,)


def test_val_and_test_views(sth):
    val = _ds(sth, "val")
    v = val[0]
    assert v["video"].shape == (45, 16, 16) and isinstance(v["label"], int)
    test = _ds(sth, "test", test_crops=3, test_clips=2)
    t = test[0]
    assert test.views == 6 and t["video"].shape == (6, 45, 16, 16)
    # view order is crop-major: views 0 and 1 are the same crop of two clips
    ten = _ds(sth, "test", test_crops=10, test_clips=1)[0]["video"]
    assert torch.allclose(ten[1], ten[0].flip(-1))  # the 10-crop protocol mirrors every crop


def test_flip_swaps_the_configured_pairs(sth):
    ds = _ds(sth, "train", rand_aug=False, num_sample=1, flip_pairs=[[0, 1]])
    idx = next(i for i, r in enumerate(ds.records) if r.label == 0)
    labels = set()
    for seed in range(20):
        random.seed(seed)
        labels.add(ds[idx][0]["label"])
    assert labels == {0, 1}


def test_a_missing_frame_is_an_error_naming_the_file(sth, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(sth, root)
    rec = read_list(root / "lists" / "val_rgb.txt", modality="RGB")[0]
    (root / "frames" / rec.path / "00002.jpg").unlink()
    ds = _ds(root, "val")
    with pytest.raises(FileNotFoundError, match="00002.jpg|00003.jpg|000"):
        for i in range(len(ds)):
            ds[i]


def test_a_bad_list_line_names_file_and_line(tmp_path):
    f = tmp_path / "list.txt"
    f.write_text("a 20 1\nb twenty 2\n")
    with pytest.raises(DataListError, match=r"list.txt:2"):
        read_list(f, modality="RGB")


def test_dense_test_clips_and_a_single_dense_clip(sth):
    # --dense with one clip: the original divided by zero; here the clip starts at frame 0
    one = _ds(sth, "test", test_crops=1, test_clips=1, dense=True)[0]["video"]
    two = _ds(sth, "test", test_crops=1, test_clips=2, dense=True)[0]["video"]
    assert one.shape == (1, 45, 16, 16) and two.shape == (2, 45, 16, 16)


@pytest.mark.parametrize("dataset", ["somethingv2", "k400"])
def test_training_frames_stay_inside_their_segments(dataset):
    ds = TDSDataset([], ".", dataset=dataset, modality="RGB", mode="train", num_segments=4, input_size=16)
    random.seed(0)
    np.random.seed(0)
    for n in (3, 4, 9, 10, 37):
        draws = np.stack([ds.train_centres(n) for _ in range(300)])
        assert draws.min() >= 0 and draws.max() <= n - 1
        if n > 4:
            assert (np.diff(draws, axis=1) >= 0).all()  # one frame per segment, in order
