"""Config checking: the original keys, typos, and the keys the original silently ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from tdsclip import config as C

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_loads(path):
    cfg = C.load_run_config(path)
    assert cfg.data.num_diff == 5 and cfg.network.n_emb == cfg.network.side_dim


def test_the_six_original_configs_keep_their_values():
    b16 = C.load_run_config(CONFIGS[0].parent.parent / "sthv1" / "sthv1_train_rgb_vitb-16-side4video.yaml")
    assert (b16.solver.epochs, b16.solver.lr, b16.data.num_sample, b16.logging.skip_epoch) == (
        40,
        1e-3,
        2,
        list(range(1, 20)),
    )
    k400 = C.load_run_config(CONFIGS[0].parent.parent / "k400" / "k400_train_rgb_vitl-14-side4video.yaml")
    assert (k400.data.modality, k400.data.num_classes, k400.network.side_dim, k400.solver.lr) == (
        "video",
        400,
        512,
        1e-4,
    )
    assert len([p for p in CONFIGS if p.name.endswith("-side4video.yaml")]) == 6


def _tiny():
    return next(p for p in CONFIGS if p.name == "sthv1_tiny.yaml")


@pytest.mark.parametrize(
    "override, message",
    [
        ("solver.epoch=3", "solver.epochs"),
        ("solver.mixup=True", "5-frame"),
        ("data.num_diff=3", "exactly 5"),
        ("data.seg_length=2", "data.seg_length"),
        ("network.n_emb=64", "network.n_emb"),
        ("solver.optim=sgd", "AdamW"),
        ("data.flip_pairs=[[0,9]]", "data.flip_pairs"),
    ],
)
def test_bad_values_are_rejected_with_a_message(override, message):
    with pytest.raises(C.ConfigError, match=message):
        C.load_run_config(_tiny(), [override])


def test_label_list_must_match_num_classes(tmp_path):
    cfg = C.load_run_config(_tiny(), ["data.num_classes=400"])
    (tmp_path / "sthv1" / "lists").mkdir(parents=True)
    (tmp_path / "sthv1" / "lists" / "sth_labels.csv").write_text(
        "id,name\n" + "".join(f"{i},c{i}\n" for i in range(174))
    )
    with pytest.raises(C.ConfigError, match="174 classes but data.num_classes is 400"):
        C.check_label_list(cfg, tmp_path)
