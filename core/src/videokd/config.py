"""YAML configs with typed command-line overrides.

Every package describes its options as a nested dict of defaults. A run's config is those defaults,
updated from a YAML file, then from command-line overrides, each step checked:

* an unknown key is an error that names the key and the nearest valid keys;
* a value whose type differs from the default's is an error (ints widen to floats; a default of
  ``None`` accepts anything; YAML's ``1e-3`` string quirk is read as a float);
* overrides come as ``KEY.SUB=value`` or as ``KEY.SUB value`` pairs (the yacs ``opts`` style the
  SlowFast-lineage scripts use), values parsed as YAML scalars/lists.

The effective config can be dumped back to YAML (``to_yaml`` / ``save_yaml``) and stored in
checkpoints as plain data (``Config.to_dict``).

Example::

    defaults = {"SOLVER": {"BASE_LR": 0.1, "MAX_EPOCH": 10}, "NUM_GPUS": 1}
    cfg = load_config("exp.yaml", defaults=defaults, overrides=["SOLVER.BASE_LR=0.01", "NUM_GPUS", "2"])
    cfg.SOLVER.BASE_LR  # 0.01
"""

from __future__ import annotations

import copy
import difflib
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from .errors import UserError

__all__ = [
    "Config",
    "ConfigError",
    "load_config",
    "merge_config",
    "parse_overrides",
    "apply_overrides",
    "to_yaml",
    "save_yaml",
    "load_yaml",
]


class ConfigError(UserError, ValueError):
    """A config file or override that does not fit the defaults."""


class Config(dict):
    """A dict with attribute access whose nested dicts are Configs too."""

    def __init__(self, data: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        for key, value in {**(data or {}), **kwargs}.items():
            self[key] = value

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, Mapping) and not isinstance(value, Config):
            value = Config(value)
        super().__setitem__(key, value)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}; keys: {sorted(self)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        del self[name]

    def __deepcopy__(self, memo: dict) -> Config:
        return Config({k: copy.deepcopy(v, memo) for k, v in self.items()})

    def to_dict(self) -> dict:
        """Plain nested dicts/lists (e.g. for ``torch.save`` with ``weights_only=True`` loading)."""
        return _plain(self)

    def flat_keys(self, prefix: str = "") -> list[str]:
        """All dotted keys, leaves and sub-trees alike."""
        keys = []
        for key, value in self.items():
            dotted = f"{prefix}{key}"
            keys.append(dotted)
            if isinstance(value, Config):
                keys.extend(value.flat_keys(dotted + "."))
        return keys


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def load_yaml(path: str | os.PathLike) -> dict:
    """Read a YAML mapping; a missing file or a non-mapping is a ConfigError naming the file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    with open(path, encoding="utf-8") as handle:
        try:
            data = yaml.safe_load(handle)
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"config file {path} must hold a mapping at the top, got {type(data).__name__}")
    return dict(data)


def _nearest(key: str, candidates: Iterable[str]) -> str:
    candidates = list(candidates)
    close = difflib.get_close_matches(key, candidates, n=3, cutoff=0.5)
    if not close:
        # also try matching the last component against the last components
        leaf = key.rsplit(".", 1)[-1].lower()
        close = [c for c in candidates if c.rsplit(".", 1)[-1].lower() == leaf][:3]
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _type_name(value: Any) -> str:
    return type(value).__name__


def _coerce(dotted: str, default: Any, value: Any) -> Any:
    """Check ``value`` against the type of ``default`` and return it (possibly widened)."""
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, (list, tuple)):
        if isinstance(value, (list, tuple)):
            kinds = {type(d) for d in default}
            if len(kinds) == 1 and default:
                proto = default[0]
                value = [_coerce(f"{dotted}[{i}]", proto, v) for i, v in enumerate(value)]
            return list(value) if isinstance(default, list) else tuple(value)
    else:
        return value
    raise ConfigError(
        f"config key {dotted!r} expects {_type_name(default)} (default {default!r}), got {_type_name(value)} {value!r}"
    )


def merge_config(base: Config, update: Mapping[str, Any], *, strict: bool = True, _prefix: str = "") -> Config:
    """Merge ``update`` into ``base`` in place, type-checking against ``base``'s values.

    With ``strict`` an unknown key raises a ConfigError naming it and the nearest valid keys.
    """
    for key, value in update.items():
        dotted = f"{_prefix}{key}"
        if key not in base:
            if strict:
                valid = [f"{_prefix}{k}" for k in base.flat_keys()] if isinstance(base, Config) else []
                raise ConfigError(f"unknown config key {dotted!r}{_nearest(dotted, valid)}")
            base[key] = value
            continue
        current = base[key]
        if isinstance(current, Config):
            if isinstance(value, Mapping):
                merge_config(current, value, strict=strict, _prefix=dotted + ".")
                continue
            if value is not None:
                raise ConfigError(f"config key {dotted!r} is a section; got {_type_name(value)} {value!r}")
        base[key] = _coerce(dotted, current, value)
    return base


def parse_overrides(args: Sequence[str]) -> list[tuple[str, Any]]:
    """Parse ``["A.B=1", "C", "x"]`` into ``[("A.B", 1), ("C", "x")]`` (values as YAML scalars)."""
    pairs: list[tuple[str, Any]] = []
    tokens = list(args)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if "=" in token:
            key, raw = token.split("=", 1)
            i += 1
        else:
            if i + 1 >= len(tokens):
                raise ConfigError(f"override {token!r} has no value (use KEY=VALUE or KEY VALUE)")
            key, raw = token, tokens[i + 1]
            i += 2
        key = key.strip()
        if key.startswith("--"):
            key = key[2:]
        if not key:
            raise ConfigError(f"override {token!r} has an empty key")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        pairs.append((key, value))
    return pairs


def apply_overrides(
    cfg: Config, overrides: Sequence[str] | Sequence[tuple[str, Any]], *, strict: bool = True
) -> Config:
    """Apply command-line overrides (strings or parsed pairs) to ``cfg`` in place."""
    if overrides and isinstance(overrides[0], str):
        pairs = parse_overrides(overrides)  # type: ignore[arg-type]
    else:
        pairs = list(overrides)  # type: ignore[arg-type]
    valid = cfg.flat_keys()
    for key, value in pairs:
        node = cfg
        parts = key.split(".")
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part) if isinstance(node, Mapping) else None
            if not isinstance(child, Config):
                if strict or child is not None:
                    prefix = ".".join(parts[: depth + 1])
                    raise ConfigError(f"unknown config key {key!r} ({prefix!r} is not a section){_nearest(key, valid)}")
                child = Config()
                node[part] = child
            node = child
        leaf = parts[-1]
        if leaf not in node:
            if strict:
                raise ConfigError(f"unknown config key {key!r}{_nearest(key, valid)}")
            node[leaf] = value
            continue
        if isinstance(node[leaf], Config) and not isinstance(value, Mapping):
            raise ConfigError(f"config key {key!r} is a section; override its leaves (e.g. {key}.<name>=...)")
        if isinstance(node[leaf], Config):
            merge_config(node[leaf], value, strict=strict, _prefix=key + ".")
        else:
            node[leaf] = _coerce(key, node[leaf], value)
    return cfg


def load_config(
    path: str | os.PathLike | None = None,
    *,
    defaults: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    strict: bool = True,
) -> Config:
    """Defaults, updated from the YAML file at ``path`` (if given), then from ``overrides``.

    Without ``defaults`` the file itself defines the keys (overrides may then only change them).
    """
    cfg = Config(copy.deepcopy(dict(defaults))) if defaults is not None else Config()
    if path is not None:
        data = load_yaml(path)
        if defaults is None:
            cfg = Config(data)
        else:
            try:
                merge_config(cfg, data, strict=strict)
            except ConfigError as err:
                raise ConfigError(f"{os.fspath(path)}: {err}") from None
    if overrides:
        apply_overrides(cfg, overrides, strict=strict)
    return cfg


def to_yaml(cfg: Mapping[str, Any]) -> str:
    """The config as YAML text (keys in their insertion order)."""
    return yaml.safe_dump(_plain(cfg), sort_keys=False, default_flow_style=False)


def save_yaml(cfg: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write the effective config to ``path`` (parent folders created)."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(to_yaml(cfg))
