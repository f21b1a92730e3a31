"""Audio: tracks of media files through PyAV, wav/flac through soundfile, resampling and
log-mel spectrograms (torch STFT + torchaudio's mel filterbank, every parameter from config).

Waveforms are float32 ``(C, N)`` tensors (channels first). The XKD front end is
:class:`LogMel` with its defaults (n_fft 1024, hop 143, 80 Slaney mels, reflect padding, ``ln``
with the float32 eps, Kinetics-Sound mean/std) and :func:`prepare_waveform`; the local-view
augmentation is :func:`spectrogram_resize_crop`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import av
import numpy as np
import torch
import torch.nn.functional as F

from .samplers import RNG, _randint, _uniform
from ._errors import missing_file
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
        dur = float(s.duration * s.time_base) if s.duration else (container.duration / 1e6 if container.duration else None)
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


def resample(waveform: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Band-limited sinc resampling of ``(..., N)`` (torchaudio)."""
    if orig_rate == new_rate:
        return waveform
    import torchaudio.functional as AF

    return AF.resample(waveform, orig_rate, new_rate)


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


def _read_pyav(p: Path, sample_rate: int | None, mono: bool, start: float, duration: float | None,
               sample_format: str) -> tuple[torch.Tensor, int]:
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


def mel_filterbank(*, sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None,
                   norm: str | None = "slaney", mel_scale: str = "slaney") -> torch.Tensor:
    """Mel filterbank ``(n_mels, n_fft // 2 + 1)``; Slaney scale + area norm matches librosa's default."""
    import torchaudio.functional as AF

    fb = AF.melscale_fbanks(n_fft // 2 + 1, float(f_min), float(f_max if f_max is not None else sample_rate / 2),
                            n_mels, sample_rate, norm=norm, mel_scale=mel_scale)
    return fb.T.contiguous()


class LogMel(torch.nn.Module):
    """Normalised log-mel spectrogram: ``(..., N)`` waveform -> ``(..., n_mels, 1 + N // hop)``.

    STFT (periodic Hann window of ``win_length``, centred, ``pad_mode`` padding), power ``|X|^2 +
    power_eps``, mel filterbank, ``ln(mel + log_eps)`` and ``(x - mean) / std`` when both are given.
    Defaults are XKD's (reflect padding, as its pinned librosa 0.8.1 did).
    """

    def __init__(self, *, sample_rate: int = 16000, n_fft: int = 1024, hop_length: int = 143,
                 win_length: int | None = None, n_mels: int = 80, f_min: float = 0.0, f_max: float | None = None,
                 pad_mode: str = "reflect", power_eps: float = float(np.finfo(np.float64).eps),
                 log_eps: float = float(np.finfo(np.float32).eps),
                 mean: float | None = KINETICS_SOUND_LOGMEL_STATS[0], std: float | None = KINETICS_SOUND_LOGMEL_STATS[1],
                 mel_norm: str | None = "slaney", mel_scale: str = "slaney"):
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        self.win_length = win_length or n_fft
        self.pad_mode, self.power_eps, self.log_eps = pad_mode, power_eps, log_eps
        self.mean, self.std = mean, std
        self.register_buffer("window", torch.hann_window(self.win_length, periodic=True), persistent=False)
        self.register_buffer("fbank", mel_filterbank(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels, f_min=f_min,
                                                     f_max=f_max, norm=mel_norm, mel_scale=mel_scale), persistent=False)

    def mel_power(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(..., N)`` -> mel power ``(..., n_mels, frames)`` (before the log)."""
        lead = waveform.shape[:-1]
        x = waveform.reshape(-1, waveform.shape[-1]).to(torch.float32)
        spec = torch.stft(x, self.n_fft, hop_length=self.hop_length, win_length=self.win_length, window=self.window,
                          center=True, pad_mode=self.pad_mode, return_complex=True)
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


def spectrogram_resize_crop_box(n_freq: int, n_time: int, *, virtual_crop_scale: Sequence[float] = (1.0, 1.5),
                                freq_scale: Sequence[float] = (0.6, 1.5), time_scale: Sequence[float] = (0.6, 1.5),
                                rng: RNG = None) -> tuple[list[int], tuple[int, int]]:
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
    board[:, top:top + f, left:left + t] = lms
    i, j, h, w = (int(v) for v in box)
    patch = board[:, i:i + h, j:j + w]
    return F.interpolate(patch[None], size=(f, t), mode="bicubic", align_corners=True)[0]
