"""Class texts and prompt sets: KICLIP's 28 templates plus the bare description.

A class text is a label-file value ``"<Name>: <description>"`` (the name is the text before the
first colon; a text without a colon is its own name). Prompt set ``k < 28`` is
``TEMPLATES[k].format(name) + " " + text``; set 28 is the text alone. Training uses one randomly
drawn set ``k in 0..27`` plus set 28 at every step; evaluation uses all 29.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from pathlib import Path

import torch

from videokd import clip
from videokd.errors import UserError

__all__ = [
    "PREFIXES",
    "FORMS",
    "TEMPLATES",
    "NUM_TEMPLATES",
    "LabelFileError",
    "class_name",
    "prompt_strings",
    "tokenize_prompt_sets",
    "read_label_file",
    "names_fallback",
    "load_class_texts",
    "draw_template",
    "tokenize",
]

PREFIXES = ("a photo of", "a video of", "a example of", "a demonstration of")  # "a example" (sic) as upstream
FORMS = (
    "",
    "a person",
    "a person using",
    "a person doing",
    "a person during",
    "a person performing",
    "a person practicing",
)

#: the 28 templates, prefix-major (k = 7 * prefix + form), then the bare-description set "{}"
TEMPLATES: tuple[str, ...] = tuple(
    f"{prefix} {form + ' ' if form else ''}{{}}." for prefix in PREFIXES for form in FORMS
) + ("{}",)
NUM_TEMPLATES = len(TEMPLATES) - 1  # sets drawn from in training (the last one is always added)


class LabelFileError(UserError, ValueError):
    """A label/description JSON file that cannot be used (names the file and what is wrong)."""


def class_name(text: str) -> str:
    """The name part of ``"<Name>: <description>"`` (the whole text when there is no colon)."""
    return text.split(":", 1)[0]


def prompt_strings(class_texts: Sequence[str], templates: Sequence[str] = TEMPLATES) -> list[list[str]]:
    """``[S][C]`` prompt strings: ``templates[k].format(name) + " " + text``; the last set is the text alone."""
    sets = [[t.format(class_name(c)) + " " + c for c in class_texts] for t in templates[:-1]]
    sets.append(list(class_texts))
    return sets


def tokenize_prompt_sets(
    class_texts: Sequence[str], templates: Sequence[str] = TEMPLATES, *, context_length: int = 77
) -> torch.Tensor:
    """Token ids of every prompt set, ``(S, C, context_length)`` int64 (too-long prompts raise, as upstream)."""
    return torch.stack(
        [clip.tokenize(s, context_length=context_length) for s in prompt_strings(class_texts, templates)]
    )


def draw_template(rng=random, num_sets: int = len(TEMPLATES)) -> int:
    """A training template index ``randint(0, num_sets - 2)`` (the last set, the bare text, is always used)."""
    return rng.randint(0, num_sets - 2)


def tokenize(texts, *, context_length: int = 77, truncate: bool = False) -> torch.Tensor:
    """CLIP BPE token ids ``(N, context_length)``; too-long texts raise unless ``truncate`` (as upstream)."""
    return clip.tokenize(texts, context_length=context_length, truncate=truncate)


def read_label_file(path: str | os.PathLike) -> list[str]:
    """Class texts from a label JSON ``{"0": "Name: description", ...}`` with indices 0..C-1."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "label file not found (run fetch_assets.py or make a synthetic dataset)", str(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise LabelFileError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict) or not data:
        raise LabelFileError(f"{path}: expected a JSON object {{'0': 'Name: description', ...}}")
    try:
        keys = sorted(int(k) for k in data)
    except ValueError as err:
        raise LabelFileError(f"{path}: keys must be class indices 0..C-1 ({err})") from err
    if keys != list(range(len(keys))):
        raise LabelFileError(f"{path}: class indices must run 0..{len(keys) - 1} without gaps")
    return [str(data[str(k)]) for k in keys]


def names_fallback(path: str | os.PathLike) -> Path:
    """Where the bare class names of a description file live: ``train_rephrased.json`` ->
    ``raw_train_idx2cls.json`` (the upstream B2N folders ship both; names are facts, descriptions text)."""
    path = Path(path)
    prefix = path.name.split("_rephrased")[0]
    return path.with_name(f"raw_{prefix}_idx2cls.json")


def load_class_texts(path: str | os.PathLike) -> tuple[list[str], Path]:
    """Class texts from the description file, or - when it is missing - the bare class names next to it.

    Returns ``(texts, file read)``. Without descriptions every prompt uses the class name alone
    (``"a photo of Pour. Pour"``): the model runs, with weaker text features than the paper's.
    """
    path = Path(path)
    if path.is_file():
        return read_label_file(path), path
    fallback = names_fallback(path)
    if fallback.is_file():
        return read_label_file(fallback), fallback
    raise FileNotFoundError(
        2,
        f"class description file not found (nor the class names {fallback.name} next to it); "
        "get the split and description files (see the kiclip README, 'Data')",
        str(path),
    )
