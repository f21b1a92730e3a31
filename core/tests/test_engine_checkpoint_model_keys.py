"""Trainer(checkpoint_model_keys=...): training checkpoints without a frozen backbone, and exact resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from videokd import engine


class Data(torch.utils.data.Dataset):
    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.x, self.y = torch.randn(16, 5, generator=g), torch.randint(0, 3, (16,), generator=g)

    def __len__(self) -> int:
        return 16

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


def _trainer(out: Path, epochs: int, keys=lambda k: not k.startswith("backbone.")) -> engine.Trainer:
    torch.manual_seed(0)
    model = nn.Module()
    model.backbone = nn.Linear(5, 8).requires_grad_(False)  # "pretrained", frozen
    model.head = nn.Linear(8, 3)
    model.forward = lambda x: model.head(torch.tanh(model.backbone(x)))  # type: ignore[method-assign]
    opt = torch.optim.AdamW(model.head.parameters(), lr=0.05)
    loader = engine.build_train_loader(Data(), batch_size=4, seed=1)

    def step_fn(m, batch):
        x, y = batch
        return F.cross_entropy(m(x), y)

    cfg = engine.TrainConfig(epochs=epochs, out_dir=str(out), progress=False, tensorboard=False)
    return engine.Trainer(model, opt, loader, step_fn, config=cfg, checkpoint_model_keys=keys)


def test_checkpoint_leaves_out_the_frozen_keys_and_resumes_exactly(tmp_path: Path) -> None:
    ref = _trainer(tmp_path / "ref", epochs=3)
    ref.fit()
    first = _trainer(tmp_path / "run", epochs=1)
    first.fit()
    state = engine.load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert sorted(state["model"]) == ["head.bias", "head.weight"]
    second = _trainer(tmp_path / "run", epochs=3)  # resumes from epoch 1
    second.fit()
    assert second.step == ref.step
    for a, b in zip(ref.raw_model.head.parameters(), second.raw_model.head.parameters()):
        assert torch.equal(a, b)


def test_resume_refuses_a_checkpoint_with_other_keys(tmp_path: Path) -> None:
    _trainer(tmp_path / "run", epochs=1, keys=lambda k: True).fit()
    with pytest.raises(engine.CheckpointError, match="checkpoint_model_keys"):
        _trainer(tmp_path / "run", epochs=2).fit()
