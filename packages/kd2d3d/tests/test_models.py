"""3D students beyond the fixtures: any input size, the lineage's switches, tiny variants."""

from __future__ import annotations

import pytest
import torch

from kd2d3d.models import ModelConfigError, ShortcutA, build_model, lineage_state_dict


def test_adaptive_pooling_takes_any_size_and_equals_fixed_pooling_at_the_built_size():
    torch.manual_seed(0)
    adaptive = build_model(model_depth=10, n_classes=4, sample_size=32, sample_duration=8, base_width=8).eval()
    fixed = build_model(
        model_depth=10, n_classes=4, sample_size=32, sample_duration=8, base_width=8, pooling="fixed"
    ).eval()
    fixed.load_state_dict(adaptive.state_dict())
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        assert torch.allclose(adaptive(x), fixed(x), atol=1e-6)
        assert adaptive(torch.randn(1, 3, 20, 64, 48)).shape == (1, 4)
        with pytest.raises(RuntimeError):
            fixed(torch.randn(1, 3, 20, 64, 64))


def test_shortcut_a_gradient_switch():
    torch.manual_seed(0)
    net = build_model(model_depth=10, n_classes=2, resnet_shortcut="A", base_width=8).eval()
    assert any(isinstance(m, ShortcutA) for m in net.modules())
    x = torch.randn(1, 3, 4, 32, 32)
    net(x).sum().backward()
    with_grad = net.conv1.weight.grad.clone()
    net.zero_grad()
    net.set_detach_shortcut_a(True)
    net(x).sum().backward()
    assert not torch.allclose(with_grad, net.conv1.weight.grad)


def test_lineage_checkpoint_names_load():
    net = build_model(model_depth=10, n_classes=2, base_width=8)
    old = {f"module.{k}": v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    fresh = build_model(model_depth=10, n_classes=2, base_width=8)
    fresh.load_state_dict(lineage_state_dict(old, fresh), strict=True)
    assert torch.equal(fresh.conv1.weight, net.conv1.weight)


def test_densenet_keeps_dotted_checkpoint_names():
    net = build_model(model="densenet", model_depth=121, n_classes=2)
    keys = list(net.state_dict())
    assert "features.denseblock1.denselayer1.norm.1.weight" in keys and keys[-1] == "classifier.bias"


def test_unknown_architectures_are_named():
    with pytest.raises(ModelConfigError, match="model_depth for resnext"):
        build_model(model="resnext", model_depth=18)
    with pytest.raises(ModelConfigError, match="resnet_shortcut"):
        build_model(model_depth=18, resnet_shortcut="C")
