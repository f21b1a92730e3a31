"""The YAML schema: lineage names and defaults, unknown keys, lineage flags, shipped configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kd2d3d.main import parse
from kd2d3d.opts import LINEAGE_DEFAULTS, expand_root, lineage_argv_to_overrides, load_options, resolve
from videokd.config import ConfigError

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_every_lineage_option_with_its_default():
    cfg = load_options()
    assert {k: cfg[k] for k in LINEAGE_DEFAULTS if k != "root_path"} == {
        k: v for k, v in LINEAGE_DEFAULTS.items() if k != "root_path"
    }
    assert cfg["dampening"] == 0.9 and cfg["weight_decay"] == 1e-3 and cfg["n_val_samples"] == 3


def test_unknown_key_names_the_nearest():
    with pytest.raises(ConfigError, match="sample_size"):
        load_options(overrides=["sample_sise=64"])
    with pytest.raises(ConfigError, match="kd.alpha"):
        load_options(overrides=["kd.alpah=0.1"])
    with pytest.raises(ConfigError, match="kd.type"):
        load_options(overrides=["kd.type=hinton"])


def test_lineage_flags_translate():
    assert lineage_argv_to_overrides(["--sample_size", "96", "--nesterov"]) == ["sample_size=96", "nesterov=true"]
    cfg = parse(["n_epochs=3", "--batch_size", "16", "--std_norm", "kd.alpha=0.2"])
    assert (cfg["n_epochs"], cfg["batch_size"], cfg["std_norm"], cfg["kd"]["alpha"]) == (3, 16, True, 0.2)


def test_root_path_comes_from_videokd_data(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDEOKD_DATA", str(tmp_path))
    opts = resolve(load_options(overrides=["video_path=jpg"]))
    assert opts["video_path"] == str(tmp_path / "jpg")
    monkeypatch.delenv("VIDEOKD_DATA")
    assert expand_root("${VIDEOKD_DATA}").endswith("data")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_shipped_configs_load(path):
    cfg = load_options(path)
    assert resolve(cfg)["arch"].startswith(cfg["model"])
    if path.stem.endswith("_kd"):
        assert cfg["kd"]["type"] != "none" and cfg["teacher"]["weights"]
