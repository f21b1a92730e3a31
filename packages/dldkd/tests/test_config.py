"""Options: the original flags and defaults, the boolean fix, unknown flags, opt.json, test merging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dldkd.config import (
    OptionError,
    build_parser,
    parse_test_options,
    parse_train_options,
    resolve_device,
    save_options,
)

DATA = ["--root_path", "/data", "--collection", "tvr", "--visual_feature", "i3d_resnet"]


def test_defaults_are_the_originals() -> None:
    opt = parse_train_options(DATA)
    expected = dict(
        lr=2.5e-4,
        bsz=128,
        n_epoch=100,
        seed=2018,
        margin=0.2,
        hard_pool_size=20,
        max_ctx_l=128,
        max_desc_l=30,
        q_feat_size=1024,
        n_heads=4,
        drop=0.1,
        input_drop=0.1,
        lr_warmup_proportion=0.01,
        max_es_cnt=10,
        eval_query_bsz=50,
        eval_context_bsz=200,
        decay_way=0,
        loss_scale_weight=0.1,
        loss_init_weight=0.1,
        exponential_k=0.95,
        linear_k=-0.01,
        linear_b=1.0,
        sigmoid_k=800.0,
        label_style="hard",
        double_branch=False,
        use_clip=False,
        clip_scale_w=0.7,
        frame_scale_w=0.3,
        A_hidden_size=384,
        B_hidden_size=384,
        inher_nce_weight=0.04,
        explore_nce_weight=0.04,
    )
    for key, value in expected.items():
        assert getattr(opt, key) == value, key
    assert opt.dset_name == "tvr"
    assert opt.results_root == str(Path("/data/tvr/results"))
    assert Path(opt.results_dir).parent == Path("/data/tvr/results")
    assert Path(opt.ckpt_filepath).name == "model.ckpt"


@pytest.mark.parametrize(
    "value, expected",
    [("true", True), ("True", True), ("1", True), ("False", False), ("false", False), ("0", False), ("no", False)],
)
def test_boolean_flags_take_values(value: str, expected: bool) -> None:
    # the original's type=bool made "False" True
    opt = parse_train_options(DATA + ["--use_clip", value, "--double_branch", value, "--use_sub", value])
    assert opt.use_clip is expected and opt.double_branch is expected and opt.use_sub is expected


def test_bare_boolean_flag_is_true_and_garbage_is_an_error(capsys: pytest.CaptureFixture) -> None:
    assert parse_train_options(DATA + ["--double_branch"]).double_branch is True
    with pytest.raises(SystemExit):
        parse_train_options(DATA + ["--use_clip", "maybe"])
    assert "expected a boolean" in capsys.readouterr().err


def test_unknown_flag_names_it_and_suggests(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        parse_train_options(DATA + ["--marginn", "0.1"])
    err = capsys.readouterr().err
    assert "--marginn" in err and "--margin" in err


def test_paper_script_flags_parse() -> None:
    flags = (
        "--collection tvr --visual_feature i3d_resnet --root_path /d --dset_name tvr --q_feat_size 768 "
        "--model_name DLDKD --margin 0.1 --device_ids 0 --B_hidden_size 384 --A_hidden_size 384 --n_heads 4 "
        "--frame_weight 0.5 --clip_weight 0.5 --use_clip true --double_branch true --hard_negative_start_epoch 0 "
        "--loss_init_weight 0.1 --decay_way 1 --linear_k -0.01 --sigmoid_k 800 --linear_b 1 --exponential_k 0.95 "
        "--loss_scale_weight 0.1"
    ).split()
    opt = parse_train_options(flags)
    # the ICCV run id, as spec section 1.4 gives it for do_tvr.sh
    assert opt.exp_id == "double_kl_exponential_decay_k0.95_loss_scale_weight0.1"
    assert Path(opt.results_dir).name.startswith("tvr-double_kl_exponential_decay_k0.95_loss_scale_weight0.1-")
    # the DL-DKD++ flags parse too and exp_id is honoured
    pp = parse_train_options(
        DATA
        + [
            "--exp_id",
            "tvr_DLDKD++",
            "--double_branch",
            "--label_style",
            "soft",
            "--distill_loss_decay",
            "exp",
            "--inheritance_hidden",
            "256",
        ]
    )
    assert Path(pp.results_dir).name.startswith("tvr-tvr_DLDKD++-")
    assert pp.B_hidden_size == 256 and pp.inheritance_hidden == 256


def test_student_other_than_i3d_is_a_clear_error() -> None:
    with pytest.raises(OptionError, match="only 'i3d'"):
        parse_train_options(DATA + ["--student", "clip"])


def test_device_resolution() -> None:
    assert str(resolve_device("cpu")) == "cpu" and str(resolve_device(-1)) == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")


def test_opt_json_round_trip_and_test_merge(tmp_path: Path) -> None:
    opt = parse_train_options(
        [
            "--root_path",
            str(tmp_path),
            "--collection",
            "tvr",
            "--visual_feature",
            "i3d_resnet",
            "--margin",
            "0.1",
            "--n_heads",
            "8",
            "--device",
            "cuda:3",
            "--q_feat_size",
            "768",
        ]
    )
    save_options(opt, Path(opt.results_dir) / "opt.json")
    saved = json.loads((Path(opt.results_dir) / "opt.json").read_text())
    assert saved["margin"] == 0.1 and saved["results_dir"] == opt.results_dir
    assert list(saved) == sorted(saved)  # sorted keys, like the original
    run = Path(opt.results_dir).name
    # by name under <root>/<collection>/results; saved options win, device comes from the command line
    test = parse_test_options(
        ["--root_path", str(tmp_path), "--collection", "tvr", "--model_dir", run, "--device", "cpu"]
    )
    assert test.n_heads == 8 and test.q_feat_size == 768 and test.device == "cpu"
    assert test.visual_feature == "i3d_resnet" and Path(test.model_dir) == Path(opt.results_dir).resolve()
    # a moved / renamed run dir evaluates from where it is
    moved = tmp_path / "elsewhere" / "renamed"
    moved.parent.mkdir()
    Path(opt.results_dir).rename(moved)
    test = parse_test_options(["--root_path", str(tmp_path), "--collection", "tvr", "--model_dir", str(moved)])
    assert test.results_dir == str(moved.resolve()) and test.ckpt_filepath == str(moved.resolve() / "model.ckpt")
    with pytest.raises(OptionError, match="no run dir"):
        parse_test_options(["--root_path", str(tmp_path), "--collection", "tvr", "--model_dir", "nope"])


def test_parser_lists_every_original_flag() -> None:
    flags = {s for a in build_parser("test")._actions for s in a.option_strings}
    for name in (
        "--dset_name",
        "--eval_split_name",
        "--debug",
        "--results_root",
        "--exp_id",
        "--seed",
        "--device",
        "--device_ids",
        "--num_workers",
        "--no_core_driver",
        "--no_pin_memory",
        "--lr",
        "--lr_warmup_proportion",
        "--wd",
        "--n_epoch",
        "--max_es_cnt",
        "--bsz",
        "--eval_query_bsz",
        "--eval_context_bsz",
        "--eval_untrained",
        "--grad_clip",
        "--margin",
        "--hard_negative_start_epoch",
        "--hard_pool_size",
        "--max_desc_l",
        "--max_ctx_l",
        "--train_path",
        "--eval_path",
        "--q_feat_size",
        "--no_norm_vfeat",
        "--no_norm_tfeat",
        "--vid_feat_size",
        "--max_position_embeddings",
        "--n_heads",
        "--input_drop",
        "--drop",
        "--initializer_range",
        "--model_name",
        "--root_path",
        "--visual_feature",
        "--collection",
        "--linear_k",
        "--sigmoid_k",
        "--linear_b",
        "--exponential_k",
        "--train_span_start_epoch",
        "--max_sub_l",
        "--sub_feat_size",
        "--use_sub",
        "--A_hidden_size",
        "--B_hidden_size",
        "--map_size",
        "--clip_scale_w",
        "--frame_scale_w",
        "--frame_weight",
        "--clip_weight",
        "--loss_init_weight",
        "--loss_scale_weight",
        "--decay_way",
        "--double_branch",
        "--use_clip",
        "--use_clip_guiyi",
        "--inheritance_hidden",
        "--exploration_hidden",
        "--distill_loss_decay",
        "--selfDistil_sigmoid_k",
        "--teacher",
        "--student",
        "--kl_intra_weight",
        "--inher_nce_weight",
        "--explore_nce_weight",
        "--label_style",
        "--alpha",
        "--belta",
        "--alpha_decay",
        "--belta_decay",
        "--model_dir",
        "--eval_id",
    ):
        assert name in flags, name
