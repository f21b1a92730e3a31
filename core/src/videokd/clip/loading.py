"""Read OpenAI CLIP checkpoints (TorchScript archives or plain state dicts) and build the model.

``load("ViT-B-16.pt")`` reads the weights of OpenAI's TorchScript archive without running its code
(``torch.jit.load(...).state_dict()``: the archive's graph is deserialised, never called; if
``torch.jit`` is unavailable the tensors are read straight from the archive's zip), infers the sizes
like the original ``build_model`` and loads them strictly into an eager :class:`CLIP`.
Nothing is ever downloaded: a model *name* is looked up in ``download_root``, and if the file is not
there the error says where to get it and which sha256 to expect.
"""

from __future__ import annotations

import io
import os
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import nn

from ..errors import UserError
from .model import CLIP, convert_weights, infer_config
from .tokenizer import sha256_file
from .transform import Preprocess

__all__ = [
    "MODEL_URLS",
    "CheckpointMismatchError",
    "available_models",
    "model_url",
    "model_sha256",
    "default_download_root",
    "read_state_dict",
    "load_state_dict_strict",
    "build_model",
    "load",
]

# OpenAI's public download addresses of the ViT models. The path component before the file name
# is the file's sha256, which the original loader checks and so do we.
MODEL_URLS: dict[str, str] = {
    "ViT-B/32": "https://openaipublic.azureedge.net/clip/models/40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
    "ViT-B/16": "https://openaipublic.azureedge.net/clip/models/5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f/ViT-B-16.pt",
    "ViT-L/14": "https://openaipublic.azureedge.net/clip/models/b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt",
    "ViT-L/14@336px": "https://openaipublic.azureedge.net/clip/models/3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02/ViT-L-14-336px.pt",
}

# Entries of OpenAI's TorchScript archives that are model attributes, not weights.
_METADATA_KEYS = ("input_resolution", "context_length", "vocab_size")
# Keys under which training scripts nest the model's weights.
_NESTED_KEYS = ("state_dict", "model_state", "model_state_dict", "model")


class CheckpointMismatchError(UserError, RuntimeError):
    """A checkpoint does not fit the model: lists missing and unexpected keys and shape mismatches."""


def available_models() -> list[str]:
    """Names accepted by :func:`load` besides file paths."""
    return list(MODEL_URLS)


def model_url(name: str) -> str:
    return MODEL_URLS[name]


def model_sha256(name: str) -> str:
    return MODEL_URLS[name].rsplit("/", 2)[-2]


def default_download_root() -> Path:
    """``$VIDEOKD_CLIP_ROOT``, else ``~/.cache/clip`` (the original's default folder)."""
    env = os.environ.get("VIDEOKD_CLIP_ROOT")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "clip"


def _resolve(name_or_path: Union[str, os.PathLike], download_root: Union[str, os.PathLike, None]) -> Path:
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    name = os.fspath(name_or_path)
    if name not in MODEL_URLS:
        raise FileNotFoundError(f"{name!r} is neither a file nor a known CLIP model name (known: {available_models()})")
    root = Path(download_root).expanduser() if download_root is not None else default_download_root()
    url, sha = MODEL_URLS[name], model_sha256(name)
    target = root / url.rsplit("/", 1)[-1]
    if not target.is_file():
        raise FileNotFoundError(
            f"CLIP model {name!r} is not available offline: expected the file {target}.\n"
            f"Download it from {url}\n(sha256 {sha}) and put it there, or pass download_root=/its/folder, "
            "or set VIDEOKD_CLIP_ROOT, or pass the file's path instead of the model name."
        )
    got = sha256_file(target)
    if got != sha:
        raise ValueError(
            f"{target} has sha256 {got} but {name!r} should be {sha}: the file is incomplete or another "
            f"model. Download it again from {url}"
        )
    return target


def _is_torchscript_archive(path: Path) -> bool:
    # torch.save and torch.jit.save both write zip files; only TorchScript archives carry code
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any("/code/" in n and n.endswith(".py") for n in zf.namelist())


class _ScriptObject:
    """Stand-in for a TorchScript module inside an archive's pickle: keeps its attributes, runs nothing."""

    def __setstate__(self, state: Any) -> None:
        self.__dict__["state"] = state


_STORAGE_DTYPES = {
    "HalfStorage": torch.float16,
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


def _read_archive_tensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a TorchScript archive, read straight from its zip (``<root>/data.pkl`` + ``data/<key>``).

    The fallback when ``torch.jit.load`` is unavailable or refuses the archive. Only tensor
    rebuilding and ``OrderedDict`` are allowed while unpickling; TorchScript classes become inert
    :class:`_ScriptObject` records whose tensor attributes are collected under dotted names.
    """
    import pickle
    from collections import OrderedDict

    with zipfile.ZipFile(path) as zf:
        roots = [n[: -len("data.pkl")] for n in zf.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
        if len(roots) != 1:
            raise ValueError(f"{path}: not a TorchScript archive (no single <root>/data.pkl)")
        root = roots[0]
        if root + "byteorder" in zf.namelist() and zf.read(root + "byteorder").strip() != b"little":
            raise ValueError(f"{path}: big-endian archives are not supported")
        storages: dict[str, torch.Tensor] = {}

        def rebuild_tensor(storage, offset, size, stride, *_):
            return storage.as_strided(tuple(size), tuple(stride), offset)

        def rebuild_parameter(data, *_):
            return data

        class Unpickler(pickle.Unpickler):
            def find_class(self, module: str, name: str) -> Any:
                if module.startswith("__torch__"):
                    return _ScriptObject
                if module == "torch._utils" and name == "_rebuild_tensor_v2":
                    return rebuild_tensor
                if module == "torch._utils" and name in ("_rebuild_parameter", "_rebuild_parameter_with_state"):
                    return rebuild_parameter
                if module == "torch" and name in _STORAGE_DTYPES:
                    return _STORAGE_DTYPES[name]
                if module == "collections" and name == "OrderedDict":
                    return OrderedDict
                raise pickle.UnpicklingError(f"{path}: refusing to load {module}.{name} from the archive")

            def persistent_load(self, pid: Any) -> torch.Tensor:
                kind, dtype, key, _location, numel = pid
                if kind != "storage":
                    raise pickle.UnpicklingError(f"{path}: unknown persistent id {pid!r}")
                if key not in storages:
                    raw = bytearray(zf.read(f"{root}data/{key}"))
                    storages[key] = (
                        torch.frombuffer(raw, dtype=dtype, count=numel) if numel else torch.empty(0, dtype=dtype)
                    )
                return storages[key]

        top = Unpickler(io.BytesIO(zf.read(root + "data.pkl"))).load()

    state: dict[str, torch.Tensor] = {}

    def collect(obj: Any, prefix: str) -> None:
        attrs = obj.__dict__.get("state")
        if not isinstance(attrs, Mapping):
            return
        for name, value in attrs.items():
            if isinstance(value, torch.Tensor):
                # OpenAI's text blocks keep their causal mask as a tensor attribute: not a weight
                if name != "attn_mask":
                    state[prefix + name] = value.clone()
            elif isinstance(value, _ScriptObject):
                collect(value, f"{prefix}{name}.")

    collect(top, "")
    return state


def _read_torchscript(path: Path) -> dict[str, torch.Tensor]:
    try:
        with warnings.catch_warnings():
            # torch.jit is deprecated, but it is the reference reader of these archives
            warnings.simplefilter("ignore", FutureWarning)
            archive = torch.jit.load(os.fspath(path), map_location="cpu")
        return {k: v.detach().clone() for k, v in archive.state_dict().items()}
    except (AttributeError, RuntimeError):
        # torch.jit missing (future torch) or an archive it cannot deserialise: read the zip
        return _read_archive_tensors(path)


def _as_state_dict(obj: Any, source: str) -> dict[str, torch.Tensor]:
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, Mapping):
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return dict(obj)
        for key in _NESTED_KEYS:
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                return dict(inner)
        described = {k: type(v).__name__ for k, v in list(obj.items())[:10]}
        raise ValueError(
            f"{source}: no state dict found: expected a mapping of tensors, or one under "
            f"{list(_NESTED_KEYS)}; found {described}"
        )
    raise ValueError(f"{source}: expected a state dict, found a {type(obj).__name__}")


def read_state_dict(
    path: Union[str, os.PathLike], *, prefix: Optional[str] = None, strip_module: bool = True
) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, on the CPU.

    Accepts OpenAI's TorchScript archives (their weights are read through ``torch.jit.load``, or
    from the zip when that fails; the archive is never run) and
    files written by ``torch.save`` holding a state dict, possibly nested under ``state_dict`` /
    ``model_state`` / ``model_state_dict`` / ``model`` (loaded with ``weights_only=True``). A leading
    ``module.`` (DataParallel / DDP) is stripped from every key; with ``prefix`` only the keys that
    start with it are kept, without it (e.g. ``prefix="raw_model."`` for KICLIP's teacher).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    source = str(path)
    if _is_torchscript_archive(path):
        state = _read_torchscript(path)
    else:
        try:
            obj = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
        except Exception as err:  # unpickling errors have many types
            raise ValueError(
                f"{source}: cannot be read as a TorchScript archive or a plain state dict "
                f"(torch.load with weights_only=True failed: {err})"
            ) from err
        state = _as_state_dict(obj, source)
    if strip_module:
        state = {k[len("module.") :] if k.startswith("module.") else k: v for k, v in state.items()}
    if prefix:
        selected = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        if not selected:
            raise ValueError(f"{source}: no key starts with {prefix!r} (keys look like {list(state)[:5]})")
        state = selected
    return state


def load_state_dict_strict(
    module: nn.Module, state_dict: Mapping[str, torch.Tensor], *, source: str = "state dict"
) -> None:
    """``module.load_state_dict(state_dict, strict=True)`` with one readable error for every problem.

    Raises :class:`CheckpointMismatchError` naming ``source`` and listing the missing keys, the
    unexpected keys and every key whose shape differs, before anything is copied.
    """
    expected = module.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
        for k, v in state_dict.items()
        if k in expected and tuple(v.shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or shapes:

        def block(title: str, items: list[str]) -> str:
            shown = "\n    ".join(items[:20]) + (f"\n    ... and {len(items) - 20} more" if len(items) > 20 else "")
            return f"\n  {title} ({len(items)}):\n    {shown}" if items else ""

        raise CheckpointMismatchError(
            f"{source} does not match {type(module).__name__}:"
            + block("missing keys", missing)
            + block("unexpected keys", unexpected)
            + block("shape mismatches", shapes)
        )
    module.load_state_dict(state_dict, strict=True)


def build_model(
    state_dict: Mapping[str, torch.Tensor],
    *,
    source: str = "state dict",
    vision_heads: Optional[int] = None,
    transformer_heads: Optional[int] = None,
) -> CLIP:
    """An fp32 :class:`CLIP` in eval mode with the weights of an OpenAI-layout state dict.

    Sizes are inferred as the original ``build_model`` does (:func:`infer_config`); the archive
    metadata entries (``input_resolution``, ``context_length``, ``vocab_size``) are dropped; sparse
    tensors (as stored in the parity fixtures) are densified; fp16 values are cast to fp32 exactly.
    """
    state = {
        k: (v.to_dense() if v.layout != torch.strided else v) for k, v in state_dict.items() if k not in _METADATA_KEYS
    }
    try:
        config = infer_config(state, vision_heads=vision_heads, transformer_heads=transformer_heads)
    except ValueError as err:
        raise CheckpointMismatchError(f"{source}: {err}") from err
    model = CLIP(config)
    load_state_dict_strict(model, state, source=source)
    return model.eval()


def load(
    name_or_path: Union[str, os.PathLike],
    device: Union[str, torch.device] = "cpu",
    jit: bool = False,
    *,
    download_root: Union[str, os.PathLike, None] = None,
    dtype: Optional[torch.dtype] = None,
    prefix: Optional[str] = None,
) -> tuple[CLIP, Preprocess]:
    """Load a ViT CLIP and its image preprocessing, like the original ``clip.load``.

    ``name_or_path``: a checkpoint file (OpenAI TorchScript archive, or a plain / nested state dict)
    or a model name from :func:`available_models`, looked up as ``<download_root>/<file name>`` and
    checked against the sha256 in its URL. Never downloads.

    The model comes back in eval mode on ``device``, in fp32 unless ``dtype`` is given
    (``torch.float16`` / ``torch.bfloat16`` apply :func:`convert_weights`, as the original does for
    GPUs); prefer fp32 weights with ``torch.autocast`` for training. ``jit=True`` (running OpenAI's
    TorchScript model) is not supported: the eager model computes the same function.
    """
    if jit:
        raise ValueError(
            "jit=True is not supported: videokd builds an eager CLIP from the archive's weights "
            "(same outputs, works with autocast and SDPA). Call load(..., jit=False)."
        )
    path = _resolve(name_or_path, download_root)
    state = read_state_dict(path, prefix=prefix)
    model = build_model(state, source=str(path) + (f" (keys under {prefix!r})" if prefix else ""))
    model = model.to(device)
    if dtype is not None and dtype != torch.float32:
        convert_weights(model, dtype)
    return model, Preprocess(model.visual.input_resolution)
