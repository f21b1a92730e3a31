"""Parity of videokd.clip with the CLIP parts of the KICLIP and TDS-CLIP fixtures.

Every fixture of both packages is read; the ones that pin plain CLIP behaviour are dispatched by
``name`` to a checker below (the rest belong to the paper packages). Sizes come from each fixture's
``config`` and tensor shapes, never from the README.
"""

from __future__ import annotations

import warnings
from typing import Callable

import pytest
import torch
import torch.nn.functional as F

from videokd import clip
from videokd.testing import assert_matches, fixture_files, load_fixture, prefix_tolerance


def _tolerance(fx: dict) -> Callable:
    # kiclip convention: longest dotted prefix wins, list indices are not part of the path
    return prefix_tolerance(
        fx.get("tolerance_overrides"), (float(fx.get("atol", 0.0)), float(fx.get("rtol", 0.0))), include_indices=False
    )


def _check(got: dict, fx: dict, section: str = "outputs") -> None:
    parts = section.split(".")
    expected = fx[parts[0]]
    for part in parts[1:]:
        expected = expected[part]
    assert_matches(
        got,
        {k: expected[k] for k in got},
        atol=float(fx.get("atol", 0.0)),
        rtol=float(fx.get("rtol", 0.0)),
        path=parts,
        tolerance=_tolerance(fx),
        context=fx["name"],
    )


def _sub_state(state: dict, prefix: str, *, drop: tuple[str, ...] = ()) -> dict:
    return {
        k[len(prefix) :]: v
        for k, v in state.items()
        if k.startswith(prefix) and not any(d in k[len(prefix) :] for d in drop)
    }


def _text_tower(state: dict, *, heads: int) -> clip.TextTransformer:
    tower = clip.TextTransformer(
        embed_dim=state["text_projection"].shape[1],
        context_length=state["positional_embedding"].shape[0],
        vocab_size=state["token_embedding.weight"].shape[0],
        width=state["ln_final.weight"].shape[0],
        heads=heads,
        layers=len({k.split(".")[2] for k in state if k.startswith("transformer.resblocks.")}),
    )
    dense = {k: v.to_dense() if v.layout != torch.strided else v for k, v in state.items()}
    clip.load_state_dict_strict(tower, dense, source="fixture state_dict")
    return tower


# ----------------------------------------------------------------------------------------------
# kiclip


def check_tokenizer(fx: dict) -> None:
    cfg, texts, out = fx["config"], fx["inputs"]["texts"], fx["outputs"]
    tok = clip.default_tokenizer()
    assert cfg["vocab_sha256"] == clip.VOCAB_SHA256
    assert (tok.sot_token_id, tok.eot_token_id) == (cfg["sot_token"], cfg["eot_token"])
    bpe_ids = [tok.encode(t) for t in texts]
    raises = []
    for t in texts:
        try:
            clip.tokenize(t, context_length=cfg["context_length"])
            raises.append(False)
        except clip.TextTooLongError:
            raises.append(True)
    got = {
        "bpe_ids": bpe_ids,
        "num_bpe_tokens": torch.tensor([len(i) for i in bpe_ids]),
        "decoded": [tok.decode(i) for i in bpe_ids],
        "raises_without_truncate": raises,
        "tokens": clip.tokenize(texts, context_length=cfg["context_length"], truncate=True),
        "tokens_ctx16_truncate": clip.tokenize(
            texts, context_length=out["tokens_ctx16_truncate"].shape[1], truncate=True
        ),
    }
    _check(got, fx)


def check_text_classifier(fx: dict) -> None:
    """Tokenisation of the given prompt strings and the plain CLIP text tower (prompt building is kiclip's)."""
    out, cfg = fx["outputs"], fx["config"]
    tower = _text_tower(fx["state_dict"], heads=cfg["transformer_heads"])
    length = out["tokens_eval"].shape[-1]
    tokens_eval = torch.stack([clip.tokenize(s, context_length=length) for s in out["prompt_strings_eval"]])
    tokens_train = out["tokens_train"]
    with torch.no_grad():
        feats_eval = torch.stack([tower(t) for t in tokens_eval])
    feats_train = torch.stack([tower(t) for t in tokens_train])
    classifier_train = F.normalize(feats_train.mean(0), dim=-1)
    (classifier_train * fx["inputs"]["grad_probe"]).sum().backward()
    params = dict(tower.named_parameters())
    _check(
        {
            "tokens_eval": tokens_eval,
            "text_features_eval": feats_eval,
            "classifier_eval": F.normalize(feats_eval.mean(0), dim=-1),
            "text_features_train": feats_train.detach(),
            "classifier_train": classifier_train.detach(),
        },
        fx,
    )
    # the drawn training set is one of the eval sets, then the bare description (set 28)
    assert torch.equal(tokens_train[0], tokens_eval[out["train_template_index"]])
    assert torch.equal(tokens_train[1], tokens_eval[-1])
    _check({name: params[name].grad for name in fx["grads"]}, fx, "grads")


def check_kiclip_model(fx: dict) -> None:
    """The frozen teacher (``raw_model.*``) is a plain OpenAI CLIP, and so is the student's text tower."""
    state, inputs = fx["state_dict"], fx["inputs"]
    cfg = fx["config"]
    teacher = clip.build_model(
        _sub_state(state, "raw_model."),
        source="kiclip_model raw_model.*",
        vision_heads=cfg["vision_heads"],
        transformer_heads=cfg["transformer_heads"],
    )
    # every other size is inferred from the state dict, as the original build_model does
    for key in (
        "embed_dim",
        "image_resolution",
        "vision_layers",
        "vision_width",
        "vision_patch_size",
        "context_length",
        "vocab_size",
        "transformer_width",
        "transformer_layers",
    ):
        assert getattr(teacher.config, key) == cfg[key], key
    video = inputs["video"]  # (B, 3, T, R, R) -> clip-major frames (B*T, 3, R, R)
    b, c, t, h, w = video.shape
    frames = video.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
    with torch.no_grad():
        img = teacher.encode_image(frames)
        txt = torch.stack([teacher.encode_text(tk) for tk in inputs["text_tokens_train"]])
        # same frames given as a 5-D video batch (B, T, 3, R, R)
        img_5d = teacher.encode_image(video.permute(0, 2, 1, 3, 4))
    torch.testing.assert_close(img_5d.reshape(b * t, -1), img, rtol=1e-5, atol=1e-6)
    _check(
        {
            "raw_img_encode_unnormalised": img,
            "raw_img_encode": F.normalize(img, dim=-1),
            "raw_text_features_per_set": txt,
            "raw_text_classifier": F.normalize(txt.mean(0), dim=-1),
        },
        fx,
        "outputs.train",
    )
    student_text = _sub_state(state, "model.", drop=("visual.", "logit_scale"))
    tower = _text_tower(student_text, heads=cfg["transformer_heads"])
    with torch.no_grad():
        train = torch.stack([tower(tk) for tk in inputs["text_tokens_train"]])
        evals = torch.stack([tower(tk) for tk in inputs["text_tokens_eval"]])
    _check({"text_features_per_set": train, "text_classifier": F.normalize(train.mean(0), dim=-1)}, fx, "outputs.train")
    _check({"text_features_per_set": evals, "text_classifier": F.normalize(evals.mean(0), dim=-1)}, fx, "outputs.eval")


def check_visual_tower_stem(fx: dict) -> None:
    """Only the stem of KICLIP's student tower is plain CLIP (its blocks use neighbour-frame attention)."""
    cfg, state = fx["config"], fx["state_dict"]
    vt = clip.VisionTransformer(
        input_resolution=cfg["input_resolution"],
        patch_size=cfg["patch_size"],
        width=cfg["width"],
        layers=cfg["layers"],
        heads=cfg["heads"],
        output_dim=cfg["output_dim"],
    )
    clip.load_state_dict_strict(vt, {k: v for k, v in state.items() if "resblocks_f." not in k})
    with torch.no_grad():
        stem = vt.embed(fx["inputs"]["frames"])
    _check({"stem_after_ln_pre": stem}, fx)


# ----------------------------------------------------------------------------------------------
# tdsclip


def check_clip_pretrained_load(fx: dict) -> None:
    """Sizes inferred from an OpenAI-layout fp16 file, and its weights loaded bit-exactly as fp32."""
    sd = fx["inputs"]["openai_state_dict"]
    out = fx["outputs"]
    # the file's text tower is narrower than 64 in the hidden set too; its heads do not matter here
    text_width = sd["ln_final.weight"].shape[0]
    cfg = clip.infer_config(sd, transformer_heads=max(1, text_width // 64))
    inferred = {
        "vision_width": cfg.vision_width,
        "vision_layers": cfg.vision_layers,
        "vision_patch_size": cfg.vision_patch_size,
        "grid": cfg.grid,
        "image_resolution": cfg.image_resolution,
        "vision_heads": cfg.vision_heads,
    }
    model = clip.build_model(sd, transformer_heads=max(1, text_width // 64))
    state = model.state_dict()
    assert all(v.dtype == torch.float32 for v in state.values())
    loaded = {f"{k}": state[k] for k in out["loaded_frozen_values_fp32"]}
    _check({"inferred": inferred, "loaded_frozen_values_fp32": loaded}, fx)
    # every weight of the file lands in the model unchanged (metadata entries are dropped)
    for k, v in sd.items():
        if k not in ("input_resolution", "context_length", "vocab_size"):
            assert torch.equal(state[k], v.float()), k


def check_tdsclip_frozen_trunk(fx: dict) -> None:
    """TDS-CLIP's frozen backbone = CLIP ViT without head, run on the centre frame; every block's tokens."""
    cfg, state, x = fx["config"], fx["state_dict"], fx["inputs"]["x"]
    trunk_state = _sub_state(state, "visual.", drop=("side",))
    vt = clip.VisionTransformer(
        input_resolution=cfg["image_resolution"],
        patch_size=cfg["vision_patch_size"],
        width=cfg["vision_width"],
        layers=cfg["vision_layers"],
        heads=cfg["vision_heads"],
        output_dim=None,
    )
    clip.load_state_dict_strict(vt, trunk_state, source=f"{fx['name']} visual.* (side keys dropped)")
    h, w = x.shape[-2:]
    # train layout (B*T*5, 3, H, W) and test layout (B*V*T, 15, H, W) hold 5 frames per segment
    centre = x.reshape(-1, 5, 3, h, w)[:, 2]
    with torch.no_grad():
        stem = vt.embed(centre)
        _, blocks = vt.transformer(stem, return_intermediates=True)
    # the fixtures are sequence-first (L, N, W); ours are batch-first
    got = {"clip_tokens_after_ln_pre": stem.transpose(0, 1)}
    got.update({f"clip_block_out.{i}": blk.transpose(0, 1) for i, blk in enumerate(blocks)})
    assert len(blocks) == len([k for k in fx["outputs"] if k.startswith("clip_block_out.")])
    _check(got, fx)


CHECKERS: dict[str, Callable[[dict], None]] = {
    "tokenizer": check_tokenizer,
    "text_classifier": check_text_classifier,
    "kiclip_model": check_kiclip_model,
    "visual_tower": check_visual_tower_stem,
    "clip_pretrained_load": check_clip_pretrained_load,
    "model_forward_train": check_tdsclip_frozen_trunk,
    "model_forward_eval": check_tdsclip_frozen_trunk,
}


def _cases() -> list:
    cases = []
    for package in ("kiclip", "tdsclip"):
        for path in fixture_files(package, missing_ok=True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch's note on validating sparse tensors
                fx = load_fixture(path)
            if fx.get("name") in CHECKERS:
                cases.append(pytest.param(path, id=f"{package}/{fx['name']}"))
    return cases


_CASES = _cases()


def test_parity_fixtures_found() -> None:
    # the CLIP-relevant fixtures must be present: an empty parametrisation would pass silently
    assert {c.id.split("/")[1] for c in _CASES} >= {"tokenizer", "clip_pretrained_load"}, _CASES


@pytest.mark.filterwarnings("ignore:Validating sparse tensor")
@pytest.mark.parametrize("path", _CASES)
def test_parity_clip(path) -> None:
    torch.manual_seed(0)
    fx = load_fixture(path)
    CHECKERS[fx["name"]](fx)
