"""videokd.clip model: SDPA attention, OpenAI layout and sizes, per-block hooks, dtype handling."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from videokd import clip

TINY = clip.CLIPConfig(
    embed_dim=16,
    image_resolution=32,
    vision_layers=2,
    vision_width=64,
    vision_patch_size=16,
    context_length=8,
    vocab_size=64,
    transformer_width=64,
    transformer_layers=2,
)


def _tiny(seed: int = 0) -> clip.CLIP:
    torch.manual_seed(seed)
    model = clip.CLIP(TINY).eval()
    # non-zero biases so that every parameter matters
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.1)
    return model


def _text(n: int = 3, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, TINY.vocab_size - 1, (n, TINY.context_length), generator=g)
    eot = torch.tensor([3, 5, 7][:n])
    ids[torch.arange(n), eot] = TINY.vocab_size - 1  # EOT = the largest id
    ids[torch.arange(TINY.context_length) > eot[:, None]] = 0
    return ids


def _explicit_attention(mha: clip.MultiheadAttention, x, kv=None, mask=None):
    """softmax(q k^T / sqrt(d) + mask) v in float64, written out."""
    x = x.double()
    kv = x if kv is None else kv.double()
    w, b = mha.in_proj_weight.double(), mha.in_proj_bias.double()
    d, h = mha.embed_dim, mha.num_heads
    q = x @ w[:d].T + b[:d]
    k = kv @ w[d : 2 * d].T + b[d : 2 * d]
    v = kv @ w[2 * d :].T + b[2 * d :]

    def heads(t):
        return t.view(t.shape[0], t.shape[1], h, d // h).transpose(1, 2)

    q, k, v = heads(q), heads(k), heads(v)
    scores = q @ k.transpose(-1, -2) / math.sqrt(d // h)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask.double()
    o = torch.softmax(scores, dim=-1) @ v
    o = o.transpose(1, 2).reshape(x.shape[0], x.shape[1], d)
    return o @ mha.out_proj.weight.double().T + mha.out_proj.bias.double()


@pytest.mark.parametrize("case", ["plain", "causal", "float_mask", "bool_mask", "cross"])
def test_sdpa_equals_explicit_softmax_attention(case: str) -> None:
    torch.manual_seed(0)
    mha = clip.MultiheadAttention(32, 4)
    with torch.no_grad():
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    x = torch.randn(3, 7, 32)
    kv, mask, kwargs = None, None, {}
    causal = torch.ones(7, 7, dtype=torch.bool).tril()
    if case == "causal":
        mask, kwargs = causal, {"is_causal": True}
    elif case == "float_mask":
        # OpenAI's text mask: -inf above the diagonal, added to the scores
        mask = torch.full((7, 7), float("-inf")).triu(1)
        kwargs = {"attn_mask": mask}
    elif case == "bool_mask":
        mask = torch.rand(3, 1, 7, 7) > 0.3
        mask[..., 0] = True  # every query keeps one key
        kwargs = {"attn_mask": mask}
    elif case == "cross":
        kv = torch.randn(3, 5, 32)
    got = mha(x, kv, **kwargs)
    expected = _explicit_attention(mha, x, kv, mask)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), expected, atol=1e-6, rtol=0)
    # the projections exposed for custom attention compose to the same thing
    q, k, v = mha.in_projection(x, kv)
    assert q.shape == (3, 4, 7, 8) and k.shape == (3, 4, kv.shape[1] if kv is not None else 7, 8)
    o = F.scaled_dot_product_attention(
        q, k, v, attn_mask=kwargs.get("attn_mask"), is_causal=kwargs.get("is_causal", False)
    )
    torch.testing.assert_close(mha.out_projection(o), got, atol=1e-6, rtol=0)


def test_attention_loads_into_torch_multihead_attention_and_agrees() -> None:
    torch.manual_seed(0)
    ours = clip.MultiheadAttention(32, 4)
    with torch.no_grad():
        ours.in_proj_bias.normal_()
        ours.out_proj.bias.normal_()
    ref = nn.MultiheadAttention(32, 4)
    ref.load_state_dict(ours.state_dict(), strict=True)  # same names, same q/k/v stacking
    x = torch.randn(7, 3, 32)  # torch MHA is sequence-first
    mask = torch.full((7, 7), float("-inf")).triu(1)
    expected, _ = ref(x, x, x, need_weights=False, attn_mask=mask)
    got = ours(x.transpose(0, 1), is_causal=True).transpose(0, 1)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


# parameter counts of OpenAI's released models
@pytest.mark.parametrize(
    "name, n_params",
    [("ViT-B/32", 151_277_313), ("ViT-B/16", 149_620_737), ("ViT-L/14", 427_616_513), ("ViT-L/14@336px", 427_944_193)],
)
def test_named_configs_build_with_openai_layout(name: str, n_params: int) -> None:
    model = clip.create_model(name, device="meta")
    cfg = model.config
    assert sum(p.numel() for p in model.parameters()) == n_params
    sd = model.state_dict()
    assert sd["visual.conv1.weight"].shape == (cfg.vision_width, 3, cfg.vision_patch_size, cfg.vision_patch_size)
    assert sd["visual.positional_embedding"].shape == (cfg.grid**2 + 1, cfg.vision_width)
    assert sd[f"visual.transformer.resblocks.{cfg.vision_layers - 1}.attn.in_proj_weight"].shape == (
        3 * cfg.vision_width,
        cfg.vision_width,
    )
    assert sd["token_embedding.weight"].shape == (49408, cfg.transformer_width)
    assert sd["text_projection"].shape == (cfg.transformer_width, cfg.embed_dim)
    assert model.visual.transformer.heads == cfg.vision_width // 64
    # the sizes come back from the state dict exactly as the original build_model infers them
    assert clip.infer_config(sd) == cfg


def test_config_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="vision_width=32 < 64"):
        clip.CLIPConfig(embed_dim=8, image_resolution=32, vision_layers=1, vision_width=32, vision_patch_size=16)
    with pytest.raises(ValueError, match="not a multiple of vision_patch_size"):
        clip.CLIPConfig(embed_dim=8, image_resolution=30, vision_layers=1, vision_width=64, vision_patch_size=16)
    with pytest.raises(ValueError, match="unknown CLIP model"):
        clip.create_model("ViT-H/14")
    model = _tiny()
    with pytest.raises(ValueError, match="does not match the model's input_resolution 32"):
        model.encode_image(torch.randn(1, 3, 48, 48))
    with pytest.raises(ValueError, match="exceed the model's context_length"):
        model.encode_text(torch.zeros(1, TINY.context_length + 1, dtype=torch.long))


def test_visual_per_block_outputs_and_block_by_block_run() -> None:
    model = _tiny()
    vis = model.visual
    images = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        tokens, blocks = vis.forward_features(images, return_intermediates=True)
        assert len(blocks) == TINY.vision_layers and tokens.shape == (4, 1 + 4, TINY.vision_width)
        torch.testing.assert_close(blocks[-1], tokens, rtol=0, atol=0)
        x = vis.embed(images)
        for blk, expected in zip(vis.transformer.resblocks, blocks):
            x = blk(x)
            torch.testing.assert_close(x, expected, rtol=0, atol=0)
        torch.testing.assert_close(vis.pool(tokens), model.encode_image(images), rtol=0, atol=0)
        # the head by hand: ln_post on the class token, then @ proj
        manual = F.layer_norm(tokens[:, 0], (64,), vis.ln_post.weight, vis.ln_post.bias, 1e-5) @ vis.proj
        torch.testing.assert_close(model.encode_image(images), manual, rtol=1e-5, atol=1e-6)


def test_video_batches_match_flattened_frames() -> None:
    model = _tiny()
    video = torch.randn(2, 3, 3, 32, 32)  # (B, T, 3, H, W)
    with torch.no_grad():
        per_video = model.encode_image(video)
        flat = model.encode_image(video.reshape(6, 3, 32, 32))
    assert per_video.shape == (2, 3, TINY.embed_dim)
    torch.testing.assert_close(per_video.reshape(6, -1), flat, rtol=1e-5, atol=1e-6)


def test_headless_visual_tower_returns_tokens() -> None:
    vt = clip.VisionTransformer(input_resolution=32, patch_size=16, width=64, layers=1, heads=2, output_dim=None)
    assert not any(k.startswith(("ln_post", "proj")) for k in vt.state_dict())
    assert vt(torch.randn(2, 3, 32, 32)).shape == (2, 5, 64)
    with pytest.raises(RuntimeError, match="without a head"):
        vt.pool(torch.randn(2, 5, 64))


def test_text_tower_is_causal_and_pools_at_eot() -> None:
    model = _tiny()
    text = _text()
    with torch.no_grad():
        base = model.encode_text(text)
        # tokens after the EOT cannot influence the result (causal mask)
        changed = text.clone()
        changed[0, 4:] = 7
        changed[0, 3] = TINY.vocab_size - 1
        torch.testing.assert_close(model.encode_text(changed)[0], base[0], rtol=0, atol=1e-6)
        # ... but a token before it does
        before = text.clone()
        before[0, 1] = (before[0, 1] + 1) % (TINY.vocab_size - 2) + 1
        assert not torch.allclose(model.encode_text(before)[0], base[0])
        # cutting the padding off gives the same features
        torch.testing.assert_close(model.encode_text(text[:, :6])[:2], base[:2], rtol=1e-5, atol=1e-6)
    # a separate TextTransformer with the same weights computes the same thing
    tower = clip.TextTransformer(embed_dim=16, context_length=8, vocab_size=64, width=64, layers=2)
    text_keys = {k: v for k, v in model.state_dict().items() if not k.startswith(("visual.", "logit_scale"))}
    clip.load_state_dict_strict(tower, text_keys)
    with torch.no_grad():
        torch.testing.assert_close(tower(text), base, rtol=0, atol=0)


def test_clip_forward_logits() -> None:
    model = _tiny()
    images, text = torch.randn(2, 3, 32, 32), _text()
    with torch.no_grad():
        per_image, per_text = model(images, text)
        expected = (
            model.logit_scale.exp()
            * F.normalize(model.encode_image(images), dim=-1)
            @ F.normalize(model.encode_text(text), dim=-1).T
        )
    assert per_image.shape == (2, 3)
    torch.testing.assert_close(per_image, expected)
    torch.testing.assert_close(per_text, expected.T)


def test_convert_weights_fp16_keeps_layernorm_in_fp32(monkeypatch) -> None:
    model = _tiny()
    images, text = torch.randn(2, 3, 32, 32), _text()
    with torch.no_grad():
        ref_img, ref_txt = model.encode_image(images), model.encode_text(text)
    clip.convert_weights(model, torch.float16)
    assert model.dtype == torch.float16
    assert model.visual.conv1.weight.dtype == torch.float16
    blk = model.visual.transformer.resblocks[0]
    assert blk.attn.in_proj_weight.dtype == blk.mlp.c_fc.weight.dtype == blk.attn.out_proj.bias.dtype == torch.float16
    assert model.visual.proj.dtype == model.text_projection.dtype == torch.float16
    assert blk.ln_1.weight.dtype == model.ln_final.weight.dtype == torch.float32
    assert model.visual.class_embedding.dtype == model.token_embedding.weight.dtype == torch.float32

    seen: list[tuple[torch.dtype, torch.dtype]] = []
    real_layer_norm = F.layer_norm

    def recording_layer_norm(x, shape, weight=None, bias=None, eps=1e-5):
        seen.append((x.dtype, weight.dtype))
        return real_layer_norm(x, shape, weight, bias, eps)

    monkeypatch.setattr(F, "layer_norm", recording_layer_norm)
    with torch.no_grad():
        img, txt = model.encode_image(images), model.encode_text(text)
    # ln_pre + 2 per block + ln_post (vision), 2 per block + ln_final (text)
    assert len(seen) == (2 + 2 * TINY.vision_layers) + (1 + 2 * TINY.transformer_layers)
    assert set(seen) == {(torch.float32, torch.float32)}
    assert img.dtype == txt.dtype == torch.float16
    torch.testing.assert_close(img.float(), ref_img, rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(txt.float(), ref_txt, rtol=2e-2, atol=2e-2)

    # LayerNorm output is the fp32 result rounded once to the input dtype
    ln = clip.LayerNorm(64).half()
    x = torch.randn(4, 64).half() * 30 + 100
    expected = real_layer_norm(x.float(), (64,), ln.weight.float(), ln.bias.float(), 1e-5).half()
    assert torch.equal(ln(x), expected)


def test_bf16_autocast_runs_layernorm_in_fp32() -> None:
    model = _tiny()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model.encode_image(images)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = model.encode_image(images)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    torch.testing.assert_close(got.float(), ref, rtol=5e-2, atol=5e-2)


def test_grad_checkpointing_gives_identical_gradients() -> None:
    model = _tiny().train()
    images, text = torch.randn(2, 3, 32, 32), _text()

    def grads() -> dict[str, torch.Tensor]:
        model.zero_grad(set_to_none=True)
        per_image, _ = model(images, text)
        per_image.square().sum().backward()
        return {k: p.grad.clone() for k, p in model.named_parameters()}

    plain = grads()
    model.set_grad_checkpointing(True)
    checkpointed = grads()
    for k in plain:
        torch.testing.assert_close(checkpointed[k], plain[k], rtol=1e-5, atol=1e-7, msg=k)


def test_block_attention_is_the_override_point() -> None:
    """A subclass that swaps the attention keeps names and the rest of the block."""

    class NoAttention(clip.ResidualAttentionBlock):
        def attention(self, x, attn_mask=None, is_causal=False):
            return torch.zeros_like(x)

    torch.manual_seed(0)
    blk = NoAttention(64, 2)
    std = clip.ResidualAttentionBlock(64, 2)
    std.load_state_dict(blk.state_dict(), strict=True)
    x = torch.randn(2, 5, 64)
    with torch.no_grad():
        torch.testing.assert_close(blk(x), x + std.mlp(std.ln_2(x)))
        assert not torch.allclose(std(x), blk(x))


def test_clip_accepts_a_replacement_visual_tower() -> None:
    """Paper packages swap the image tower (e.g. temporal attention) and keep OpenAI's names."""

    class Doubled(clip.VisionTransformer):
        def forward(self, x):
            return 2 * super().forward(x)

    torch.manual_seed(0)
    visual = Doubled(input_resolution=32, patch_size=16, width=64, layers=2, heads=1, output_dim=16)
    model = clip.CLIP(TINY, visual=visual).eval()
    plain = clip.CLIP(TINY).eval()
    assert list(model.state_dict()) == list(plain.state_dict())
    plain.load_state_dict(model.state_dict(), strict=True)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.encode_image(images), 2 * plain.encode_image(images))
