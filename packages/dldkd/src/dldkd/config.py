"""Command-line options: the original ``BaseOptions`` / ``TestOptions`` flags with their defaults.

The flag names and defaults are those of the ICCV branch (the paper), plus the DL-DKD++ (master)
flags, so the original scripts' command lines work unchanged. What differs, and why:

* booleans: ``--double_branch``, ``--use_clip``, ``--use_sub`` and ``--use_clip_guiyi`` accept a
  bare flag (master's ``store_true``) *and* an explicit value (``--use_clip true`` / ``False``);
  the original's ``type=bool`` turned every string, even "False", into True.
* ``--device``: ``auto`` (default: CUDA when available, else CPU), ``cpu``, ``cuda``, ``cuda:N``
  or the original integers (``-1`` = CPU, ``>=0`` = GPU). No GPU id is hard-coded; several GPUs
  are used through ``torchrun`` (DDP), not DataParallel, so ``--device_ids`` is only accepted.
* ``--label_style hard|soft`` selects the ICCV InfoNCE or the DL-DKD++ soft-target InfoNCE.
* KD coefficient: ``--distill_loss_decay`` (master) when given, else ``--decay_way`` (ICCV).
  The decay constants default to the values the scripts pass (ICCV's None crashed).
* results go to ``--results_root``, by default ``<root_path>/<collection>/results`` (what the
  original README promises; the original wrote to ``./results``). ``--exp_id`` is honoured; when
  it is not given the ICCV id is built from the flags as the original did.
* inference fusion: ``clip_scale_w * S_inh + frame_scale_w * S_exp`` (0.7 / 0.3), the same in
  validation and test (the first ICCV commit validated with 0.5 / 0.5).
* an unknown flag is an error that names it and the closest valid flags.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import torch

from videokd.errors import UserError

from .model import DLDKDConfig

__all__ = [
    "OptionError",
    "RESUME_MAY_CHANGE",
    "check_resume_options",
    "str2bool",
    "build_parser",
    "parse_train_options",
    "parse_test_options",
    "resolve_device",
    "auto_exp_id",
    "save_options",
    "set_derived_paths",
    "TEST_KEEP_CLI",
]

# options TestOptions keeps from the command line instead of the saved opt.json
TEST_KEEP_CLI = (
    "results_root",
    "num_workers",
    "nms_thd",
    "debug",
    "eval_split_name",
    "eval_path",
    "eval_query_bsz",
    "eval_context_bsz",
    "max_pred_l",
    "min_pred_l",
    "external_inference_vr_res_path",
    "root_path",
    "model_dir",
    "model_name",
    "device",
    "device_ids",
    "no_pin_memory",
    "collection",
    "visual_feature",
    "trust_checkpoint",
    "results_dir",
    "eval_id",
)


class OptionError(UserError, ValueError):
    """Command-line options that cannot work together (or with the saved run)."""


# options a resumed run may change: where things are and how they run, not what is trained
RESUME_MAY_CHANGE = frozenset(
    {
        "resume",
        "results_dir",
        "results_root",
        "root_path",
        "ckpt_filepath",
        "train_log_filepath",
        "eval_log_filepath",
        "tensorboard_log_dir",
        "exp_id",
        "num_workers",
        "no_core_driver",
        "device",
        "device_ids",
        "no_pin_memory",
        "pin_memory",
        "eval_query_bsz",
        "eval_context_bsz",
        "max_es_cnt",
    }
)

# the model's defaults are DLDKDConfig's (declared once)
_MODEL = {f: getattr(DLDKDConfig, f) for f in ("n_heads", "max_ctx_l", "max_desc_l", "input_drop", "drop")}
_MODEL.update(
    initializer_range=DLDKDConfig.initializer_range,
    inheritance_hidden=DLDKDConfig.inheritance_hidden,
    exploration_hidden=DLDKDConfig.exploration_hidden,
)


def str2bool(value: Any) -> bool:
    """``true/false``, ``yes/no``, ``1/0``, ``t/f``, ``y/n`` (any case) -> bool; anything else is an error."""
    if isinstance(value, bool):
        return value
    v = str(value).strip().lower()
    if v in ("true", "t", "yes", "y", "1"):
        return True
    if v in ("false", "f", "no", "n", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false), got {value!r}")


def _bool_flag(parser: argparse.ArgumentParser, name: str, default: bool, help: str) -> None:
    parser.add_argument(
        name,
        type=str2bool,
        nargs="?",
        const=True,
        default=default,
        help=f"{help} (bare flag = true; or pass true/false; default {default})",
    )


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose unknown-flag error names the closest valid flags."""

    def parse_args(self, args: Optional[Sequence[str]] = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        opt, extras = self.parse_known_args(args, namespace)
        if extras:
            valid = [s for a in self._actions for s in a.option_strings]
            msgs = []
            for extra in extras:
                if extra.startswith("-"):
                    close = difflib.get_close_matches(extra.split("=")[0], valid, n=3)
                    msgs.append(f"unknown option {extra!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
                else:
                    msgs.append(f"unexpected argument {extra!r}")
            self.error("; ".join(msgs))
        return opt


def build_parser(mode: str = "train") -> argparse.ArgumentParser:
    """The option parser; ``mode="test"`` adds ``--model_dir`` and ``--eval_id``."""
    p = _Parser(
        prog="python -m dldkd." + ("train" if mode == "train" else "evaluate"),
        description="DL-DKD / DL-DKD++ partially relevant video retrieval "
        + ("training" if mode == "train" else "evaluation"),
    )
    a = p.add_argument
    # --- run / paths
    a("--dset_name", type=str, default=None, help="name used in the run dir (default: --collection)")
    a("--eval_split_name", type=str, default="val", help="(unused, kept for compatibility)")
    a("--debug", action="store_true", help="results under debug_results, no workers, 4 batches, 1 epoch, no final test")
    a("--results_root", type=str, default=None, help="where run dirs go (default: <root_path>/<collection>/results)")
    a("--exp_id", type=str, default=None, help="run name; default: built from the flags like the ICCV code")
    if mode == "train":
        a(
            "--resume",
            type=str,
            default=None,
            help="continue an interrupted run from its checkpoints/last.pt: the run dir (a path, or a name under the "
            "results root); pass the same flags as the first time",
        )
    a("--seed", type=int, default=2018)
    a("--device", type=str, default="auto", help="auto | cpu | cuda | cuda:N | -1 (CPU) | N (GPU N)")
    a(
        "--device_ids",
        type=int,
        nargs="+",
        default=[0],
        help="accepted for compatibility; use torchrun for several GPUs",
    )
    a("--num_workers", type=int, default=8)
    a("--no_core_driver", action="store_true", help="(original: forces num_workers=1)")
    a("--no_pin_memory", action="store_true")
    a("--root_path", type=str, default=None, help="dataset root holding <collection>/FeatureData and TextData")
    a("--collection", type=str, default=None, help="tvr | activitynet | charades")
    a("--visual_feature", type=str, default=None, help="student feature folder, e.g. i3d_resnet (TVR), i3d")
    # --- optimisation
    a("--lr", type=float, default=2.5e-4)
    a("--lr_warmup_proportion", type=float, default=0.01)
    a("--wd", type=float, default=0.01)
    a("--n_epoch", type=int, default=100)
    a("--max_es_cnt", type=int, default=10, help="early-stop patience in epochs; -1 disables")
    a("--bsz", type=int, default=128, help="training batch size in videos")
    a("--eval_query_bsz", type=int, default=50)
    a("--eval_context_bsz", type=int, default=200)
    a("--eval_untrained", action="store_true")
    a(
        "--grad_clip",
        type=float,
        default=-1,
        help="global grad-norm clip (-1 off; BertAdam clips each tensor at 1.0 anyway)",
    )
    a("--margin", type=float, default=0.2)
    a("--hard_negative_start_epoch", type=int, default=0)
    a("--hard_pool_size", type=int, default=20)
    a("--precision", type=str, default="fp32", choices=["fp32", "bf16"], help="training autocast precision")
    # --- data / model sizes
    a("--max_desc_l", type=int, default=_MODEL["max_desc_l"])
    a("--max_ctx_l", type=int, default=_MODEL["max_ctx_l"])
    a("--train_path", type=str, default=None, help="(unused)")
    a("--eval_path", type=str, default=None, help="(unused)")
    a("--q_feat_size", type=int, default=1024, help="RoBERTa width: 768 for TVR, 1024 otherwise")
    a("--no_norm_vfeat", action="store_true", help="(unused)")
    a("--no_norm_tfeat", action="store_true", help="(unused)")
    a("--vid_feat_size", type=int, default=None, help="(unused: read from shape.txt)")
    a("--max_position_embeddings", type=int, default=300, help="(unused)")
    a("--n_heads", type=int, default=_MODEL["n_heads"])
    a("--input_drop", type=float, default=_MODEL["input_drop"])
    a("--drop", type=float, default=_MODEL["drop"])
    a("--initializer_range", type=float, default=_MODEL["initializer_range"])
    a("--model_name", type=str, default="DLDKD")
    # --- ICCV options
    a("--train_span_start_epoch", type=int, default=0, help="(unused)")
    a("--max_sub_l", type=int, default=50, help="(unused)")
    a("--sub_feat_size", type=int, default=768, help="(unused)")
    _bool_flag(p, "--use_sub", False, "(unused)")
    a("--A_hidden_size", type=int, default=_MODEL["exploration_hidden"], help="exploration branch width")
    a("--B_hidden_size", type=int, default=_MODEL["inheritance_hidden"], help="inheritance branch width")
    a("--map_size", type=int, default=32, help="(stored only)")
    a("--clip_scale_w", type=float, default=0.7, help="fusion weight of the inheritance branch at inference")
    a("--frame_scale_w", type=float, default=0.3, help="fusion weight of the exploration branch at inference")
    a("--frame_weight", type=float, default=0.5, help="(original single-branch log line; unused)")
    a("--clip_weight", type=float, default=0.5, help="(original single-branch log line; unused)")
    a("--loss_init_weight", type=float, default=0.1, help="added to the KD coefficient for decay_way 4-6")
    a("--loss_scale_weight", type=float, default=0.1, help="KD coefficient scale")
    a("--decay_way", type=int, default=0, choices=range(9), help="KD weight schedule 0-8 (1 = exponential_k**epoch)")
    _bool_flag(p, "--double_branch", False, "train and use the exploration branch")
    _bool_flag(p, "--use_clip", False, "distil from the CLIP teacher features")
    _bool_flag(p, "--use_clip_guiyi", False, "(unused)")
    a("--linear_k", type=float, default=-0.01)
    a("--sigmoid_k", type=float, default=800.0)
    a("--linear_b", type=float, default=1.0)
    a("--exponential_k", type=float, default=0.95)
    # --- DL-DKD++ (master) options
    a("--inheritance_hidden", type=int, default=None, help="DL-DKD++ name of --B_hidden_size")
    a("--exploration_hidden", type=int, default=None, help="DL-DKD++ name of --A_hidden_size")
    a(
        "--distill_loss_decay",
        type=str,
        default=None,
        choices=["exp", "linear", "sigmoid", "None"],
        help="DL-DKD++ KD weight schedule; when given, coefficient = kl_intra_weight * w(e) instead of --decay_way",
    )
    a("--selfDistil_sigmoid_k", type=float, default=800.0)
    a("--teacher", type=str, default="clip", help="(unused)")
    a("--student", type=str, default="i3d", help="only i3d")
    a("--kl_intra_weight", type=float, default=0.1)
    a("--inher_nce_weight", type=float, default=0.04)
    a("--explore_nce_weight", type=float, default=0.04)
    a(
        "--label_style",
        type=str,
        default="hard",
        choices=["hard", "soft"],
        help="hard: ICCV InfoNCE; soft: DL-DKD++ soft-target InfoNCE",
    )
    a("--alpha", type=float, default=0.8)
    a("--belta", type=float, default=0.8)
    a("--alpha_decay", type=str, default="sigmoid", choices=["exp", "linear", "sigmoid", "cosine", "None"])
    a("--belta_decay", type=str, default="sigmoid", choices=["exp", "linear", "sigmoid", "cosine", "None"])
    if mode == "test":
        a(
            "--model_dir",
            type=str,
            required=True,
            help="run dir: a path, or a name under <results_root> (default <root_path>/<collection>/results)",
        )
        a("--eval_id", type=str, default=None, help="(unused)")
        a(
            "--trust_checkpoint",
            action="store_true",
            help="allow torch.load(weights_only=False) for checkpoints holding unknown classes (only for files you trust)",
        )
        a("--split", type=str, default="test", help="caption split to evaluate (test | val)")
    return p


def resolve_device(spec: Any) -> torch.device:
    """``auto``/``cpu``/``cuda``/``cuda:N``/``-1``/``N`` -> a torch.device (clear error when CUDA is absent)."""
    s = str(spec).strip().lower()
    if s == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if s.lstrip("-").isdigit():
        n = int(s)
        s = "cpu" if n < 0 else f"cuda:{n}"
    if s.startswith("cuda") and not torch.cuda.is_available():
        raise OptionError(f"--device {spec}: CUDA is not available here; use --device cpu (or auto)")
    try:
        return torch.device(s)
    except RuntimeError as err:
        raise OptionError(f"--device {spec!r}: {err}") from None


def auto_exp_id(opt: argparse.Namespace) -> str:
    """The ICCV run id built from the flags (e.g. ``double_kl_exponential_decay_k0.95_loss_scale_weight0.1``)."""
    out = "double" if opt.double_branch else "singal"  # sic: the original's spelling
    if opt.use_clip:
        out += "_kl"
        tags = {
            1: f"_exponential_decay_k{opt.exponential_k}",
            2: f"_linear_decay_k{opt.linear_k}_b{opt.linear_b}",
            3: f"_sigmoid_decay_k{opt.sigmoid_k}",
            4: f"_exponential_up_k{opt.exponential_k}_init_loss_weight{opt.loss_init_weight}",
            5: f"_linear_up_k{opt.linear_k}_b{opt.linear_b}_init_loss_weight{opt.loss_init_weight}",
            6: f"_sigmoid_up_k{opt.sigmoid_k}_init_loss_weight{opt.loss_init_weight}",
            7: f"_7_ex_up_k{opt.sigmoid_k}",
            8: f"_8_ex_up_k{opt.sigmoid_k}",
        }
        out += tags.get(opt.decay_way, "")
    out += f"_loss_scale_weight{opt.loss_scale_weight}"
    if opt.label_style == "soft":
        out += "_soft"
    return out


def _finish_common(opt: argparse.Namespace) -> argparse.Namespace:
    if opt.student != "i3d":
        raise OptionError(f"--student {opt.student!r}: only 'i3d' student features are supported")
    if opt.inheritance_hidden is None:
        opt.inheritance_hidden = opt.B_hidden_size
    if opt.exploration_hidden is None:
        opt.exploration_hidden = opt.A_hidden_size
    opt.B_hidden_size, opt.A_hidden_size = opt.inheritance_hidden, opt.exploration_hidden
    if opt.distill_loss_decay == "None":
        opt.distill_loss_decay = "None"  # kept as the string: an explicit constant weight 1
    if opt.dset_name is None:
        opt.dset_name = opt.collection
    if opt.no_core_driver:
        opt.num_workers = 1
    if opt.debug:
        opt.num_workers = 0
    opt.pin_memory = not opt.no_pin_memory
    return opt


def parse_train_options(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse and complete training options (run dir, file paths, device); writes nothing.

    With ``--resume RUN`` the options are checked against ``RUN/opt.json`` first: any option that
    changes what is trained (see :data:`RESUME_MAY_CHANGE` for the ones that may differ) is an error
    listing every difference, before anything is written.
    """
    opt = build_parser("train").parse_args(argv)
    for name in ("root_path", "collection", "visual_feature"):
        if getattr(opt, name) is None:
            raise OptionError(f"--{name} is required for training")
    opt = _finish_common(opt)
    if opt.results_root is None:
        opt.results_root = str(Path(opt.root_path) / opt.collection / ("debug_results" if opt.debug else "results"))
    if opt.exp_id is None:
        opt.exp_id = auto_exp_id(opt)
    if opt.resume:
        run_dir = _resolve_resume_dir(opt.resume, Path(opt.results_root))
        opt.results_dir = str(run_dir)
        set_derived_paths(opt)
        saved_path = run_dir / "opt.json"
        try:
            saved = json.loads(saved_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise OptionError(f"--resume {opt.resume!r}: {saved_path} is missing; cannot check the options") from None
        except json.JSONDecodeError as err:
            raise OptionError(f"{saved_path} is not valid JSON ({err}); cannot resume this run") from None
        check_resume_options(opt, saved, source=saved_path)
    else:
        stamp = time.strftime("%Y_%m_%d_%H_%M_%S")
        opt.results_dir = str(Path(opt.results_root) / f"{opt.dset_name}-{opt.exp_id}-{stamp}")
        set_derived_paths(opt)
    if opt.hard_pool_size > opt.bsz:
        print(f"[dldkd] warning: hard_pool_size {opt.hard_pool_size} > bsz {opt.bsz}", file=sys.stderr)
    return opt


def check_resume_options(opt: argparse.Namespace, saved: dict, *, source: Any = "opt.json") -> None:
    """Raise :class:`OptionError` listing every option of ``opt`` that differs from the saved run's."""
    diffs = []
    for key, value in sorted(vars(opt).items()):
        if key in RESUME_MAY_CHANGE or key not in saved:
            continue
        old = saved[key]
        same = old == value or (isinstance(old, list) and isinstance(value, tuple) and list(value) == old)
        if not same:
            diffs.append(f"--{key} {value!r} (the run has {old!r})")
    if diffs:
        raise OptionError(
            f"--resume: these options differ from {source}:\n  "
            + "\n  ".join(diffs)
            + "\npass the run's values (or start a new run without --resume); nothing was written"
        )


def _resolve_resume_dir(resume: str, results_root: Path) -> Path:
    """The run dir to continue: ``resume`` as a path, else as a name under ``results_root``."""
    given = Path(resume).expanduser()
    candidates = [given] if given.is_absolute() else [given, results_root / given]
    for c in candidates:
        if (c / "checkpoints" / "last.pt").is_file():
            return c.resolve()
    tried = ", ".join(str(c / "checkpoints" / "last.pt") for c in candidates)
    raise OptionError(f"--resume {resume!r}: no checkpoint to resume from (looked for {tried})")


def set_derived_paths(opt: argparse.Namespace) -> None:
    """``ckpt_filepath``, ``train_log_filepath``, ``eval_log_filepath``, ``tensorboard_log_dir`` from ``results_dir``."""
    d = Path(opt.results_dir)
    opt.ckpt_filepath = str(d / "model.ckpt")
    opt.train_log_filepath = str(d / "train.log.txt")
    opt.eval_log_filepath = str(d / "eval.log.txt")
    opt.tensorboard_log_dir = str(d / "tensorboard_log")


def _resolve_model_dir(opt: argparse.Namespace) -> Path:
    """``--model_dir`` as given when it exists, else under ``--results_root`` (default
    ``<root_path>/<collection>/results``), else under ``./results`` (the original's place).

    The answer is a run dir holding ``opt.json`` (+ ``model.ckpt``), a folder holding only a
    ``model.ckpt`` (a released checkpoint), or a checkpoint file.
    """
    given = Path(opt.model_dir).expanduser()
    candidates = [given]
    if not given.is_absolute():
        if opt.results_root:
            candidates.append(Path(opt.results_root) / given)
        if opt.root_path and opt.collection:
            candidates.append(Path(opt.root_path) / opt.collection / "results" / given)
        candidates.append(Path("results") / given)
    for c in candidates:
        if c.is_file() or (c / "opt.json").is_file() or (c / "model.ckpt").is_file():
            return c.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise OptionError(
        f"--model_dir {opt.model_dir!r}: no run dir (opt.json), model.ckpt or checkpoint file found (looked in {tried})"
    )


# model_cfg keys of an original checkpoint -> the options evaluation needs
_CFG_TO_OPTIONS = {
    "max_ctx_l": "max_ctx_l",
    "max_desc_l": "max_desc_l",
    "query_input_size": "q_feat_size",
    "n_heads": "n_heads",
}


def _options_from_checkpoint(path: Path) -> dict[str, Any]:
    """What a checkpoint without opt.json says about its run: this package's saved ``opt``, or an
    original checkpoint's ``model_cfg`` (EasyDict) mapped onto option names."""
    from .checkpoint import load_checkpoint_file

    ckpt = load_checkpoint_file(path)
    if isinstance(ckpt.get("opt"), dict):
        return dict(ckpt["opt"])
    cfg = ckpt.get("model_cfg") if isinstance(ckpt.get("model_cfg"), dict) else {}
    return {opt_key: cfg[k] for k, opt_key in _CFG_TO_OPTIONS.items() if cfg.get(k) is not None}


def parse_test_options(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse test options and merge the run's saved options (saved values win except for
    :data:`TEST_KEEP_CLI`). The checkpoint is read from the model dir itself, so a moved or
    renamed run dir still evaluates (the original used the saved absolute ``results_dir``).

    ``--model_dir`` may also name a folder holding only ``model.ckpt`` or the checkpoint file itself
    (a released checkpoint): the options then come from the checkpoint (sizes from its config) and
    the command line; results are written next to the checkpoint.
    """
    cli = build_parser("test").parse_args(argv)
    model_dir = _resolve_model_dir(cli)
    ckpt_file = model_dir if model_dir.is_file() else model_dir / "model.ckpt"
    run_dir = ckpt_file.parent
    if (run_dir / "opt.json").is_file() and not model_dir.is_file():
        try:
            saved = json.loads((run_dir / "opt.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise OptionError(f"{run_dir / 'opt.json'} is not valid JSON: {err}") from None
    else:
        saved = _options_from_checkpoint(ckpt_file)
    opt = argparse.Namespace(**vars(cli))
    for key, value in saved.items():
        # the command line wins for these when given (e.g. a moved dataset, a CPU-only machine)
        if key in TEST_KEEP_CLI and getattr(cli, key, None) is not None:
            continue
        setattr(opt, key, value)
    opt.model_dir = str(run_dir)
    opt.results_dir = str(run_dir)
    opt = _finish_common(opt)
    set_derived_paths(opt)
    opt.ckpt_filepath = str(ckpt_file)
    for name in ("root_path", "collection", "visual_feature"):
        if getattr(opt, name, None) is None:
            raise OptionError(f"--{name} is required (not stored with {ckpt_file})")
    return opt


def save_options(opt: argparse.Namespace, path: str | os.PathLike) -> None:
    """Write every option as pretty JSON (sorted keys, indent 4), as the original ``opt.json``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(vars(opt), indent=4, sort_keys=True, default=str))
    os.replace(tmp, path)
