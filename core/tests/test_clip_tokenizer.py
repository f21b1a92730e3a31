"""videokd.clip tokenizer: layout of the ids, truncation, specials, decoding, vocabulary checks.

Exact ids against the original are pinned by the kiclip ``tokenizer`` fixture (test_clip_parity.py).
"""

from __future__ import annotations

import gzip
import shutil
import string

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from videokd import clip

SOT, EOT = 49406, 49407


def test_vocabulary_layout() -> None:
    tok = clip.default_tokenizer()
    assert tok.vocab_size == 49408
    assert (tok.sot_token_id, tok.eot_token_id) == (SOT, EOT)
    assert tok.encoder["!"] == 0 and tok.encoder["!</w>"] == 256  # bytes, then bytes + end-of-word
    chars = list(tok.byte_encoder.values())
    assert len(set(chars)) == 256 and all(c.isprintable() and not c.isspace() for c in chars)
    assert clip.VOCAB_PATH.is_file() and clip.VOCAB_PATH.name == "bpe_simple_vocab_16e6.txt.gz"


def test_tokenize_layout_and_padding() -> None:
    tokens = clip.tokenize(["a photo of a cat.", ""])
    assert tokens.shape == (2, 77) and tokens.dtype == torch.int64
    ids = clip.default_tokenizer().encode("a photo of a cat.")
    assert tokens[0, : len(ids) + 2].tolist() == [SOT, *ids, EOT]
    assert (tokens[0, len(ids) + 2 :] == 0).all()
    assert tokens[1, :3].tolist() == [SOT, EOT, 0]
    # a single string is a batch of one; a batch equals its rows tokenised one by one
    assert torch.equal(clip.tokenize("a photo of a cat."), tokens[:1])
    assert clip.tokenize(["x y", "z"], context_length=5).shape == (2, 5)


def test_cleaning_case_whitespace_and_html() -> None:
    tok = clip.default_tokenizer()
    assert tok.encode("  A   Photo\tOF\na CAT. ") == tok.encode("a photo of a cat.")
    assert tok.encode("Tom &amp;amp; Jerry") == tok.encode("tom & jerry")
    # one digit per token, contractions split off
    assert len(tok.encode("2024")) == 4
    assert tok.decode(tok.encode("it's")) == "it 's "


def test_special_token_literals() -> None:
    tok = clip.default_tokenizer()
    assert tok.encode("<|startoftext|>hello<|endoftext|>") == [SOT, *tok.encode("hello"), EOT]


def test_too_long_raises_unless_truncate() -> None:
    tok = clip.default_tokenizer()
    n = len(tok.encode("a " * 75))
    assert n == 75
    assert clip.tokenize("a " * 75)[0, 76].item() == EOT  # 75 + SOT + EOT fits exactly
    with pytest.raises(clip.TextTooLongError, match=r"text 1 needs 78 tokens .* context_length=77"):
        clip.tokenize(["ok", "a " * 76])
    assert issubclass(clip.TextTooLongError, RuntimeError)  # what the original raises
    cut = clip.tokenize("a " * 76, truncate=True)[0]
    a = tok.encode("a")[0]
    assert cut[0] == SOT and (cut[1:76] == a).all() and cut[76] == EOT
    short = clip.tokenize("one two three four five", context_length=4, truncate=True)[0]
    assert short.tolist() == [SOT, *tok.encode("one two"), EOT]
    with pytest.raises(ValueError, match="context_length must be >= 2"):
        clip.tokenize("x", context_length=1)


_WORDS = st.lists(st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=12), min_size=0, max_size=12)


@settings(max_examples=60, deadline=None)
@given(_WORDS)
def test_decode_round_trips_lowercase_words(words: list[str]) -> None:
    tok = clip.default_tokenizer()
    text = " ".join(words)
    assert tok.decode(tok.encode(text)) == "".join(w + " " for w in words)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + string.punctuation + " ", max_size=40))
def test_decode_then_encode_is_stable_for_ascii(text: str) -> None:
    # decoding only adds a space after each word piece, so re-encoding gives the same ids
    tok = clip.default_tokenizer()
    ids = tok.encode(text)
    assert tok.encode(tok.decode(ids)) == ids
    assert tok.decode(torch.tensor(ids)) == tok.decode(ids)


def test_vocabulary_checksum_is_verified(tmp_path) -> None:
    copy = tmp_path / "bpe.txt.gz"
    shutil.copyfile(clip.VOCAB_PATH, copy)
    assert clip.SimpleTokenizer(copy).encode("hello world") == clip.default_tokenizer().encode("hello world")
    # the same merges with two swapped: a different vocabulary, caught by the hash
    with gzip.open(clip.VOCAB_PATH, "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    lines[1], lines[2] = lines[2], lines[1]
    tampered = tmp_path / "tampered.txt.gz"
    with gzip.open(tampered, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    with pytest.raises(ValueError, match=r"tampered.txt.gz has sha256 [0-9a-f]{64}, expected 924691ac"):
        clip.SimpleTokenizer(tampered)
    assert clip.SimpleTokenizer(tampered, expected_sha256=None).vocab_size == 49408
    with pytest.raises(FileNotFoundError, match="vocabulary not found"):
        clip.SimpleTokenizer(tmp_path / "missing.txt.gz")
