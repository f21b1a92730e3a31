"""videokd.clip.load: OpenAI TorchScript archives, plain / nested state dicts, clear errors, preprocessing."""

from __future__ import annotations

import hashlib
import warnings

import pytest
import torch
from torch import nn

from videokd import clip
from videokd.clip import loading

TINY = clip.CLIPConfig(
    embed_dim=16,
    image_resolution=32,
    vision_layers=2,
    vision_width=64,
    vision_patch_size=16,
    context_length=8,
    vocab_size=64,
    transformer_width=64,
    transformer_layers=1,
)


@pytest.fixture(scope="module")
def tiny() -> clip.CLIP:
    """A random tiny CLIP whose weights are exactly representable in fp16 (like OpenAI's files)."""
    torch.manual_seed(0)
    model = clip.CLIP(TINY).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.1)
            p.copy_(p.half().float())
    return model


@pytest.fixture(scope="module")
def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    images = torch.randn(2, 3, 32, 32, generator=g)
    text = torch.randint(1, 60, (3, 8), generator=g)
    text[:, 5] = 63
    return images, text


def _outputs(model: clip.CLIP, inputs) -> tuple[torch.Tensor, torch.Tensor]:
    images, text = inputs
    with torch.no_grad():
        return model.encode_image(images), model.encode_text(text)


def _assert_same_model(loaded: clip.CLIP, reference: clip.CLIP, inputs) -> None:
    assert loaded.config == reference.config
    assert all(v.dtype == torch.float32 for v in loaded.state_dict().values())
    for got, expected in zip(_outputs(loaded, inputs), _outputs(reference, inputs)):
        assert torch.equal(got, expected)


def _openai_archive(model: clip.CLIP, inputs, path) -> None:
    """Write a TorchScript archive laid out like OpenAI's: fp16 weights plus three int metadata entries."""
    archived = clip.CLIP(model.config).eval()
    archived.load_state_dict(model.state_dict())
    archived.half()
    # OpenAI's archives carry these as entries of their state dict
    del archived.context_length, archived.vocab_size
    for key, value in [
        ("input_resolution", TINY.image_resolution),
        ("context_length", TINY.context_length),
        ("vocab_size", TINY.vocab_size),
    ]:
        archived.register_buffer(key, torch.tensor(value))
    images, text = inputs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation notes
        traced = torch.jit.trace(archived, (images.half(), text), check_trace=False)
        traced.save(str(path))


def test_load_plain_state_dict(tiny, inputs, tmp_path) -> None:
    path = tmp_path / "clip.pt"
    torch.save(tiny.state_dict(), path)
    model, preprocess = clip.load(path)
    _assert_same_model(model, tiny, inputs)
    assert not model.training
    assert isinstance(preprocess, clip.Preprocess) and preprocess.size == TINY.image_resolution


def test_load_torchscript_archive(tiny, inputs, tmp_path) -> None:
    path = tmp_path / "ViT-tiny.pt"
    _openai_archive(tiny, inputs, path)
    state = clip.read_state_dict(path)
    assert state["visual.proj"].dtype == torch.float16
    assert {"input_resolution", "context_length", "vocab_size"} <= set(state)
    model, _ = clip.load(path)
    assert type(model) is clip.CLIP  # an eager model built from the archive's weights
    _assert_same_model(model, tiny, inputs)


def test_archive_zip_reader_matches_torch_jit(tiny, inputs, tmp_path, monkeypatch) -> None:
    """Without torch.jit (deprecated) the weights are read straight from the archive's zip."""
    path = tmp_path / "ViT-tiny.pt"
    _openai_archive(tiny, inputs, path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = torch.jit.load(str(path), map_location="cpu").state_dict()
    direct = loading._read_archive_tensors(path)
    assert list(direct) == list(reference)
    for key, value in reference.items():
        assert direct[key].dtype == value.dtype and torch.equal(direct[key], value), key

    def unavailable(*args, **kwargs):
        raise RuntimeError("torch.jit.load is gone")

    monkeypatch.setattr(torch.jit, "load", unavailable)
    model, _ = clip.load(path)
    _assert_same_model(model, tiny, inputs)


@pytest.mark.parametrize("wrapper", ["state_dict", "model_state", "model_state_dict"])
def test_load_nested_and_module_prefixed(tiny, inputs, tmp_path, wrapper: str) -> None:
    path = tmp_path / "ckpt.pth"
    torch.save({"epoch": 3, wrapper: {f"module.{k}": v for k, v in tiny.state_dict().items()}, "cfg": "a: 1\n"}, path)
    model, _ = clip.load(path)
    _assert_same_model(model, tiny, inputs)


def test_load_with_prefix_selects_a_sub_model(tiny, inputs, tmp_path) -> None:
    # KICLIP's wrapper holds the teacher under raw_model.* next to other weights
    state = {f"raw_model.{k}": v for k, v in tiny.state_dict().items()}
    state["projector_v.0.weight"] = torch.zeros(16, 16)
    path = tmp_path / "wrapper.pyth"
    torch.save({"model_state": state}, path)
    model, _ = clip.load(path, prefix="raw_model.")
    _assert_same_model(model, tiny, inputs)
    with pytest.raises(ValueError, match="no key starts with 'teacher.'"):
        clip.load(path, prefix="teacher.")


def test_load_dtype_and_jit_options(tiny, tmp_path) -> None:
    path = tmp_path / "clip.pt"
    torch.save(tiny.state_dict(), path)
    model, _ = clip.load(path, dtype=torch.bfloat16)
    assert model.visual.proj.dtype == torch.bfloat16 and model.ln_final.weight.dtype == torch.float32
    with pytest.raises(ValueError, match="jit=True is not supported"):
        clip.load(path, jit=True)


def test_wrong_model_file_names_missing_unexpected_and_shapes(tiny, tmp_path) -> None:
    state = dict(tiny.state_dict())
    del state["visual.ln_post.weight"]
    state["visual.extra_head.weight"] = torch.zeros(3)
    state["ln_final.bias"] = torch.zeros(65)
    path = tmp_path / "wrong.pt"
    torch.save(state, path)
    with pytest.raises(clip.CheckpointMismatchError) as info:
        clip.load(path)
    message = str(info.value)
    assert str(path) in message
    assert "missing keys (1)" in message and "visual.ln_post.weight" in message
    assert "unexpected keys (1)" in message and "visual.extra_head.weight" in message
    assert "ln_final.bias: checkpoint (65,) vs model (64,)" in message


def test_file_of_another_model_is_rejected_clearly(tmp_path) -> None:
    path = tmp_path / "resnet.pt"
    torch.save(nn.Sequential(nn.Linear(4, 4)).state_dict(), path)
    with pytest.raises(
        clip.CheckpointMismatchError, match=r"not an OpenAI ViT CLIP state dict: missing \['visual.conv1.weight'"
    ):
        clip.load(path)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="garbage.pt: cannot be read"):
        clip.load(garbage)
    nested = tmp_path / "nested.pt"
    torch.save({"epoch": 1, "optimizer": {"lr": 0.1}}, nested)
    with pytest.raises(ValueError, match="no state dict found"):
        clip.load(nested)


def test_model_name_without_file_says_where_to_download(tmp_path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        clip.load("ViT-B/16", download_root=tmp_path)
    message = str(info.value)
    assert clip.MODEL_URLS["ViT-B/16"] in message
    assert "5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f" in message
    assert str(tmp_path / "ViT-B-16.pt") in message
    with pytest.raises(FileNotFoundError, match="neither a file nor a known CLIP model name"):
        clip.load("ViT-Q/99", download_root=tmp_path)
    assert clip.model_sha256("ViT-L/14").startswith("b8cca3fd") and clip.model_sha256("ViT-L/14").endswith("3836")
    assert set(clip.available_models()) == {"ViT-B/32", "ViT-B/16", "ViT-L/14", "ViT-L/14@336px"}


def test_model_name_lookup_checks_sha256(tiny, inputs, tmp_path, monkeypatch) -> None:
    path = tmp_path / "ViT-B-16.pt"
    path.write_bytes(b"truncated download")
    with pytest.raises(ValueError, match="has sha256 .* but 'ViT-B/16' should be 5806e77c"):
        clip.load("ViT-B/16", download_root=tmp_path)
    # a registered name whose file is present and intact loads from the download root
    good = tmp_path / "tiny.pt"
    torch.save(tiny.state_dict(), good)
    sha = hashlib.sha256(good.read_bytes()).hexdigest()
    monkeypatch.setitem(loading.MODEL_URLS, "tiny", f"https://example.invalid/clip/models/{sha}/tiny.pt")
    monkeypatch.setenv("VIDEOKD_CLIP_ROOT", str(tmp_path))
    model, _ = clip.load("tiny")
    _assert_same_model(model, tiny, inputs)


def test_preprocess_tensors_and_pil() -> None:
    from PIL import Image

    pre = clip.Preprocess(32)
    # a constant image normalises to (c/255 - mean) / std everywhere
    flat = torch.full((3, 40, 60), 128, dtype=torch.uint8)
    out = pre(flat)
    assert out.shape == (3, 32, 32) and out.dtype == torch.float32
    expected = (128 / 255 - torch.tensor(clip.CLIP_MEAN)) / torch.tensor(clip.CLIP_STD)
    torch.testing.assert_close(out.mean(dim=(1, 2)), expected, rtol=0, atol=1e-5)
    # short side resized to 32, then the centre crop: a red band in the middle columns survives
    img = torch.zeros(3, 32, 64, dtype=torch.uint8)
    img[0, :, 16:48] = 255
    out = pre(img)
    assert (out[0] > 1.5).all()
    # video frames in any leading layout, uint8 or float
    video = torch.randint(0, 256, (2, 4, 3, 48, 40), dtype=torch.uint8)
    batched = pre(video)
    assert batched.shape == (2, 4, 3, 32, 32)
    torch.testing.assert_close(batched[1, 2], pre(video[1, 2]))
    torch.testing.assert_close(pre(video.float() / 255), batched, rtol=0, atol=0.02)
    pil = Image.fromarray(video[0, 0].permute(1, 2, 0).numpy())
    torch.testing.assert_close(pre(pil), batched[0, 0], rtol=0, atol=0.05)
    with pytest.raises(ValueError, match=r"expected an RGB image tensor"):
        pre(torch.zeros(4, 8, 8))
