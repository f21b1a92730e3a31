"""OpenAI CLIP's byte-level BPE tokenizer, reproducing the original token ids exactly.

Pipeline of :meth:`SimpleTokenizer.encode`:

1. clean: ``ftfy.fix_text``, HTML-unescape twice, collapse runs of whitespace, strip, lower-case;
2. pre-split with CLIP's regex (the two special tokens, English contractions, runs of letters,
   single digits, runs of other non-space characters);
3. map every UTF-8 byte of a piece to a printable character (the GPT-2 byte alphabet), mark the
   last character as end-of-word (``</w>``) and apply the BPE merges in rank order.

The vocabulary file
-------------------
``bpe_simple_vocab_16e6.txt.gz`` (1,356,917 bytes, sha256 :data:`VOCAB_SHA256`) is OpenAI's public
merge list, released with CLIP under the MIT license (Copyright (c) 2021 OpenAI). It ships here as
package data so that tokenisation works offline and never depends on another CLIP distribution being
installed. The copy was taken byte-for-byte from the PyPI wheel ``clip-anytorch==2.6.0``
(``clip/bpe_simple_vocab_16e6.txt.gz``); its sha256 equals the one recorded by the KICLIP and
TDS-CLIP parity fixtures. The hash is checked every time the file is read, because a different merge
list silently produces different token ids.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import html
import os
from collections.abc import Sequence
from pathlib import Path

import ftfy
import regex
import torch

from ..errors import UserError

__all__ = [
    "VOCAB_PATH",
    "VOCAB_SHA256",
    "SOT_TOKEN",
    "EOT_TOKEN",
    "SimpleTokenizer",
    "TextTooLongError",
    "bytes_to_unicode",
    "default_tokenizer",
    "tokenize",
]

VOCAB_PATH = Path(__file__).with_name("bpe_simple_vocab_16e6.txt.gz")
VOCAB_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"

SOT_TOKEN = "<|startoftext|>"
EOT_TOKEN = "<|endoftext|>"

# 49,152 lines of merges in the file (after its header line) minus the 256 byte tokens and the 2
# specials: the original keeps the vocabulary at exactly 49,408 entries.
_NUM_MERGES = 49152 - 256 - 2

# Pre-tokenisation pattern of the original. Digits are split one by one; letters of any script
# stay together; everything else that is not whitespace forms runs.
_PRE_SPLIT = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)
# the original cleans whitespace with the `regex` module too (its \s is Unicode White_Space,
# which differs from `re` for a few control characters such as U+001C..U+001F)
_WHITESPACE = regex.compile(r"\s+")


class TextTooLongError(UserError, RuntimeError):
    """A text needs more tokens than the context length and ``truncate=False`` (the original raises a RuntimeError)."""


@functools.cache
def bytes_to_unicode() -> dict[int, str]:
    """The byte -> printable character table of byte-level BPE (GPT-2's alphabet).

    Bytes that are already printable Latin-1 characters map to themselves; the remaining 68 bytes
    (controls, space, a few Latin-1 gaps) map to code points 256, 257, ... in byte order. The
    insertion order of the returned dict is the order of the first 256 vocabulary entries.
    """
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _clean(text: str) -> str:
    text = ftfy.fix_text(text)
    # twice: captions scraped from the web are often escaped twice ("&amp;amp;")
    text = html.unescape(html.unescape(text))
    return _WHITESPACE.sub(" ", text.strip()).strip().lower()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_merges(path: Path, expected_sha256: str | None) -> list[tuple[str, str]]:
    if not path.is_file():
        raise FileNotFoundError(f"CLIP BPE vocabulary not found: {path}")
    if expected_sha256 is not None:
        got = sha256_file(path)
        if got != expected_sha256:
            raise ValueError(
                f"CLIP BPE vocabulary {path} has sha256 {got}, expected {expected_sha256}: the file is "
                "corrupt or a different merge list, which would give different token ids. Reinstall "
                "videokd-core (the file ships as package data) or pass expected_sha256=None for a "
                "deliberately different vocabulary."
            )
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    # line 0 is a version header; the original keeps the first _NUM_MERGES merges after it
    merges = [tuple(line.split()) for line in lines[1 : _NUM_MERGES + 1]]
    bad = [i + 2 for i, m in enumerate(merges) if len(m) != 2]
    if bad or len(merges) != _NUM_MERGES:
        raise ValueError(f"CLIP BPE vocabulary {path}: malformed merge lines (e.g. line {bad[:3]})")
    return merges  # type: ignore[return-value]


class SimpleTokenizer:
    """OpenAI CLIP's BPE tokenizer (49,408 tokens).

    ``encode(text) -> list[int]`` gives the BPE ids without start/end tokens; ``decode(ids) -> str``
    maps ids back to (cleaned, lower-cased) text, with a space after every word. The vocabulary is
    ``[256 bytes] + [256 bytes + "</w>"] + [48,894 merges] + [SOT, EOT]``.
    """

    def __init__(self, bpe_path: str | os.PathLike | None = None, *, expected_sha256: str | None = VOCAB_SHA256):
        path = Path(bpe_path) if bpe_path is not None else VOCAB_PATH
        merges = _read_merges(path, expected_sha256)
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {c: b for b, c in self.byte_encoder.items()}
        vocab = list(self.byte_encoder.values())
        vocab += [v + "</w>" for v in vocab]
        vocab += ["".join(m) for m in merges]
        vocab += [SOT_TOKEN, EOT_TOKEN]
        self.encoder: dict[str, int] = {tok: i for i, tok in enumerate(vocab)}
        self.decoder: dict[int, str] = dict(enumerate(vocab))
        self.bpe_ranks: dict[tuple[str, str], int] = {m: i for i, m in enumerate(merges)}
        # the specials must never be split into bytes
        self._cache: dict[str, str] = {SOT_TOKEN: SOT_TOKEN, EOT_TOKEN: EOT_TOKEN}
        self.sot_token_id = self.encoder[SOT_TOKEN]
        self.eot_token_id = self.encoder[EOT_TOKEN]

    @property
    def vocab_size(self) -> int:
        return len(self.encoder)

    def bpe(self, piece: str) -> str:
        """Apply the merges to one pre-split piece (already byte-mapped); return its tokens joined by spaces."""
        cached = self._cache.get(piece)
        if cached is not None:
            return cached
        word = list(piece[:-1]) + [piece[-1] + "</w>"]
        ranks = self.bpe_ranks
        while len(word) > 1:
            # the lowest-ranked adjacent pair is merged everywhere it occurs, left to right
            best = min(zip(word, word[1:]), key=lambda pair: ranks.get(pair, float("inf")))
            if best not in ranks:
                break
            first, second = best
            merged: list[str] = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        out = " ".join(word)
        self._cache[piece] = out
        return out

    def encode(self, text: str) -> list[int]:
        """BPE ids of ``text`` (no SOT/EOT)."""
        ids: list[int] = []
        for piece in _PRE_SPLIT.findall(_clean(text)):
            mapped = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[tok] for tok in self.bpe(mapped).split(" "))
        return ids

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Text of ``ids``; every end-of-word marker becomes a space (``"a photo ."`` -> ``"a photo . "``)."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        text = "".join(self.decoder[int(i)] for i in ids)
        raw = bytearray(self.byte_decoder[c] for c in text)
        return raw.decode("utf-8", errors="replace").replace("</w>", " ")

    def __call__(self, texts: str | Sequence[str], context_length: int = 77, truncate: bool = False) -> torch.Tensor:
        """Same as :func:`tokenize` with this tokenizer."""
        return _tokenize_with(self, texts, context_length, truncate)


def _tokenize_with(
    tok: SimpleTokenizer, texts: str | Sequence[str], context_length: int, truncate: bool
) -> torch.Tensor:
    if isinstance(texts, str):
        texts = [texts]
    if context_length < 2:
        raise ValueError(f"context_length must be >= 2 (room for start and end tokens), got {context_length}")
    rows = [[tok.sot_token_id, *tok.encode(t), tok.eot_token_id] for t in texts]
    result = torch.zeros(len(rows), context_length, dtype=torch.long)
    for i, ids in enumerate(rows):
        if len(ids) > context_length:
            if not truncate:
                raise TextTooLongError(
                    f"text {i} needs {len(ids)} tokens (with start/end), more than context_length="
                    f"{context_length}; pass truncate=True to cut it. Text: {texts[i][:120]!r}"
                )
            # keep the first context_length ids; the last one becomes EOT so that EOT pooling
            # (argmax over ids) still finds the end of the sequence
            ids = ids[:context_length]
            ids[-1] = tok.eot_token_id
        result[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return result


@functools.lru_cache(maxsize=1)
def default_tokenizer() -> SimpleTokenizer:
    """The shared tokenizer over the packaged vocabulary (built once, ~0.3 s)."""
    return SimpleTokenizer()


def tokenize(texts: str | Sequence[str], context_length: int = 77, truncate: bool = False) -> torch.Tensor:
    """Token ids ``(N, context_length)`` int64: ``[SOT] + bpe ids + [EOT]``, zero-padded.

    Like the original ``clip.tokenize``: a text longer than ``context_length`` raises
    :class:`TextTooLongError` (a ``RuntimeError``) unless ``truncate=True``, which keeps the first
    ``context_length`` ids and overwrites the last one with EOT.
    """
    return _tokenize_with(default_tokenizer(), texts, context_length, truncate)
