"""videokd.config: YAML loading, typed overrides, unknown-key errors, YAML dump."""

import pytest
import yaml

from videokd.config import Config, ConfigError, apply_overrides, load_config, parse_overrides, save_yaml, to_yaml

DEFAULTS = {
    "SOLVER": {"BASE_LR": 0.1, "MAX_EPOCH": 10, "STEPS": [0, 5], "OPTIMIZING_METHOD": "sgd"},
    "DATA": {"NUM_FRAMES": 8, "MEAN": [0.45, 0.45, 0.45], "PATH_TO_DATA_DIR": "", "CROP": {"SIZE": 224}},
    "TRAIN": {"ENABLE": True},
    "NUM_GPUS": 1,
    "OUTPUT_DIR": None,
}


def write(tmp_path, text, name="cfg.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_yaml_file_updates_defaults_and_keeps_the_rest(tmp_path):
    path = write(tmp_path, "SOLVER:\n  BASE_LR: 0.01\nDATA:\n  CROP:\n    SIZE: 112\n")
    cfg = load_config(path, defaults=DEFAULTS)
    assert cfg.SOLVER.BASE_LR == 0.01
    assert cfg.DATA.CROP.SIZE == 112
    assert cfg.SOLVER.MAX_EPOCH == 10 and cfg.TRAIN.ENABLE is True
    assert DEFAULTS["SOLVER"]["BASE_LR"] == 0.1, "defaults must not be mutated"


def test_overrides_in_both_styles():
    pairs = parse_overrides(
        ["SOLVER.BASE_LR=0.5", "NUM_GPUS", "4", "DATA.MEAN=[0.1, 0.2, 0.3]", "TRAIN.ENABLE", "False"]
    )
    assert pairs == [("SOLVER.BASE_LR", 0.5), ("NUM_GPUS", 4), ("DATA.MEAN", [0.1, 0.2, 0.3]), ("TRAIN.ENABLE", False)]
    cfg = load_config(defaults=DEFAULTS, overrides=["SOLVER.BASE_LR=0.5", "NUM_GPUS", "4", "OUTPUT_DIR=runs/x"])
    assert cfg.SOLVER.BASE_LR == 0.5 and cfg.NUM_GPUS == 4 and cfg.OUTPUT_DIR == "runs/x"


def test_int_widens_to_float_and_yaml_exponent_string_reads_as_float(tmp_path):
    cfg = load_config(write(tmp_path, "SOLVER:\n  BASE_LR: 1e-3\n"), defaults=DEFAULTS, overrides=["SOLVER.BASE_LR=1"])
    assert cfg.SOLVER.BASE_LR == 1.0 and isinstance(cfg.SOLVER.BASE_LR, float)
    cfg = load_config(write(tmp_path, "SOLVER:\n  BASE_LR: 1e-3\n", "b.yaml"), defaults=DEFAULTS)
    assert cfg.SOLVER.BASE_LR == pytest.approx(1e-3)


def test_unknown_key_in_file_names_key_file_and_nearest(tmp_path):
    path = write(tmp_path, "SOLVER:\n  BASE_LRR: 0.01\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, defaults=DEFAULTS)
    msg = str(err.value)
    assert "SOLVER.BASE_LRR" in msg and "SOLVER.BASE_LR" in msg and str(path) in msg


def test_unknown_override_names_nearest_valid_keys():
    with pytest.raises(ConfigError, match=r"unknown config key 'DATA.NUM_FRAME'.*'DATA.NUM_FRAMES'"):
        load_config(defaults=DEFAULTS, overrides=["DATA.NUM_FRAME=16"])
    with pytest.raises(ConfigError, match="'SOLVR' is not a section"):
        load_config(defaults=DEFAULTS, overrides=["SOLVR.BASE_LR=1"])


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("SOLVER.MAX_EPOCH=1.5", "expects int"),
        ("SOLVER.BASE_LR=fast", "expects float"),
        ("TRAIN.ENABLE=1", "expects bool"),
        ("DATA.PATH_TO_DATA_DIR=3", "expects str"),
        ("DATA.MEAN=0.5", "expects list"),
        ("DATA.MEAN=[0.1, x]", r"DATA.MEAN\[1\]"),
        ("DATA.CROP=5", "is a section"),
    ],
)
def test_type_errors_name_key_and_expected_type(override, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_config(defaults=DEFAULTS, overrides=[override])


def test_override_without_value_is_an_error():
    with pytest.raises(ConfigError, match="has no value"):
        parse_overrides(["SOLVER.BASE_LR"])


def test_missing_file_and_non_mapping_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml", defaults=DEFAULTS)
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write(tmp_path, "- 1\n- 2\n"), defaults=DEFAULTS)
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "a: [1, 2\n", "bad.yaml"), defaults=DEFAULTS)


def test_dump_round_trips(tmp_path):
    cfg = load_config(defaults=DEFAULTS, overrides=["SOLVER.STEPS=[0, 3, 7]", "DATA.CROP.SIZE=160"])
    out = tmp_path / "out" / "effective.yaml"
    save_yaml(cfg, out)
    again = load_config(out, defaults=DEFAULTS)
    assert again == cfg
    assert yaml.safe_load(to_yaml(cfg))["SOLVER"]["STEPS"] == [0, 3, 7]
    assert isinstance(cfg.to_dict()["SOLVER"], dict) and not isinstance(cfg.to_dict()["SOLVER"], Config)


def test_file_defines_keys_without_defaults(tmp_path):
    cfg = load_config(write(tmp_path, "a:\n  b: 2\n"), overrides=["a.b=3"])
    assert cfg.a.b == 3
    with pytest.raises(ConfigError, match="unknown config key 'a.c'"):
        apply_overrides(cfg, ["a.c=1"])


def test_attribute_access_error_lists_keys():
    cfg = Config(DEFAULTS)
    with pytest.raises(AttributeError, match="NUM_GPUS"):
        _ = cfg.NUM_GPU
