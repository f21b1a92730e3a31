"""Repeated-augmentation collate: every copy of every video, video-major, as default_collate stacks them."""

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from videokd.data.collate import repeated_augmentation_collate


class TwoCopies(Dataset):
    def __len__(self):
        return 3

    def __getitem__(self, i):
        return [{"video": torch.full((2, 2), float(10 * i + k)), "label": i} for k in range(2)]


def test_flattens_copies_video_major():
    batch = next(iter(DataLoader(TwoCopies(), batch_size=3, collate_fn=repeated_augmentation_collate)))
    assert batch["video"].shape == (6, 2, 2)
    assert batch["video"][:, 0, 0].tolist() == [0.0, 1.0, 10.0, 11.0, 20.0, 21.0]
    assert batch["label"].tolist() == [0, 0, 1, 1, 2, 2]


def test_tuples_and_single_copy_equal_default_collate():
    items = [[(torch.tensor([1.0]), 3)], [(torch.tensor([2.0]), 4)]]
    video, label = repeated_augmentation_collate(items)
    assert video.tolist() == [[1.0], [2.0]] and label.tolist() == [3, 4]


def test_rejects_an_item_that_is_not_a_list_of_samples():
    with pytest.raises(TypeError, match="item 0"):
        repeated_augmentation_collate([{"video": torch.zeros(1)}])
