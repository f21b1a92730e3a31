"""Model structure: parameter counts of the paper's sizes, what is trainable, the frozen trunk."""

from __future__ import annotations

import pytest
import torch

from tdsclip.model import TDSConfig, VideoCLIP, is_trainable_name


def _tiny(**kw) -> VideoCLIP:
    cfg = dict(image_resolution=32, vision_patch_size=8, vision_width=64, vision_layers=2, side_dim=32,
               num_classes=5, num_segments=3)  # fmt: skip
    cfg.update(kw)
    torch.manual_seed(0)
    return VideoCLIP(TDSConfig(**cfg))


@pytest.mark.parametrize(
    "arch, side, classes, side_params, frozen_params, n_keys",
    [
        # ViT-B/16, side 320, SSv1: 24,168,672 side + 55,854 fc; 85,797,888 frozen; 675 state keys
        ((224, 16, 768, 12), 320, 174, 24_168_672, 85_797_888, 675),
        ((224, 14, 1024, 24), 512, 400, 106_446_336, 303_177_728, None),
    ],
)
def test_parameter_counts_match_the_paper_sizes(arch, side, classes, side_params, frozen_params, n_keys):
    res, patch, width, layers = arch
    with torch.device("meta"):
        model = VideoCLIP(TDSConfig(image_resolution=res, vision_patch_size=patch, vision_width=width,
                                    vision_layers=layers, side_dim=side, num_classes=classes, num_segments=8))  # fmt: skip
    named = dict(model.named_parameters())
    side_n = sum(p.numel() for n, p in named.items() if n.startswith("visual.") and p.requires_grad)
    fc_n = sum(p.numel() for n, p in named.items() if n.startswith("fc."))
    frozen_n = sum(p.numel() for p in named.values() if not p.requires_grad)
    assert (side_n, frozen_n, fc_n) == (side_params, frozen_params, side * classes + classes)
    if n_keys:
        assert len(model.state_dict()) == n_keys


def test_gradients_reach_only_trainable_parameters():
    model = _tiny().train()
    x = torch.randn(2 * 3 * 5, 3, 32, 32)
    model(x).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.requires_grad == is_trainable_name(name)
        assert (p.grad is not None) == p.requires_grad, name


def test_trunk_under_no_grad_gives_the_same_outputs_and_gradients():
    x = torch.randn(2 * 3 * 5, 3, 32, 32)
    grads = []
    for no_grad in (True, False):
        model = _tiny().train()
        model.visual.trunk_no_grad = no_grad
        out = model(x)
        out.sum().backward()
        grads.append((out.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
    assert torch.allclose(grads[0][0], grads[1][0], atol=1e-6)
    assert grads[0][1].keys() == grads[1][1].keys()
    for k in grads[0][1]:
        assert torch.allclose(grads[0][1][k], grads[1][1][k], atol=1e-6), k


def test_training_and_test_layouts_are_the_same_bytes():
    model = _tiny().eval()
    x = torch.randn(2 * 3 * 5, 3, 32, 32)
    with torch.no_grad():
        a = model(x)
        b = model(x.reshape(2 * 3, 15, 32, 32))
        c = model(x.reshape(2, 3 * 15, 32, 32))
    assert torch.equal(a, b) and torch.equal(a, c)


def test_num_diff_other_than_5_is_refused():
    with pytest.raises(ValueError, match="num_diff"):
        _tiny(num_diff=3)


def test_bf16_autocast_forward_backward_on_cpu():
    model = _tiny().train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.randn(2 * 3 * 5, 3, 32, 32))
    out.float().sum().backward()
    assert model.fc.weight.grad is not None and torch.isfinite(model.fc.weight.grad).all()
