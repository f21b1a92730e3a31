"""Frame folders: templates, counting, n_frames, decoding backends, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from videokd.data.frames import (
    FRAME_TEMPLATES,
    FrameDecodeError,
    FrameFolder,
    count_frames,
    detect_template,
    read_frame_folder,
    read_n_frames,
    write_n_frames,
)
from videokd.data.synthetic import render_clip, write_jpeg_frames


@pytest.fixture(scope="module")
def clip():
    return render_clip(1, frames=12, height=32, width=40, rng=np.random.default_rng(0))


@pytest.mark.parametrize("template", FRAME_TEMPLATES)
def test_templates_detected_counted_and_read(tmp_path, clip, template):
    write_jpeg_frames(tmp_path, clip, template)
    (tmp_path / "n_frames").write_text("12")  # not a frame: must not be counted
    assert detect_template(tmp_path) == template
    assert count_frames(tmp_path) == 12
    folder = FrameFolder(tmp_path)
    assert len(folder) == 12
    assert folder.path(0).name == template.format(1)  # 0-based index -> 1-based file
    frames = folder.get_frames([11, 0, 0, 5])
    assert frames.shape == (4, 32, 40, 3) and frames.dtype == torch.uint8
    assert torch.equal(frames[1], frames[2])
    err = (frames.float() - torch.from_numpy(clip[[11, 0, 0, 5]]).float()).abs().mean()
    assert err < 10  # JPEG at quality 90 smooths the per-pixel noise of the synthetic frames
    pil = FrameFolder(tmp_path, backend="pil").get_frames([11, 0, 0, 5])
    assert (pil.int() - frames.int()).abs().max() <= 2  # libjpeg-turbo (torchvision) vs PIL's libjpeg
    chw = read_frame_folder(tmp_path, [3], layout="tchw")
    assert chw.shape == (1, 3, 32, 40) and chw.max() <= 1


def test_n_frames_file(tmp_path, clip):
    write_jpeg_frames(tmp_path, clip[:5], "image_{:05d}.jpg")
    (tmp_path / "image_00009.jpg").write_bytes((tmp_path / "image_00001.jpg").read_bytes())
    assert write_n_frames(tmp_path) == 9  # the 3D-ResNets tool writes the largest number, not the count
    assert (tmp_path / "n_frames").read_text() == "9"
    assert read_n_frames(tmp_path) == 9
    assert count_frames(tmp_path) == 6
    (tmp_path / "n_frames").write_text("nine")
    with pytest.raises(ValueError, match="n_frames"):
        read_n_frames(tmp_path)
    with pytest.raises(FileNotFoundError, match="n_frames"):
        read_n_frames(tmp_path / "nowhere")


def test_frame_errors_name_the_file(tmp_path, clip):
    with pytest.raises(FileNotFoundError, match="frame folder not found"):
        FrameFolder(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no frame named like"):
        detect_template(tmp_path)
    write_jpeg_frames(tmp_path, clip[:4], "img_{:05d}.jpg")
    folder = FrameFolder(tmp_path)
    with pytest.raises(FileNotFoundError, match="img_00010.jpg"):
        folder.get_frames([9])
    (tmp_path / "img_00002.jpg").write_bytes(b"")
    with pytest.raises(FrameDecodeError, match=r"img_00002.jpg: file is empty"):
        folder.get_frames([0, 1])
    data = (tmp_path / "img_00001.jpg").read_bytes()
    (tmp_path / "img_00003.jpg").write_bytes(b"garbage" + data[200:400])
    for backend in ("torchvision", "pil"):
        with pytest.raises(FrameDecodeError, match="img_00003.jpg"):
            FrameFolder(tmp_path, backend=backend).get_frames([2])
