"""videokd.compat: the pytorchvideo shim and the detectron2-free RoIAlign."""

import sys

import torch

from videokd.compat import import_pytorchvideo_transforms, install_pytorchvideo_shim, roi_align_layer


def test_pytorchvideo_transforms_import_through_the_shim():
    install_pytorchvideo_shim()
    assert "torchvision.transforms.functional_tensor" in sys.modules
    transforms = import_pytorchvideo_transforms()
    clip = torch.rand(3, 4, 32, 40)  # (C, T, H, W)
    out = transforms.ShortSideScale(16)(clip)
    assert out.shape == (3, 4, 16, 20)


def test_roi_align_replaces_detectron2():
    layer = roi_align_layer((2, 2), spatial_scale=1.0, sampling_ratio=2, aligned=True)
    feat = torch.arange(16.0).reshape(1, 1, 4, 4)
    # one box covering the whole map: aligned RoIAlign averages bilinear samples inside each bin
    out = layer(feat, torch.tensor([[0.0, 0.0, 0.0, 4.0, 4.0]]))
    assert out.shape == (1, 1, 2, 2)
    expected = torch.tensor([[2.5, 4.5], [10.5, 12.5]])
    torch.testing.assert_close(out[0, 0], expected)
