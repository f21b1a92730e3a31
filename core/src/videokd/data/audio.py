"""Audio: tracks of media files through PyAV, wav/flac through soundfile, band-limited sinc
resampling and log-mel spectrograms (torch STFT + mel filterbank, every parameter from config).

Plain torch throughout: :func:`resample` and :func:`mel_filterbank` reproduce
``torchaudio.functional.resample`` (defaults) and ``torchaudio.functional.melscale_fbanks`` to
float32 rounding, without importing torchaudio, whose wheels must match torch's CUDA build exactly.

Waveforms are float32 ``(C, N)`` tensors (channels first). The XKD front end is
:class:`LogMel` with its defaults (n_fft 1024, hop 143, 80 Slaney mels, reflect padding, ``ln``
with the float32 eps, Kinetics-Sound mean/std) and :func:`prepare_waveform`; the local-view
augmentation is :func:`spectrogram_resize_crop`.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av
import numpy as np
import torch
import torch.nn.functional as F

from ._errors import missing_file
from .samplers import RNG, _randint, _uniform
from .video import VideoDecodeError

__all__ = [
    "AudioDecodeError",
    "audio_info",
    "read_audio",
    "resample",
    "prepare_waveform",
    "mel_filterbank",
    "LogMel",
    "log_mel_spectrogram",
    "spectrogram_resize_crop",
    "spectrogram_resize_crop_box",
    "KINETICS_SOUND_LOGMEL_STATS",
]

SOUNDFILE_SUFFIXES = {".wav", ".flac", ".ogg", ".aiff", ".aif"}
#: (mean, std) of ln-mel on Kinetics-Sound, used by XKD for every dataset (``DB_NORM: _KINETICS``)
KINETICS_SOUND_LOGMEL_STATS = (-5.3688107, 4.410007)


class AudioDecodeError(VideoDecodeError):
    """The audio of ``path`` cannot be read (corrupt, empty, no audio stream)."""

    kind = "audio"


@dataclass(frozen=True)
class AudioInfo:
    path: str
    sample_rate: int
    channels: int
    num_samples: int | None  # None when the container does not say
    duration: float | None


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Sample rate, channels and length of the first audio stream (header only)."""
    p = _check_file(path)
    if p.suffix.lower() in SOUNDFILE_SUFFIXES:
        import soundfile as sf

        try:
            info = sf.info(os.fspath(p))
        except RuntimeError as err:
            raise AudioDecodeError(p, str(err)) from err
        return AudioInfo(os.fspath(p), info.samplerate, info.channels, info.frames, info.frames / info.samplerate)
    with _open_av(p) as container:
        if not container.streams.audio:
            raise AudioDecodeError(p, "no audio stream")
        s = container.streams.audio[0]
        dur = (
            float(s.duration * s.time_base)
            if s.duration
            else (container.duration / 1e6 if container.duration else None)
        )
        n = int(round(dur * s.codec_context.sample_rate)) if dur else None
        return AudioInfo(os.fspath(p), s.codec_context.sample_rate, s.codec_context.channels, n, dur)


def _check_file(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise missing_file(f"audio file not found: {p}", p)
    if p.is_file() and p.stat().st_size == 0:
        raise AudioDecodeError(p, "file is empty (0 bytes)")
    return p


def _open_av(p: Path):
    try:
        return av.open(os.fspath(p), metadata_errors="ignore")
    except av.FFmpegError as err:
        raise AudioDecodeError(p, f"FFmpeg could not open it ({err})") from err


def resample(
    waveform: torch.Tensor, orig_rate: int, new_rate: int, *, lowpass_filter_width: int = 6, rolloff: float = 0.99
) -> torch.Tensor:
    """Band-limited sinc resampling of a float ``(..., N)`` waveform to ``(..., ceil(N * new / orig))``.

    Each output sample is a Hann-windowed sinc interpolation of the input, low-passed at ``rolloff``
    times the lower of the two Nyquist frequencies, the window reaching ``lowpass_filter_width``
    zero crossings either side. Same kernel and output as ``torchaudio.functional.resample``
    (``sinc_interp_hann``). The signal is taken as zero outside ``[0, N)``, so outputs within about
    ``lowpass_filter_width`` samples of the lower rate from either end see that padding.
    """
    orig, new = _check_rate("orig_rate", orig_rate), _check_rate("new_rate", new_rate)
    if not waveform.is_floating_point():
        raise TypeError(f"resample: waveform must be a floating-point tensor, got {waveform.dtype}")
    if lowpass_filter_width <= 0 or not 0 < rolloff <= 1:
        raise ValueError(
            f"resample: need lowpass_filter_width > 0 and 0 < rolloff <= 1, got {lowpass_filter_width} and {rolloff}"
        )
    if orig == new:
        return waveform
    g = math.gcd(orig, new)
    orig, new = orig // g, new // g  # one period = `orig` inputs -> `new` outputs
    kernel, width = _sinc_resample_kernel(orig, new, int(lowpass_filter_width), float(rolloff), waveform.dtype)
    kernel = kernel.to(waveform.device)
    lead, n = waveform.shape[:-1], waveform.shape[-1]
    x = F.pad(waveform.reshape(-1, 1, n), (width, width + orig))
    # one strided conv gives, for every period b, the `new` phases: (B, new, periods)
    y = F.conv1d(x, kernel, stride=orig)
    y = y.transpose(1, 2).reshape(x.shape[0], -1)[:, : -(-new * n // orig)]
    return y.reshape(*lead, y.shape[-1])


def _check_rate(name: str, rate: int | float) -> int:
    if isinstance(rate, bool) or not float(rate).is_integer() or rate <= 0:
        raise ValueError(f"resample: {name} must be a positive integer number of Hz, got {rate!r}")
    return int(rate)


@functools.lru_cache(maxsize=32)
def _sinc_resample_kernel(
    orig: int, new: int, lowpass_filter_width: int, rolloff: float, dtype: torch.dtype
) -> tuple[torch.Tensor, int]:
    """Polyphase kernel ``(new, 1, 2 * width + orig)`` for gcd-reduced rates, and ``width``.

    Row ``j`` makes output ``j / new`` of a period from inputs ``(k - width) / orig`` (time in
    periods), weighting each by ``h(d) = (fc / orig) sinc(fc d) cos^2(pi fc d / (2 L))`` for
    ``|fc d| <= L`` and 0 beyond, with ``d`` the input-minus-output time, ``fc = rolloff * min(orig,
    new)`` and ``L = lowpass_filter_width``. The offsets are built in ``dtype`` with torchaudio's
    operation order (input time / orig minus output time / new, then times fc): in float32 that
    rounding moves taps by up to ~2e-5 from the exact kernel, and matching it keeps the outputs
    equal to torchaudio's (float64 input gives the exact kernel).
    """
    cutoff = min(orig, new) * rolloff
    width = math.ceil(lowpass_filter_width * orig / cutoff)  # taps each side reaching L zero crossings
    t_in = torch.arange(-width, width + orig, dtype=dtype) / orig
    t_out = torch.arange(new, dtype=dtype)[:, None] / new
    x = (t_in - t_out) * cutoff  # distance in zero crossings of the low-pass sinc
    window = torch.cos(x * (math.pi / (2 * lowpass_filter_width))).square()
    kernel = torch.where(x.abs() <= lowpass_filter_width, torch.sinc(x) * window, torch.zeros((), dtype=dtype))
    return kernel.mul_(cutoff / orig)[:, None], width


def read_audio(
    path: str | os.PathLike,
    *,
    sample_rate: int | None = None,
    mono: bool = False,
    start: float = 0.0,
    duration: float | None = None,
    sample_format: Literal["float", "s16"] = "float",
) -> tuple[torch.Tensor, int]:
    """Read ``[start, start+duration)`` seconds of audio as float32 ``(C, N)`` and its rate.

    wav/flac/ogg go through soundfile (seeking by sample); anything else (mp4, mkv, webm, avi,
    mp3, aac) through PyAV, seeking to ``start`` and resampling with FFmpeg's resampler when
    ``sample_rate`` or ``mono`` asks for it. ``sample_format="s16"`` quantises through int16 and
    divides by 32767, as XKD's ``AudioResampler(format='s16p')`` loader does.

    Returns:
        ``(waveform (C, N) float32, rate)``; ``C = 1`` with ``mono``.
    """
    p = _check_file(path)
    if p.suffix.lower() in SOUNDFILE_SUFFIXES:
        wave, rate = _read_soundfile(p, start, duration)
        if mono and wave.shape[0] > 1:
            wave = wave.mean(0, keepdim=True)
        if sample_rate and sample_rate != rate:
            wave, rate = resample(wave, rate, sample_rate), sample_rate
        if sample_format == "s16":
            wave = torch.round(wave.clamp(-1, 1) * 32767) / 32767
        return wave, rate
    return _read_pyav(p, sample_rate, mono, start, duration, sample_format)


def _read_soundfile(p: Path, start: float, duration: float | None) -> tuple[torch.Tensor, int]:
    import soundfile as sf

    try:
        with sf.SoundFile(os.fspath(p)) as f:
            rate = f.samplerate
            first = int(round(start * rate))
            if first:
                f.seek(min(first, f.frames))
            frames = -1 if duration is None else int(round(duration * rate))
            data = f.read(frames=frames, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as err:
        raise AudioDecodeError(p, str(err)) from err
    return torch.from_numpy(np.ascontiguousarray(data.T)), rate


def _read_pyav(
    p: Path, sample_rate: int | None, mono: bool, start: float, duration: float | None, sample_format: str
) -> tuple[torch.Tensor, int]:
    container = _open_av(p)
    try:
        if not container.streams.audio:
            raise AudioDecodeError(p, "no audio stream")
        stream = container.streams.audio[0]
        rate = sample_rate or stream.codec_context.sample_rate
        fmt = "s16p" if sample_format == "s16" else "fltp"
        layout = "mono" if mono else None
        resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
        if start > 0:
            container.seek(int(start / stream.time_base), stream=stream, backward=True, any_frame=False)
        chunks: list[np.ndarray] = []
        t0: float | None = None
        end = None if duration is None else start + duration
        for frame in container.decode(stream):
            if t0 is None:
                t0 = float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
            if end is not None and frame.pts is not None and float(frame.pts * stream.time_base) > end + 0.1:
                break
            frame.pts = None  # let the resampler keep its own running clock
            chunks.extend(f.to_ndarray() for f in resampler.resample(frame))
        chunks.extend(f.to_ndarray() for f in resampler.resample(None))  # flush
    except av.FFmpegError as err:
        raise AudioDecodeError(p, f"decoding failed ({err})") from err
    finally:
        container.close()
    if not chunks:
        raise AudioDecodeError(p, "the audio stream holds no samples")
    data = np.concatenate(chunks, axis=1)
    wave = torch.from_numpy(data.astype(np.float32) / 32767.0 if fmt == "s16p" else np.ascontiguousarray(data))
    offset = max(0, int(round((start - (t0 or 0.0)) * rate))) if start > 0 else 0
    stop = None if duration is None else offset + int(round(duration * rate))
    return wave[:, offset:stop].contiguous(), rate


def prepare_waveform(waveform: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Mono mean over channels, then trim or zero-pad at the end to ``num_samples``: ``(1, num_samples)``."""
    x = waveform.to(torch.float32)
    if x.dim() == 1:
        x = x[None]
    x = x.mean(0, keepdim=True)
    n = x.shape[-1]
    return x[:, :num_samples] if n >= num_samples else F.pad(x, (0, num_samples - n))


# Slaney's mel scale (Auditory Toolbox; librosa's default): linear, 3 mels per 200 Hz, up to
# 1 kHz (15 mels), then logarithmic with 27 mels per factor 6.4 in frequency.
_SLANEY_HZ_PER_MEL = 200.0 / 3
_SLANEY_LOG_START_HZ = 1000.0
_SLANEY_LOG_START_MEL = _SLANEY_LOG_START_HZ / _SLANEY_HZ_PER_MEL
_SLANEY_LOG_STEP = math.log(6.4) / 27.0  # ln(Hz ratio) per mel


def _hz_to_mel(hz: float, mel_scale: str) -> float:
    if mel_scale == "htk":  # O'Shaughnessy: 2595 log10(1 + f / 700)
        return 2595.0 * math.log10(1.0 + hz / 700.0)
    if hz < _SLANEY_LOG_START_HZ:
        return hz / _SLANEY_HZ_PER_MEL
    return _SLANEY_LOG_START_MEL + math.log(hz / _SLANEY_LOG_START_HZ) / _SLANEY_LOG_STEP


def _mel_to_hz(mel: torch.Tensor, mel_scale: str) -> torch.Tensor:
    if mel_scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    log_part = _SLANEY_LOG_START_HZ * torch.exp(_SLANEY_LOG_STEP * (mel - _SLANEY_LOG_START_MEL))
    return torch.where(mel >= _SLANEY_LOG_START_MEL, log_part, mel * _SLANEY_HZ_PER_MEL)


def mel_filterbank(
    *,
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    norm: str | None = "slaney",
    mel_scale: str = "slaney",
) -> torch.Tensor:
    """Triangular mel filterbank ``(n_mels, n_fft // 2 + 1)`` float32, to multiply a power spectrum.

    ``n_mels + 2`` edges evenly spaced on the ``mel_scale`` (``"slaney"`` or ``"htk"``) from
    ``f_min`` to ``f_max`` (default Nyquist); filter ``m`` rises linearly from edge ``m`` to 1 at
    edge ``m + 1`` and falls to 0 at edge ``m + 2``. ``norm="slaney"`` scales it by ``2 / (f[m + 2]
    - f[m])`` (unit area). Same values as ``torchaudio.functional.melscale_fbanks(...).T`` (also
    in float32, and also placing the FFT bins on ``linspace(0, sample_rate // 2)``); the Slaney
    scale with Slaney norm is librosa's default filterbank.
    """
    if mel_scale not in ("slaney", "htk"):
        raise ValueError(f"mel_filterbank: mel_scale must be 'slaney' or 'htk', got {mel_scale!r}")
    if norm not in (None, "slaney"):
        raise ValueError(f"mel_filterbank: norm must be None or 'slaney', got {norm!r}")
    f_max = float(sample_rate / 2 if f_max is None else f_max)
    if n_mels <= 0 or n_fft <= 0 or sample_rate <= 0 or not 0 <= f_min < f_max:
        raise ValueError(
            f"mel_filterbank: need positive sample_rate, n_fft, n_mels and 0 <= f_min < f_max, got "
            f"sample_rate={sample_rate}, n_fft={n_fft}, n_mels={n_mels}, f_min={f_min}, f_max={f_max}"
        )
    bins = torch.linspace(0, sample_rate // 2, n_fft // 2 + 1)  # (F,) Hz of each rfft bin
    mels = torch.linspace(_hz_to_mel(float(f_min), mel_scale), _hz_to_mel(f_max, mel_scale), n_mels + 2)
    edges = _mel_to_hz(mels, mel_scale)[:, None]  # (n_mels + 2, 1) Hz
    left, centre, right = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins - left) / (centre - left)
    falling = (right - bins) / (right - centre)
    fbank = torch.minimum(rising, falling).clamp_min(0.0)  # (n_mels, F)
    if norm == "slaney":
        fbank = fbank * (2.0 / (right - left))
    return fbank.contiguous()


class LogMel(torch.nn.Module):
    """Normalised log-mel spectrogram: ``(..., N)`` waveform -> ``(..., n_mels, 1 + N // hop)``.

    STFT (periodic Hann window of ``win_length``, centred, ``pad_mode`` padding), power ``|X|^2 +
    power_eps``, mel filterbank, ``ln(mel + log_eps)`` and ``(x - mean) / std`` when both are given.
    Defaults are XKD's (reflect padding, as its pinned librosa 0.8.1 did).
    """

    def __init__(
        self,
        *,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        hop_length: int = 143,
        win_length: int | None = None,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: float | None = None,
        pad_mode: str = "reflect",
        power_eps: float = float(np.finfo(np.float64).eps),
        log_eps: float = float(np.finfo(np.float32).eps),
        mean: float | None = KINETICS_SOUND_LOGMEL_STATS[0],
        std: float | None = KINETICS_SOUND_LOGMEL_STATS[1],
        mel_norm: str | None = "slaney",
        mel_scale: str = "slaney",
    ):
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        self.win_length = win_length or n_fft
        self.pad_mode, self.power_eps, self.log_eps = pad_mode, power_eps, log_eps
        self.mean, self.std = mean, std
        self.register_buffer("window", torch.hann_window(self.win_length, periodic=True), persistent=False)
        self.register_buffer(
            "fbank",
            mel_filterbank(
                sample_rate=sample_rate,
                n_fft=n_fft,
                n_mels=n_mels,
                f_min=f_min,
                f_max=f_max,
                norm=mel_norm,
                mel_scale=mel_scale,
            ),
            persistent=False,
        )

    def mel_power(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(..., N)`` -> mel power ``(..., n_mels, frames)`` (before the log)."""
        lead = waveform.shape[:-1]
        x = waveform.reshape(-1, waveform.shape[-1]).to(torch.float32)
        spec = torch.stft(
            x,
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=True,
            pad_mode=self.pad_mode,
            return_complex=True,
        )
        power = spec.real.square() + spec.imag.square() + self.power_eps
        mel = torch.matmul(self.fbank, power)
        return mel.reshape(*lead, *mel.shape[-2:])

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = torch.log(self.mel_power(waveform) + self.log_eps)
        if self.mean is not None and self.std is not None:
            x = (x - self.mean) / self.std
        return x


def log_mel_spectrogram(waveform: torch.Tensor, **config) -> torch.Tensor:
    """Functional form of :class:`LogMel` (keyword arguments are its config)."""
    return LogMel(**config)(waveform)


def spectrogram_resize_crop_box(
    n_freq: int,
    n_time: int,
    *,
    virtual_crop_scale: Sequence[float] = (1.0, 1.5),
    freq_scale: Sequence[float] = (0.6, 1.5),
    time_scale: Sequence[float] = (0.6, 1.5),
    rng: RNG = None,
) -> tuple[list[int], tuple[int, int]]:
    """Draw a BYOL-A random-resize-crop box ``[i, j, h, w]`` and the canvas size.

    Canvas ``(int(F*vf), int(T*vt))``; ``h = clip(int(U(freq_scale)*F), 1, canvas_F)``,
    ``w = clip(int(U(time_scale)*T), 1, canvas_T)``; ``i, j`` uniform in ``[0, canvas - size]``.
    """
    canvas = (int(n_freq * virtual_crop_scale[0]), int(n_time * virtual_crop_scale[1]))
    h = int(np.clip(int(_uniform(rng, *freq_scale) * n_freq), 1, canvas[0]))
    w = int(np.clip(int(_uniform(rng, *time_scale) * n_time), 1, canvas[1]))
    i = int(_randint(rng, 0, canvas[0] - h + 1)) if canvas[0] > h else 0
    j = int(_randint(rng, 0, canvas[1] - w + 1)) if canvas[1] > w else 0
    return [i, j, h, w], canvas


def spectrogram_resize_crop(lms: torch.Tensor, box: Sequence[int], canvas: Sequence[int]) -> torch.Tensor:
    """Place ``lms (C, F, T)`` centred on a zero canvas, cut ``box = [i, j, h, w]`` and resize back
    to ``(F, T)`` bicubically with ``align_corners=True`` (XKD's local audio view)."""
    c, f, t = lms.shape
    cf, ct = int(canvas[0]), int(canvas[1])
    if cf < f or ct < t:
        raise ValueError(f"canvas {canvas} smaller than the spectrogram ({f}, {t})")
    board = lms.new_zeros(c, cf, ct)
    top, left = (cf - f) // 2, (ct - t) // 2
    board[:, top : top + f, left : left + t] = lms
    i, j, h, w = (int(v) for v in box)
    patch = board[:, i : i + h, j : j + w]
    return F.interpolate(patch[None], size=(f, t), mode="bicubic", align_corners=True)[0]
