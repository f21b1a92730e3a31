"""Plain-torch DSP of ``videokd.data.audio``: sinc resampling and the mel filterbank.

Two kinds of checks:

* equality with torchaudio (``functional.resample`` defaults, ``functional.melscale_fbanks``)
  through reference outputs stored in ``data/audio_dsp_reference.pt``, so the tests need no
  torchaudio. That file was generated once by running this module as a script in the dev venv
  (torch 2.14.1, torchaudio 2.11.0): ``python core/tests/test_data_audio_dsp.py`` rewrites it
  from :data:`RESAMPLE_CASES` / :data:`FBANK_CASES` (random inputs, seed 0, stored with the outputs);
* properties that need no reference: a resampled tone keeps its frequency, phase and amplitude,
  tones above the new Nyquist are removed, every mel filter is a triangle peaking at its centre on
  the mel scale, and Slaney normalisation scales it to height ``2 / (f_right - f_left)`` (unit area).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from videokd.data.audio import LogMel, mel_filterbank, resample

REFERENCE = Path(__file__).parent / "data" / "audio_dsp_reference.pt"

# (orig_rate, new_rate, input shape, dtype, extra keyword arguments): down and up, odd lengths, batch dims
RESAMPLE_CASES = [
    (44100, 16000, (2, 601), "float32", {}),
    (16000, 22050, (3, 1, 201), "float32", {}),
    (48000, 16000, (1000,), "float32", {}),
    (8000, 16000, (2, 2, 123), "float32", {}),
    (16000, 44100, (257,), "float32", {}),
    (22050, 16000, (2, 511), "float32", {}),
    (11025, 16000, (4, 77), "float32", {}),
    (32000, 16000, (5, 100), "float32", {}),
    (44100, 16000, (2, 300), "float64", {}),
    (16000, 8000, (3, 500), "float32", {"lowpass_filter_width": 16, "rolloff": 0.945}),
]
# mel_filterbank keyword arguments: htk/slaney scales, norm None/slaney, f_min/f_max, an odd sample rate
FBANK_CASES = [
    dict(sample_rate=16000, n_fft=256, n_mels=40, f_min=0.0, f_max=None, norm="slaney", mel_scale="slaney"),
    dict(sample_rate=22050, n_fft=256, n_mels=32, f_min=20.0, f_max=11025.0, norm=None, mel_scale="htk"),
    dict(sample_rate=44100, n_fft=256, n_mels=24, f_min=50.0, f_max=14000.0, norm="slaney", mel_scale="htk"),
    dict(sample_rate=8000, n_fft=200, n_mels=20, f_min=100.0, f_max=3800.0, norm=None, mel_scale="slaney"),
    dict(sample_rate=11025, n_fft=128, n_mels=16, f_min=0.0, f_max=None, norm=None, mel_scale="htk"),
    dict(sample_rate=48000, n_fft=200, n_mels=30, f_min=30.0, f_max=20000.0, norm="slaney", mel_scale="slaney"),
]


def _reference() -> dict:
    return torch.load(REFERENCE, weights_only=True)


# ---------------------------------------------------------------------------------------- vs torchaudio
def test_reference_file_covers_the_cases():
    ref = _reference()
    assert len(ref["resample"]) == len(RESAMPLE_CASES) and len(ref["fbank"]) == len(FBANK_CASES)
    assert REFERENCE.stat().st_size < 200_000


@pytest.mark.parametrize("case", range(len(RESAMPLE_CASES)))
def test_resample_matches_torchaudio(case):
    orig, new, shape, dtype, kwargs = RESAMPLE_CASES[case]
    entry = _reference()["resample"][case]
    assert (entry["orig_rate"], entry["new_rate"], tuple(entry["input"].shape)) == (orig, new, shape)
    x, want = entry["input"], entry["output"]
    got = resample(x, orig, new, **kwargs)
    assert got.dtype == x.dtype and got.shape == want.shape == (*shape[:-1], math.ceil(shape[-1] * new / orig))
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("case", range(len(FBANK_CASES)))
def test_mel_filterbank_matches_torchaudio(case):
    kwargs = FBANK_CASES[case]
    entry = _reference()["fbank"][case]
    assert entry["kwargs"] == kwargs
    got = mel_filterbank(**kwargs)
    assert got.dtype == torch.float32 and got.shape == (kwargs["n_mels"], kwargs["n_fft"] // 2 + 1)
    torch.testing.assert_close(got, entry["output"], atol=1e-6, rtol=0)


def test_core_audio_needs_no_torchaudio(monkeypatch):
    # a None entry in sys.modules makes any `import torchaudio...` raise ImportError
    for name in ("torchaudio", "torchaudio.functional", "torchaudio.transforms"):
        monkeypatch.setitem(sys.modules, name, None)
    assert resample(torch.randn(2, 443), 44100, 16000).shape == (2, 161)
    assert mel_filterbank(sample_rate=16000, n_fft=512, n_mels=8).shape == (8, 257)
    assert LogMel(n_mels=8)(torch.randn(1, 1600)).shape == (1, 8, 12)


# ---------------------------------------------------------------------------------------- resample
@pytest.mark.parametrize(
    "orig,new,freq", [(44100, 16000, 1000.0), (16000, 22050, 1500.0), (48000, 16000, 440.0), (8000, 16000, 700.0)]
)
def test_resampled_tone_keeps_frequency_phase_and_amplitude(orig, new, freq):
    amp, phase = 0.8, 0.3
    n = orig // 4 + 3  # not a whole number of gcd periods
    x = amp * torch.sin(2 * math.pi * freq * torch.arange(n, dtype=torch.float64) / orig + phase)
    y = resample(x.float(), orig, new).double()
    assert y.shape == (math.ceil(n * new / orig),)
    want = amp * torch.sin(2 * math.pi * freq * torch.arange(len(y), dtype=torch.float64) / new + phase)
    edge = 64  # the signal is zero-padded outside [0, n): the first/last filter lengths fade
    assert (y - want)[edge:-edge].abs().max() < 1e-3
    assert abs(y[edge:-edge].square().mean().sqrt().item() * math.sqrt(2) - amp) < 1e-3
    spectrum = torch.fft.rfft(y[edge:-edge] * torch.hann_window(len(y) - 2 * edge, dtype=torch.float64))
    peak_hz = spectrum.abs().argmax().item() * new / (len(y) - 2 * edge)
    assert abs(peak_hz - freq) <= new / (len(y) - 2 * edge)


def test_resample_removes_tones_above_the_new_nyquist():
    t = torch.arange(12000, dtype=torch.float64) / 48000
    y = resample(torch.sin(2 * math.pi * 12000.0 * t).float(), 48000, 16000)
    assert y[100:-100].abs().max() < 5e-3  # would alias to 4 kHz at full amplitude without the low-pass


def test_resample_batch_dims_and_identity():
    x = torch.randn(2, 3, 999)
    y = resample(x, 22050, 16000)
    assert y.shape == (2, 3, math.ceil(999 * 16000 / 22050))
    torch.testing.assert_close(y[1, 2], resample(x[1, 2], 22050, 16000), atol=1e-6, rtol=0)
    assert resample(x, 16000, 16000) is x
    # integer-valued float rates are fine; the gcd makes 44100 -> 16000 and 441 -> 160 the same
    torch.testing.assert_close(resample(x, 44100.0, 16000), resample(x, 441, 160), atol=0, rtol=0)


def test_resample_errors():
    with pytest.raises(TypeError, match="floating-point"):
        resample(torch.ones(3, 100, dtype=torch.int16), 16000, 8000)
    with pytest.raises(ValueError, match="orig_rate must be a positive integer"):
        resample(torch.ones(100), 0, 8000)
    with pytest.raises(ValueError, match="new_rate must be a positive integer.*5512.5"):
        resample(torch.ones(100), 44100, 5512.5)
    with pytest.raises(ValueError, match="lowpass_filter_width"):
        resample(torch.ones(100), 16000, 8000, lowpass_filter_width=0)


# ---------------------------------------------------------------------------------------- mel filterbank
def _mel_edges_hz(f_min: float, f_max: float, n_mels: int, scale: str) -> np.ndarray:
    """``n_mels + 2`` filter edges in Hz, float64, from the textbook scale definitions."""
    if scale == "htk":
        mel_lo, mel_hi = (2595 * np.log10(1 + f / 700) for f in (f_min, f_max))
        mels = np.linspace(mel_lo, mel_hi, n_mels + 2)
        return 700 * (10 ** (mels / 2595) - 1)

    # Slaney: 15 mels linear up to 1 kHz, then 27 mels per factor 6.4
    def to_mel(f: float) -> float:
        return f * 0.015 if f < 1000 else 15 + 27 * np.log(max(f, 1e-9) / 1000) / np.log(6.4)

    mels = np.linspace(to_mel(f_min), to_mel(f_max), n_mels + 2)
    return np.where(mels < 15, mels / 0.015, 1000 * 6.4 ** ((mels - 15) / 27))


@pytest.mark.parametrize("scale", ["htk", "slaney"])
def test_mel_scale_anchor_points(scale):
    edges = _mel_edges_hz(0.0, 6400.0, 41, scale)
    # Slaney: 1 kHz is 15 mels and 6.4 kHz is 42, so 43 edges are 1 mel apart, evenly spaced up to 1 kHz
    if scale == "slaney":
        np.testing.assert_allclose(edges[15], 1000.0, rtol=1e-12)
        np.testing.assert_allclose(np.diff(edges[:16]), 200 / 3, rtol=1e-12)
    else:  # HTK: 1000 Hz is ~1000 mel (2595 log10(1 + 10/7) = 999.99)
        np.testing.assert_allclose(2595 * np.log10(1 + 1000 / 700), 1000.0, atol=0.02)
    sr, n_fft = 16000, 8192
    fb = mel_filterbank(sample_rate=sr, n_fft=n_fft, n_mels=41, f_max=6400.0, norm=None, mel_scale=scale).double()
    centres = fb.argmax(1).numpy() * sr / n_fft
    np.testing.assert_allclose(centres, edges[1:-1], atol=sr / n_fft)


@pytest.mark.parametrize("scale", ["htk", "slaney"])
def test_mel_filters_are_triangles_peaking_at_their_centres(scale):
    sr, n_fft, n_mels, f_min, f_max = 16000, 8192, 40, 60.0, 7600.0  # fine grid: 1.95 Hz bins
    fb = (
        mel_filterbank(sample_rate=sr, n_fft=n_fft, n_mels=n_mels, f_min=f_min, f_max=f_max, norm=None, mel_scale=scale)
        .double()
        .numpy()
    )
    bins = np.arange(n_fft // 2 + 1) * sr / n_fft
    edges = _mel_edges_hz(f_min, f_max, n_mels, scale)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    triangle = np.clip(np.minimum((bins - left) / (centre - left), (bins - right) / (centre - right)), 0, None)
    np.testing.assert_allclose(fb, triangle, atol=1e-4)
    peak = fb.argmax(1)
    assert np.all(np.abs(bins[peak] - centre[:, 0]) <= sr / n_fft)  # peak at the centre bin
    assert np.all(fb.max(1) > 1 - (sr / n_fft) / np.minimum(centre - left, right - centre)[:, 0])
    assert fb.max() <= 1 and np.all(fb[(bins <= left) | (bins >= right)] == 0)


@pytest.mark.parametrize("scale", ["htk", "slaney"])
def test_slaney_norm_gives_height_two_over_width_and_unit_area(scale):
    sr, n_fft, n_mels = 16000, 8192, 32
    kw = dict(sample_rate=sr, n_fft=n_fft, n_mels=n_mels, f_min=0.0, f_max=8000.0, mel_scale=scale)
    plain = mel_filterbank(**kw, norm=None).double()
    slaney = mel_filterbank(**kw, norm="slaney").double()
    edges = torch.from_numpy(_mel_edges_hz(0.0, 8000.0, n_mels, scale))
    height = 2 / (edges[2:] - edges[:-2])
    torch.testing.assert_close(slaney, plain * height[:, None], rtol=1e-5, atol=1e-9)
    area = torch.trapezoid(slaney, dx=sr / n_fft, dim=1)
    torch.testing.assert_close(area, torch.ones(n_mels, dtype=torch.float64), atol=2e-2, rtol=0)


def test_mel_filterbank_errors():
    kw = dict(sample_rate=16000, n_fft=512, n_mels=8)
    with pytest.raises(ValueError, match="mel_scale must be 'slaney' or 'htk', got 'bark'"):
        mel_filterbank(**kw, mel_scale="bark")
    with pytest.raises(ValueError, match="norm must be None or 'slaney'"):
        mel_filterbank(**kw, norm="max")
    with pytest.raises(ValueError, match="f_min=9000"):
        mel_filterbank(**kw, f_min=9000.0)
    with pytest.raises(ValueError, match="n_mels=0"):
        mel_filterbank(sample_rate=16000, n_fft=512, n_mels=0)


# ---------------------------------------------------------------------------------------- regenerate
def _generate_reference() -> None:
    """Write ``data/audio_dsp_reference.pt`` from torchaudio (dev venv only; run once)."""
    import torchaudio
    import torchaudio.functional as AF

    gen = torch.Generator().manual_seed(0)
    out: dict = {
        "meta": {
            "torch": str(torch.__version__),
            "torchaudio": str(torchaudio.__version__),
            "how": "python core/tests/test_data_audio_dsp.py",
        },
        "resample": [],
        "fbank": [],
    }
    for orig, new, shape, dtype, kwargs in RESAMPLE_CASES:
        x = torch.randn(shape, generator=gen, dtype=getattr(torch, dtype))
        out["resample"].append(
            {
                "orig_rate": orig,
                "new_rate": new,
                "kwargs": kwargs,
                "input": x,
                "output": AF.resample(x, orig, new, **kwargs),
            }
        )
    for kw in FBANK_CASES:
        f_max = kw["f_max"] if kw["f_max"] is not None else kw["sample_rate"] / 2
        fb = AF.melscale_fbanks(
            kw["n_fft"] // 2 + 1,
            kw["f_min"],
            f_max,
            kw["n_mels"],
            kw["sample_rate"],
            norm=kw["norm"],
            mel_scale=kw["mel_scale"],
        )
        out["fbank"].append({"kwargs": kw, "output": fb.T.contiguous()})
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, REFERENCE)
    print(f"wrote {REFERENCE} ({REFERENCE.stat().st_size} bytes)")


if __name__ == "__main__":
    _generate_reference()
