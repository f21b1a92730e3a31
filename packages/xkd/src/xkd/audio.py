"""XKD's audio front end: 16 kHz waveform -> normalised log-mel ``(1, 80, 1 + N // 143)``.

* Waveform: mean over channels, zero-padded at the END (or trimmed) to ``duration * 16000`` samples
  (the original's ``trim_pad``); a clip shorter than the window is padded, not rejected.
* Log-mel: STFT 1024 / hop 143 / periodic Hann, centred with **reflect** padding (librosa 0.8.1's
  default, which the published models were trained with), power + 2.2e-16, 80 Slaney mel bands,
  ln(x + 1.19e-7), Kinetics-Sound normalisation ``(x + 5.3688107) / 4.410007`` for every dataset.
* Local view (pre-training): BYOL-A random resize crop on the log-mel (canvas 1.0 x 1.5).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, Optional

import torch

from videokd.data.audio import LogMel, prepare_waveform, spectrogram_resize_crop, spectrogram_resize_crop_box

__all__ = [
    "KINETICS_SOUND_STATS",
    "AudioFrontEnd",
    "local_resize_crop",
    "mask_along_axis",
    "time_warp",
    "volume_jitter",
]

KINETICS_SOUND_STATS = (-5.3688107, 4.410007)


class AudioFrontEnd(torch.nn.Module):
    """``(C, N)`` waveform -> ``(1, n_mels, frames)`` normalised log-mel (the dataset yaml's keys)."""

    def __init__(
        self,
        *,
        audio_fps: int = 16000,
        n_fft: int = 1024,
        hop_length: int = 143,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: Optional[float] = None,
        normalize: bool = True,
        stats: Sequence[float] = KINETICS_SOUND_STATS,
        pad_mode: str = "reflect",
    ) -> None:
        super().__init__()
        self.sample_rate = int(audio_fps)
        self.logmel = LogMel(
            sample_rate=self.sample_rate,
            n_fft=n_fft,
            hop_length=hop_length,
            n_mels=n_mels,
            f_min=f_min,
            f_max=f_max,
            pad_mode=pad_mode,
            mean=stats[0] if normalize else None,
            std=stats[1] if normalize else None,
        )

    @classmethod
    def from_dataset_cfg(cls, cfg: Mapping[str, Any]) -> AudioFrontEnd:
        return cls(
            audio_fps=int(cfg.get("audio_fps", 16000)),
            n_fft=int(cfg.get("n_fft", 1024)),
            hop_length=int(cfg.get("hop_length", 143)),
            n_mels=int(cfg.get("n_mels", 80)),
        )

    @property
    def fbank(self) -> torch.Tensor:
        return self.logmel.fbank

    def prepare(self, waveform: torch.Tensor, seconds: float) -> torch.Tensor:
        """Mono, zero-padded / trimmed to ``seconds`` at 16 kHz: ``(1, N)``."""
        return prepare_waveform(waveform, int(round(seconds * self.sample_rate)))

    def mel_power(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.logmel.mel_power(waveform)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(1, N)`` -> ``(1, n_mels, 1 + N // hop)``."""
        return self.logmel(waveform)


def volume_jitter(waveform: torch.Tensor, vol: float, *, rng: Optional[random.Random] = None) -> torch.Tensor:
    """Multiply by ``U(1 - vol, 1 + vol)`` (no-op for ``vol = 0``)."""
    if vol <= 0:
        return waveform
    r = rng or random
    return waveform * r.uniform(1 - vol, 1 + vol)


def local_resize_crop(
    lms: torch.Tensor,
    *,
    virtual_crop_scale: Sequence[float] = (1.0, 1.5),
    freq_scale: Sequence[float] = (0.6, 1.5),
    time_scale: Sequence[float] = (0.6, 1.5),
    box: Optional[Sequence[int]] = None,
    rng: Optional[random.Random] = None,
) -> torch.Tensor:
    """The local audio view's random resize crop of ``lms (1, F, T)`` (``box`` given or drawn)."""
    f, t = lms.shape[-2:]
    drawn, canvas = spectrogram_resize_crop_box(
        f, t, virtual_crop_scale=virtual_crop_scale, freq_scale=freq_scale, time_scale=time_scale, rng=rng
    )
    return spectrogram_resize_crop(lms, drawn if box is None else box, canvas)


def time_warp(lms: torch.Tensor, window: int, *, rng: Optional[random.Random] = None) -> torch.Tensor:
    """ESPnet ``TimeWarp`` (the original's downstream "strong" augmentation) on ``lms (1, F, T)``: a
    random centre ``c`` in ``[window, T - window)`` moves to ``w`` in ``[c - window, c + window]`` and both
    sides are resized bicubically (``align_corners=False``); a clip with ``T - window <= window`` is kept."""
    r = rng or random
    t = lms.shape[-1]
    if window <= 0 or t - window <= window:
        return lms
    center = r.randrange(window, t - window)
    warped = r.randrange(center - window, center + window) + 1
    x = lms.reshape(1, 1, *lms.shape[-2:])
    f = x.shape[-2]
    left = torch.nn.functional.interpolate(x[..., :center], size=(f, warped), mode="bicubic", align_corners=False)
    right = torch.nn.functional.interpolate(x[..., center:], size=(f, t - warped), mode="bicubic", align_corners=False)
    return torch.cat((left, right), dim=-1).reshape(lms.shape)


def mask_along_axis(
    lms: torch.Tensor, width: Sequence[int], num_mask: int, *, axis: str, rng: Optional[random.Random] = None
) -> torch.Tensor:
    """ESPnet ``MaskAlongAxis(replace_with_zero=False)`` on ``lms (1, F, T)``: ``num_mask`` bands of width
    ``U{width[0], width[1] - 1}`` along ``axis`` (``"freq"`` / ``"time"``), filled with the spectrogram mean."""
    r = rng or random
    dim = -2 if axis == "freq" else -1
    size = lms.shape[dim]
    lengths = [r.randrange(int(width[0]), int(width[1])) for _ in range(int(num_mask))]
    if not lengths:
        return lms
    hi = max(1, size - max(lengths))
    mask = torch.zeros(size, dtype=torch.bool)
    for length in lengths:
        pos = r.randrange(0, hi)
        mask[pos : pos + length] = True
    shape = [1] * lms.dim()
    shape[dim] = size
    return lms.masked_fill(mask.view(shape), float(lms.mean()))
