"""Fine-tuning pieces: 112 -> 224 position embeddings, layer-wise lr decay, mixup / cutmix, the audio
"strong" augmentation, the held-out split, weight-file errors (fast, no data)."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from xkd.audio import mask_along_axis, time_warp
from xkd.backbones import build_eval_backbone
from xkd.checkpoint import WeightsError
from xkd.finetune import FinetuneModel, Mixup, build_head, finetune_param_groups, hold_out, layer_id, parse_rand_augment
from xkd.finetune import main as finetune_main

VIDEO_112 = {"frame_size": [3, 112, 112], "num_frames": 32, "patch_spatial": [16, 16], "patch_temporal": 4,
             "vit_config": [16, 2, 2]}  # fmt: skip


def test_pos_embed_112_to_224_interpolated_with_scale_factors_and_trained_at_112_grid():
    torch.manual_seed(0)
    vit = build_eval_backbone(VIDEO_112, modality="video")
    with torch.no_grad():
        vit.pos_embed.normal_()
    assert vit.pos_embed.shape == (1, 1 + 8 * 7 * 7, 16)
    x = torch.randn(1, 3, 32, 224, 224)
    pos = vit.pos_embed_for(x)
    assert pos.shape == (1, 1 + 8 * 14 * 14, 16)  # 1568 patch tokens
    grid = vit.pos_embed[:, 1:].reshape(1, 8, 7, 7, 16).permute(0, 4, 1, 2, 3)
    ref = F.interpolate(grid, scale_factor=(8.1 / 8, 14.1 / 7, 14.1 / 7), mode="trilinear", align_corners=False)
    torch.testing.assert_close(pos[:, 1:], ref.permute(0, 2, 3, 4, 1).reshape(1, -1, 16))
    torch.testing.assert_close(pos[:, :1], vit.pos_embed[:, :1])
    by_size = F.interpolate(grid, size=(8, 14, 14), mode="trilinear", align_corners=False)
    assert not torch.allclose(ref, by_size)  # the factors, not the size, define the sampling grid
    assert torch.equal(vit.pos_embed_for(torch.randn(1, 3, 32, 112, 112)), vit.pos_embed)  # 112: unchanged
    # fine-tuning at 224 trains the 112-grid parameter through the interpolation
    model = FinetuneModel(vit, build_head(16, 5, {"use_dropout": True, "dropout": 0.5}, modality="video")[0])
    model(x).sum().backward()
    assert vit.pos_embed.grad is not None and vit.pos_embed.grad.shape == (1, 393, 16)
    assert vit.pos_embed.grad[0, 1:].abs().sum() > 0


def test_layer_decay_groups_follow_beit_rule():
    vit = build_eval_backbone({**VIDEO_112, "vit_config": [16, 12, 2]}, modality="video")
    model = FinetuneModel(vit, build_head(16, 3, {"use_dropout": False}, modality="video")[0])
    assert layer_id("backbone.cls_token", 12) == 0 and layer_id("backbone.patch_embed.proj.weight", 12) == 0
    assert (
        layer_id("backbone.blocks.0.attn.qkv.weight", 12) == 1 and layer_id("backbone.blocks.11.norm1.bias", 12) == 12
    )
    assert layer_id("backbone.norm.weight", 12) == 13 and layer_id("head.linear.weight", 12) == 13
    groups = finetune_param_groups(model, weight_decay=0.05, layer_decay=0.45)
    mult = {n: g["lr_mult"] for g in groups for n in g["param_names"]}
    wd = {n: g["weight_decay"] for g in groups for n in g["param_names"]}
    assert mult["backbone.pos_embed"] == pytest.approx(0.45**13)
    assert mult["backbone.blocks.4.mlp.fc1.weight"] == pytest.approx(0.45**8)
    assert mult["head.linear.weight"] == 1.0 and mult["backbone.norm.bias"] == 1.0
    assert wd["backbone.pos_embed"] == 0 and wd["backbone.cls_token"] == 0 and wd["backbone.blocks.0.norm1.weight"] == 0
    assert wd["backbone.blocks.0.attn.qkv.weight"] == 0.05 and wd["backbone.patch_embed.proj.weight"] == 0.05
    assert len(mult) == sum(1 for _ in model.parameters())


def test_mixup_targets_and_batch_mixing():
    torch.manual_seed(1)
    mix = Mixup(mixup_alpha=0.6, cutmix_alpha=0.0, prob=1.0, label_smoothing=0.1, num_classes=4)
    x, y = torch.randn(6, 3, 2, 8, 8), torch.tensor([0, 1, 2, 3, 0, 1])
    xm, t = mix(x, y)
    lam = float(t[0, 0] - 0.1 / 4) / 0.9 + 0.0  # row 0: class 0 (lam) mixed with row 5: class 1 (1 - lam)
    torch.testing.assert_close(xm, x * lam + x.flip(0) * (1 - lam), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(t.sum(1), torch.ones(6))
    torch.testing.assert_close(mix.targets(torch.tensor([2]), 1.0), torch.tensor([[0.025, 0.025, 0.925, 0.025]]))
    off = Mixup(mixup_alpha=0.6, prob=0.0, num_classes=4, label_smoothing=0.0)
    xo, to = off(x, y)
    assert torch.equal(xo, x) and torch.equal(to, F.one_hot(y, 4).float())


def test_cutmix_box_spans_height_width_of_every_frame():
    torch.manual_seed(3)
    cut = Mixup(cutmix_alpha=1.0, prob=1.0, label_smoothing=0.0, num_classes=2)
    x = torch.stack((torch.zeros(1, 4, 16, 16), torch.ones(1, 4, 16, 16)))  # (B=2, C, T, H, W)
    for _ in range(20):
        xm, t = cut(x, torch.tensor([0, 1]))
        pasted = xm[0]  # row 0 receives a box of row 1 (ones)
        frac = float(pasted.mean())
        if 0 < frac < 1:
            break
    assert torch.equal(pasted[:, 0], pasted[:, 3])  # the same box in every frame
    torch.testing.assert_close(t[0], torch.tensor([1 - frac, frac]))  # lam corrected to the box area
    orig = Mixup(cutmix_alpha=1.0, prob=1.0, label_smoothing=0.0, num_classes=2, original_axes=True)
    torch.manual_seed(3)
    for _ in range(20):
        xo, _ = orig(x, torch.tensor([0, 1]))
        if 0 < float(xo[0].mean()) < 1:
            break
    assert 0 < float(xo[0].mean()) < 1
    assert bool((xo[0].std(dim=-1) == 0).all())  # timm's slicing of a 5-D clip: a (T, H) box over every W column


def test_strong_audio_augmentations_and_rand_augment_spec():
    rng = random.Random(0)
    lms = torch.randn(1, 80, 336)
    warped = time_warp(lms, 20, rng=rng)
    assert warped.shape == lms.shape and not torch.equal(warped, lms)
    assert torch.equal(time_warp(lms[..., :30], 20, rng=rng), lms[..., :30])  # too short: unchanged
    masked = mask_along_axis(lms, (5, 6), 1, axis="freq", rng=random.Random(1))
    rows = (masked != lms).all(dim=-1)[0]
    assert int(rows.sum()) == 5 and torch.allclose(masked[0][rows], torch.full((5, 336), float(lms.mean())))
    cols = (mask_along_axis(lms, (7, 8), 1, axis="time", rng=random.Random(2)) != lms).all(dim=-2)[0]
    assert int(cols.sum()) == 7
    assert parse_rand_augment("rand-m7-n4-mstd0.5-inc1") == {"magnitude": 7.0, "num_ops": 4.0, "magnitude_std": 0.5}
    with pytest.raises(Exception, match="RandAugment"):
        parse_rand_augment("original-mstd0.5")


def test_hold_out_is_class_stratified_and_disjoint():
    samples = [(f"v{i}", i % 4) for i in range(40)]
    fit, held = hold_out(samples, 0.1, seed=0)
    assert len(held) == 4 and sorted(lab for _, lab in held) == [0, 1, 2, 3]
    assert set(fit).isdisjoint(held) and len(fit) + len(held) == 40
    assert hold_out(samples, 0.1, seed=0) == (fit, held)


def test_wrong_weight_files_are_user_errors(tmp_path):
    data = tmp_path / "ucf"
    data.mkdir()
    audio = tmp_path / "aud.pth.tar"
    vit = build_eval_backbone(
        {"spec_size": [80, 224], "patch_spatial": [4, 16], "vit_config": "micro"}, modality="audio"
    )
    torch.save({k.replace("pos_embed", "enc_pos_embed"): v for k, v in vit.state_dict().items()}, audio)
    with pytest.raises(WeightsError, match="not a video backbone"):
        finetune_main(["--db", "ucf101", "-c", "config_tiny_f1", "--weight_path", str(audio), "--data_dir", str(data)])
    other = tmp_path / "other.pt"
    torch.save({"model": {"visual.conv1.weight": torch.zeros(2)}}, other)
    with pytest.raises(WeightsError, match="weight file not found"):
        finetune_main(["--db", "hmdb51", "--weight_path", str(tmp_path / "missing.pth.tar"), "--data_dir", str(data)])
    with pytest.raises(WeightsError, match="other.pt"):
        finetune_main(["--db", "esc50", "-c", "config_tiny_f1", "--weight_path", str(other), "--data_dir", str(data)])
