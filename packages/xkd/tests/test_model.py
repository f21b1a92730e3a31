"""Properties of the XKD graph that the fixtures imply, checked on micro models."""

from __future__ import annotations

import pytest
import torch

from videokd.engine.checkpoint import save_checkpoint
from xkd.backbones import build_eval_backbone, load_eval_backbone, load_state_strict
from xkd.checkpoint import WeightsError, remap_backbone_keys
from xkd.model import build_model
from xkd.optim import clip_student_gradients

MICRO = {
    "frame_size": [3, 16, 16],
    "num_frames": 4,
    "vid_patch_spatial": [8, 8],
    "vid_patch_temporal": 2,
    "spec_size": [16, 32],
    "spec_patch_spatial": [4, 16],
    "student_cfg": [16, 2, 2],
    "teacher_cfg": [16, 2, 2],
    "decoder_cfg": [8, 1, 2],
    "projector_cfg": "16-gelu-3-8-32",
}
FWD = dict(
    teacher_temp={"video": 0.1, "audio": 0.07},
    student_temp={"video": 0.25, "audio": 0.1},
    vid_mask_ratio=0.85,
    aud_mask_ratio=0.8,
)


def micro(variant: str = "XKD", **extra):
    torch.manual_seed(0)
    return build_model({"name": variant, "kwargs": {**MICRO, **extra}})


def inputs(n_local_video: int = 1, b: int = 2):
    g = torch.Generator().manual_seed(1)
    frames = [torch.randn(b, 3, 4, 16, 16, generator=g)] + [torch.randn(b, 3, 2, 8, 8, generator=g)] * n_local_video
    specs = [torch.randn(b, 1, 16, 32, generator=g), torch.randn(b, 1, 16, 16, generator=g)]
    return frames, specs


def test_sharing_structure_per_variant():
    for variant in ("XKD", "XKD_MAS", "XKD_MATS"):
        m = micro(variant)
        assert m.vid_ae.encoder is m.vid_student.backbone and m.aud_ae.encoder is m.aud_student.backbone
        assert m.vid_student.head.mlp[1] is m.vid_student.head.mlp[4]
        shared_students = m.vid_student.backbone.encoder is m.aud_student.backbone.encoder
        shared_teachers = m.vid_teacher.backbone.encoder is m.aud_teacher.backbone.encoder
        assert shared_students == (variant != "XKD") and shared_teachers == (variant == "XKD_MATS")
        names = [n for n, _ in m.named_parameters()]
        ids = [id(p) for _, p in m.named_parameters()]
        assert len(ids) == len(set(ids)) and not any(n.startswith("aud_ae.encoder") for n in names)
        assert all(not p.requires_grad for n, p in m.named_parameters() if "teacher" in n or n.endswith("weight_g"))


def test_teachers_start_as_copies_of_the_students():
    m = micro()
    for t, s in ((m.vid_teacher, m.vid_student), (m.aud_teacher, m.aud_student)):
        for (nt, pt), (ns, ps) in zip(t.state_dict().items(), s.state_dict().items()):
            assert nt == ns and torch.equal(pt, ps)


def test_mats_shared_teacher_blocks_move_twice_only_in_the_original_mode():
    def moved(twice: bool) -> torch.Tensor:
        m = micro("XKD_MATS")
        with torch.no_grad():
            for p in m.vid_teacher.parameters():
                p.add_(1.0)  # teacher = student + 1 everywhere
        m.update_teachers(0.5, 0.5, shared_twice=twice)
        shared = m.vid_teacher.backbone.encoder.blocks[0].attn.qkv.weight
        return (shared - m.vid_student.backbone.encoder.blocks[0].attn.qkv.weight).mean()

    assert moved(True).item() == pytest.approx(0.25)  # m_v * m_a
    assert moved(False).item() == pytest.approx(0.5)  # once, with m_v


def test_video_student_temperature_switch():
    frames, specs = inputs()
    fixed = micro()(frames, specs, **FWD)["at2vs_kd_loss"]
    original = micro(original_student_temp=True)(frames, specs, **FWD)["at2vs_kd_loss"]
    assert not torch.allclose(fixed, original)
    same = dict(FWD, student_temp={"video": 0.1, "audio": 0.1})
    assert torch.allclose(
        micro()(frames, specs, **same)["loss"], micro(original_student_temp=True)(frames, specs, **same)["loss"]
    )


@pytest.mark.parametrize("variant, n_local", [("XKD", 1), ("XKD_MAS", 3), ("XKD_MATS", 3)])
def test_forward_backward_and_clipping_leave_decoders_alone(variant, n_local):
    m = micro(variant).train()
    frames, specs = inputs(n_local)
    out = m(frames, specs, **FWD)
    assert torch.isfinite(out["loss"]) and out["loss"].dim() == 0
    out["loss"].backward()
    dec = {
        n: p.grad.clone()
        for n, p in m.named_parameters()
        if n.startswith(("vid_ae.", "aud_ae.")) and p.grad is not None
    }
    names, norms = clip_student_gradients(m, 1e-3)
    assert len(names) == len(set(names)) and norms.shape == (len(names),)
    assert all(n.startswith(("vid_student.", "aud_student.")) for n in names)
    for n, p in m.named_parameters():
        if n in dec:
            assert torch.equal(p.grad, dec[n]), n
        elif n in names:
            assert p.grad.norm() <= 1e-3 * (1 + 1e-4)


def test_released_checkpoint_layout_loads_into_the_eval_backbone(tmp_path):
    m = micro().eval()
    full = {f"module.{k}": v for k, v in m.state_dict().items()}
    assert (
        "module.vid_teacher.head.last_layer.weight_g" in full and "module.vid_teacher.head.last_layer.weight_v" in full
    )
    path = tmp_path / "checkpoint.pth.tar"
    save_checkpoint(path, {"model": full, "optimizer": {}, "epoch": 800, "amp": {}})
    cfg = {
        "frame_size": [3, 16, 16],
        "num_frames": 4,
        "patch_spatial": [8, 8],
        "patch_temporal": 2,
        "vit_config": [16, 2, 2],
    }
    x = torch.randn(2, 3, 4, 16, 16)
    for which in ("student", "teacher"):
        ev = load_eval_backbone(path, cfg, modality="video", which=which).eval()
        ref = getattr(m, f"vid_{which}").backbone
        with torch.no_grad():
            torch.testing.assert_close(ev.pooled(x), ref.pooled(x), rtol=0, atol=1e-6)
            # a larger input (112 -> 224 style): position embeddings interpolated, CLS excluded
            assert ev.pooled(torch.randn(1, 3, 4, 32, 32)).shape == (1, 16)
    vid_file = tmp_path / "XKD_pretext_kinetics400_ep0vid_student.pth.tar"
    save_checkpoint(vid_file, m.vid_student.backbone.state_dict())
    audio_cfg = {"spec_size": [16, 32], "patch_spatial": [4, 16], "vit_config": [16, 2, 2]}
    with pytest.raises(WeightsError, match="this is a video backbone"):
        load_eval_backbone(vid_file, audio_cfg, modality="audio")


def test_strict_load_names_the_mismatch():
    m = micro()
    state = remap_backbone_keys(m.vid_student.backbone.state_dict(), modality="video")
    other = build_eval_backbone(
        {
            "frame_size": [3, 16, 16],
            "num_frames": 4,
            "patch_spatial": [8, 8],
            "patch_temporal": 2,
            "vit_config": [16, 3, 2],
        },
        modality="video",
    )
    with pytest.raises(WeightsError, match=r"missing \['blocks.2"):
        load_state_strict(other, state, source="file.pth.tar")
