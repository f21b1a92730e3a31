"""Encoded-video reading through PyAV (mp4 / avi / mkv / webm).

Two ways to ask for frames, matching how the papers' loaders think:

* by **frame index** (TSN / decord-style samplers): :meth:`VideoReader.get_frames` seeks to the
  keyframe before each needed run of frames and decodes only up to the last needed one. The
  presentation-time index of every frame comes from demuxing packet headers once (no decoding),
  so indices are exact even for variable frame rate files and B-frame reordering;
* by **time window** (SlowFast / XKD-style decoders): :meth:`VideoReader.read_window` seeks to
  ``start`` seconds and decodes frames whose timestamp falls in ``[start, end)``.

Frames come back as uint8 ``(T, H, W, 3)`` RGB or, with ``layout="tchw"``, float ``(T, 3, H, W)``
in ``[0, 1]``. Errors name the file: a missing file raises ``FileNotFoundError``, anything FFmpeg
cannot open or decode (zero bytes, truncated, not a video) raises :class:`VideoDecodeError`.

A file cut short whose index survives (an mp4 written with ``movflags=faststart`` keeps its
``moov`` atom at the front) opens fine and would read as a shorter video. The demuxing pass that
builds the frame index (packet headers only, no decoding) therefore compares the frames it found
with what the container itself declares (its frame count, else its duration times the frame
rate) and raises ``VideoDecodeError("... truncated or corrupt: 64 of 132 frames decodable ...")``
when they fall short by more than :data:`TRUNCATION_TOLERANCE_FRAMES` frames (or 1 %), or when the
file ends inside its last packet (FFmpeg flags that packet corrupt); the tolerance absorbs
B-frame / edit-list differences of complete files. This costs nothing on the
decoding path: the numbers compared come from the index pass every read already does.

decord and torchcodec are optional backends (:func:`read_frames` with ``backend=``), used only if
installed; PyAV is always available.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np
import torch

from ..errors import UserError
from ._errors import missing_file

__all__ = [
    "VideoDecodeError",
    "missing_file",
    "VideoInfo",
    "VideoReader",
    "probe_video",
    "read_frames",
    "read_video",
    "frames_to_tensor",
    "available_backends",
]

Layout = Literal["thwc", "tchw"]
_NO_PTS_FORMATS = {"avi", "h264", "hevc", "mjpeg", "m4v"}

#: frames a video may fall short of its container's declared count (or 1 % of it, whichever is
#: larger) before it is called truncated: complete files differ by a frame or two at most
#: (B-frame reordering, edit lists, durations rounded by the muxer)
TRUNCATION_TOLERANCE_FRAMES = 2


class VideoDecodeError(UserError, RuntimeError):
    """FFmpeg could not open or decode ``path`` (corrupt, truncated, empty, no video stream)."""

    kind = "video"

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"cannot decode {self.kind} {self.path}: {reason}")


@dataclass(frozen=True)
class VideoInfo:
    """Container facts of one video stream (and its first audio stream, if any)."""

    path: str
    num_frames: int  # frames in presentation order (exact: counted from packets)
    fps: float  # average frame rate of the stream
    duration: float  # seconds, from the first frame to the end of the last one
    width: int
    height: int
    codec: str
    start_time: float  # timestamp of the first frame, seconds
    has_audio: bool
    audio_sample_rate: int | None = None
    audio_channels: int | None = None


def _open(path: str | os.PathLike) -> av.container.InputContainer:
    p = Path(path)
    if not p.exists():
        raise missing_file(f"video file not found: {p}", p)
    if p.is_file() and p.stat().st_size == 0:
        raise VideoDecodeError(p, "file is empty (0 bytes)")
    try:
        return av.open(os.fspath(p), mode="r", metadata_errors="ignore")
    except av.FFmpegError as err:
        raise VideoDecodeError(p, f"FFmpeg could not open it ({err.__class__.__name__}: {err})") from err


def frames_to_tensor(frames: np.ndarray | torch.Tensor, layout: Layout = "thwc") -> torch.Tensor:
    """uint8 ``(T, H, W, 3)`` -> itself (``"thwc"``) or float32 ``(T, 3, H, W)`` in [0, 1] (``"tchw"``)."""
    t = torch.from_numpy(frames) if isinstance(frames, np.ndarray) else frames
    if layout == "thwc":
        return t
    if layout == "tchw":
        return t.permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
    raise ValueError(f"layout must be 'thwc' or 'tchw', got {layout!r}")


class VideoReader:
    """A PyAV-backed reader for one video file.

    Args:
        path: the file.
        threads: FFmpeg decoding threads; 1 (default) suits DataLoader workers, 0 lets FFmpeg
            choose (frame + slice threading).
        size: optional ``(height, width)`` to rescale frames to while converting to RGB
            (swscale, cheaper than decoding full size and resizing later).

    Open files are closed by :meth:`close` or the context manager.
    """

    def __init__(self, path: str | os.PathLike, *, threads: int = 1, size: tuple[int, int] | None = None):
        self.path = os.fspath(path)
        self.size = size
        self._container = _open(path)
        if not self._container.streams.video:
            self._container.close()
            raise VideoDecodeError(path, "no video stream")
        self._stream = self._container.streams.video[0]
        cc = self._stream.codec_context
        if threads != 1:
            self._stream.thread_type = "AUTO"
            cc.thread_count = threads
        self._pts: np.ndarray | None = None
        # AVI has no presentation timestamps (FFmpeg synthesises them in decode order); frames of
        # such files are identified by their position after a keyframe instead
        self._pts_reliable = self._container.format.name not in _NO_PTS_FORMATS
        self._fresh = True  # nothing demuxed yet: reading from the start needs no seek
        self._key_pos: np.ndarray | None = None  # presentation index of every keyframe, sorted

    # ---------------------------------------------------------------- context / bookkeeping
    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def time_base(self) -> Fraction:
        return self._stream.time_base

    def _rewind(self) -> None:
        if not self._fresh:
            self._container.seek(0, stream=self._stream, backward=True, any_frame=False)
        self._fresh = False

    def _index(self) -> None:
        """Demux the packet headers once: pts of every frame (sorted) and keyframe positions."""
        if self._pts is not None:
            return
        pts, keys = [], []
        last = None
        try:
            self._rewind()
            for packet in self._container.demux(self._stream):
                if packet.pts is None:  # flush packets
                    continue
                pts.append(packet.pts)
                keys.append(packet.is_keyframe)
                last = packet
        except av.FFmpegError as err:
            raise VideoDecodeError(self.path, f"demuxing failed ({err})") from err
        if not pts:
            raise VideoDecodeError(self.path, "the video stream holds no frames")
        pts_arr = np.asarray(pts, dtype=np.int64)
        order = np.argsort(pts_arr, kind="stable")
        self._check_complete(pts_arr[order], last_packet_cut=bool(last is not None and last.is_corrupt))
        self._pts = pts_arr[order]
        self._key_pos = np.flatnonzero(np.asarray(keys, dtype=bool)[order])
        if self._key_pos.size == 0 or self._key_pos[0] != 0:
            self._key_pos = np.concatenate([[0], self._key_pos])

    def _fps(self) -> float:
        s = self._stream
        rate = s.average_rate or s.guessed_rate or s.base_rate
        return float(rate) if rate else 0.0

    def _check_complete(self, pts: np.ndarray, *, last_packet_cut: bool) -> None:
        """Raise if the frames found (``pts``, sorted) fall short of what the container declares.

        Compares numbers the demuxing pass already has: the stream's frame count from the index
        (mp4 ``stts``, avi header) and the end of the last frame against the stream's declared
        duration (mp4 / mkv; for mp4 the duration honours edit lists, which may legitimately drop
        a few samples the count still lists, so both must fall short there). Where neither is
        declared per stream (mkv), the container's duration (all streams) is used with a
        looser tolerance, since an audio track may run a little longer than the video.
        """
        s = self._stream
        found = int(pts.size)
        fps = self._fps()
        tb = float(s.time_base)
        declared = int(s.frames or 0)
        end = float(pts[-1] - pts[0]) * tb + (1.0 / fps if fps else 0.0)  # seconds of video found
        declared_dur = float(s.duration) * tb if s.duration else None
        slack_s = 0.0
        if declared_dur is None and self._container.duration and fps:
            declared_dur = self._container.duration / av.time_base
            slack_s = max(0.5, 0.05 * declared_dur)
        expected = declared or (int(round(declared_dur * fps)) if declared_dur and fps else 0)
        if not expected and not last_packet_cut:
            return  # the container declares nothing to compare against
        tol = max(TRUNCATION_TOLERANCE_FRAMES, int(0.01 * expected))
        short_count = expected - found
        short_time = declared_dur is not None and fps > 0 and end < declared_dur - slack_s - tol / fps
        if declared and self._pts_reliable and declared_dur is not None:
            truncated = short_count > tol and short_time  # mp4 / mov: count and duration agree
        elif declared:
            truncated = short_count > tol  # avi: the header's count is all there is
        else:
            truncated = short_time
        if last_packet_cut:
            truncated = True  # the file ends inside its last packet: cut, however few frames are missing
        if truncated:
            usable = found - int(last_packet_cut)
            if declared:
                claim = f"the container lists {declared} frames" + (
                    f", {declared_dur:.2f} s" if self._pts_reliable and declared_dur else ""
                )
            elif declared_dur is not None:
                claim = f"the container declares {declared_dur:.2f} s at {fps:g} fps"
            else:
                claim, expected = "the container declares no length", found
            stop = f"at {end:.2f} s" if short_time and self._pts_reliable else f"after {found} frames"
            cut = ", inside a frame" if last_packet_cut else ""
            raise VideoDecodeError(
                self.path,
                f"truncated or corrupt: {usable} of {expected} frames decodable ({claim}, but its data stops {stop}{cut})",
            )

    def __len__(self) -> int:
        self._index()
        return int(self._pts.size)  # type: ignore[union-attr]

    @property
    def info(self) -> VideoInfo:
        self._index()
        s = self._stream
        tb = float(s.time_base)
        fps = self._fps()
        pts = self._pts
        assert pts is not None
        frame_dur = (1.0 / fps) if fps else 0.0
        if len(pts) > 1 and not fps:
            frame_dur = float(np.median(np.diff(pts))) * tb
            fps = 1.0 / frame_dur if frame_dur else 0.0
        duration = float(pts[-1] - pts[0]) * tb + frame_dur
        audio = self._container.streams.audio
        return VideoInfo(
            path=self.path,
            num_frames=int(pts.size),
            fps=fps,
            duration=duration,
            width=s.codec_context.width,
            height=s.codec_context.height,
            codec=s.codec_context.name,
            start_time=float(pts[0]) * tb,
            has_audio=bool(audio),
            audio_sample_rate=audio[0].codec_context.sample_rate if audio else None,
            audio_channels=audio[0].codec_context.channels if audio else None,
        )

    def frame_timestamps(self) -> np.ndarray:
        """Presentation time (seconds, float64) of every frame, in order. Shape ``(N,)``."""
        self._index()
        return self._pts.astype(np.float64) * float(self.time_base)  # type: ignore[union-attr]

    # ---------------------------------------------------------------- decoding
    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        if self.size is not None:
            h, w = self.size
            return frame.to_ndarray(format="rgb24", width=w, height=h)
        return frame.to_ndarray(format="rgb24")

    def _decode_from(self, seek_pts: int):
        """Seek to the keyframe at or before ``seek_pts`` and yield decoded frames."""
        try:
            self._fresh = False
            self._container.seek(int(seek_pts), stream=self._stream, backward=True, any_frame=False)
            yield from self._container.decode(self._stream)
        except av.FFmpegError as err:
            raise VideoDecodeError(self.path, f"decoding failed ({err.__class__.__name__}: {err})") from err

    def _decode_run(
        self, start_key: int, wanted: np.ndarray, first: int, last: int, out: list[np.ndarray | None], seek: bool
    ) -> bool:
        """Decode from keyframe ``start_key`` and fill ``out[first..last]`` (frames ``wanted[first..last]``).

        Frames are identified by timestamp when the container's timestamps are trustworthy, else by
        their position after the keyframe (decoders output frames in presentation order; AVI
        stores no presentation timestamps, so B-frame files carry permuted ones). Returns False
        if timestamps were trusted but are not increasing (the caller retries by position).
        """
        pts = self._pts
        assert pts is not None
        lookup = {int(wanted[j]): j for j in range(first, last + 1)}
        last_index = int(wanted[last])
        by_pts = self._pts_reliable
        pts_to_index = {int(pts[i]): i for i in lookup} if by_pts else {}
        last_pts = int(pts[last_index])
        previous = None
        got_any = False
        frames = self._decode_from(int(pts[start_key])) if seek else self._decode_all()
        for n, frame in enumerate(frames):
            got_any = True
            if by_pts:
                if frame.pts is None:
                    continue
                if previous is not None and frame.pts <= previous:
                    return False
                previous = frame.pts
                index = pts_to_index.get(int(frame.pts))
                done = frame.pts >= last_pts
            else:
                position = start_key + n
                index = position if position in lookup else None
                done = position >= last_index
            if index is not None and out[lookup[index]] is None:
                out[lookup[index]] = self._to_rgb(frame)
            if done:
                break
        if not got_any:
            raise VideoDecodeError(self.path, f"no frames decoded after seeking to frame {start_key}")
        return True

    def get_frames(
        self, indices: Sequence[int] | np.ndarray | torch.Tensor, *, layout: Layout = "thwc", seek: bool = True
    ) -> torch.Tensor:
        """Frames at presentation indices ``indices`` (any order, repeats allowed).

        Only the needed frames are converted to RGB; decoding restarts at a keyframe only when
        the next needed frame lies beyond the next keyframe (otherwise decoding on is cheaper).
        ``seek=False`` decodes from the start of the file instead (for files with a broken index).

        Returns:
            uint8 ``(T, H, W, 3)`` or float ``(T, 3, H, W)`` (``layout="tchw"``), T = len(indices).
        """
        self._index()
        pts, key_pos = self._pts, self._key_pos
        assert pts is not None and key_pos is not None
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = pts.size
        if idx.size == 0:
            raise ValueError(f"{self.path}: no frame indices requested")
        if idx.min() < 0 or idx.max() >= n:
            raise IndexError(f"{self.path}: frame index out of range [0, {n}): min {idx.min()}, max {idx.max()}")
        wanted = np.unique(idx)
        out: list[np.ndarray | None] = [None] * wanted.size
        # keyframe at or before every wanted frame
        wanted_key = key_pos[np.searchsorted(key_pos, wanted, side="right") - 1]
        k = 0  # next wanted position to fetch
        while k < wanted.size:
            start_key = int(wanted_key[k]) if seek else 0
            # decoding stops after this run's last frame: the run ends where a later wanted frame
            # has its own, later keyframe (then a fresh seek is cheaper than decoding through)
            run_end = k
            while run_end + 1 < wanted.size:
                if seek and wanted_key[run_end + 1] > wanted[run_end] + 1:
                    break
                run_end += 1
            ok = self._decode_run(start_key, wanted, k, run_end, out, seek)
            if not ok:  # timestamps turned out unusable: count frames from the keyframe instead
                self._pts_reliable = False
                self._decode_run(start_key, wanted, k, run_end, out, seek)
            missing = [int(wanted[j]) for j in range(k, run_end + 1) if out[j] is None]
            if missing:
                raise VideoDecodeError(
                    self.path, f"truncated or corrupt: frames {missing[:5]} of {n} could not be decoded"
                )
            k = run_end + 1
        stacked = np.stack(out)  # (U, H, W, 3) for the unique indices
        gather = np.searchsorted(wanted, idx)
        return frames_to_tensor(stacked[gather], layout)

    def read_window(
        self, start: float = 0.0, end: float | None = None, *, layout: Layout = "thwc", max_frames: int | None = None
    ) -> tuple[torch.Tensor, np.ndarray]:
        """Every frame whose timestamp ``t`` satisfies ``start <= t < end`` (seconds).

        ``end=None`` reads to the end of the stream. Decoding seeks to the keyframe before
        ``start`` and stops at ``end``, so a short window of a long file costs a short decode.

        Returns:
            ``(frames, timestamps)``: uint8 ``(T, H, W, 3)`` (or float ``(T, 3, H, W)``) and float64 ``(T,)`` seconds.
        """
        stamps = self.frame_timestamps()
        inside = stamps >= start
        if end is not None:
            inside &= stamps < end
        sel = np.flatnonzero(inside)
        if max_frames is not None:
            sel = sel[:max_frames]
        if sel.size == 0:
            raise VideoDecodeError(
                self.path,
                f"no frames in the window [{start}, {end}) s (the video spans {stamps[0]:.3f}-{stamps[-1]:.3f} s)",
            )
        return self.get_frames(sel, layout=layout), stamps[sel]

    def _decode_all(self):
        try:
            self._rewind()
            yield from self._container.decode(self._stream)
        except av.FFmpegError as err:
            raise VideoDecodeError(self.path, f"decoding failed ({err.__class__.__name__}: {err})") from err


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """:class:`VideoInfo` of ``path`` (demuxes packet headers, decodes nothing)."""
    with VideoReader(path) as reader:
        return reader.info


def read_video(
    path: str | os.PathLike,
    start: float = 0.0,
    end: float | None = None,
    *,
    layout: Layout = "thwc",
    threads: int = 1,
    size: tuple[int, int] | None = None,
) -> tuple[torch.Tensor, np.ndarray]:
    """Decode the frames of ``path`` in ``[start, end)`` seconds: ``(frames, timestamps)``."""
    with VideoReader(path, threads=threads, size=size) as reader:
        return reader.read_window(start, end, layout=layout)


def available_backends() -> list[str]:
    """Decoding backends importable here; ``"pyav"`` always, decord / torchcodec if installed."""
    found = ["pyav"]
    for name in ("decord", "torchcodec"):
        try:
            __import__(name)
            found.append(name)
        except ImportError:
            pass
    return found


def read_frames(
    path: str | os.PathLike,
    indices: Sequence[int] | np.ndarray,
    *,
    layout: Layout = "thwc",
    backend: str = "pyav",
    threads: int = 1,
    size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Frames of ``path`` at frame ``indices`` with the chosen backend (same output for all).

    ``backend="decord"`` / ``"torchcodec"`` need those packages (never required); PyAV is the default.
    """
    if backend == "pyav":
        with VideoReader(path, threads=threads, size=size) as reader:
            return reader.get_frames(indices, layout=layout)
    if not Path(path).exists():
        raise missing_file(f"video file not found: {path}", path)
    idx = [int(i) for i in np.asarray(indices).reshape(-1)]
    if backend == "decord":
        try:
            import decord  # type: ignore
        except ImportError as err:
            raise ImportError("backend='decord' needs the decord package (pip install decord)") from err
        kwargs = {"height": size[0], "width": size[1]} if size else {}
        try:
            vr = decord.VideoReader(os.fspath(path), num_threads=threads, **kwargs)
            arr = vr.get_batch(idx).asnumpy()
        except decord.DECORDError as err:  # pragma: no cover - decord not installed here
            raise VideoDecodeError(path, str(err)) from err
        return frames_to_tensor(arr, layout)
    if backend == "torchcodec":
        try:
            from torchcodec.decoders import VideoDecoder  # type: ignore
        except ImportError as err:
            raise ImportError("backend='torchcodec' needs the torchcodec package") from err
        try:  # pragma: no cover - torchcodec not installed here
            data = VideoDecoder(os.fspath(path), dimension_order="NHWC").get_frames_at(idx).data
        except RuntimeError as err:  # pragma: no cover
            raise VideoDecodeError(path, str(err)) from err
        if size is not None:  # pragma: no cover
            data = (
                torch.nn.functional.interpolate(
                    data.permute(0, 3, 1, 2).float(), size=size, mode="bilinear", antialias=True
                )
                .round()
                .clamp(0, 255)
                .byte()
                .permute(0, 2, 3, 1)
            )
        return frames_to_tensor(data.contiguous(), layout)
    raise ValueError(f"unknown backend {backend!r}; available: {available_backends()}")
