"""Real media files: H.264 (+AAC) video through PyAV and JPEG frame folders. (The PRVR family
writes its own BigFile / HDF5 feature files: no other family uses them.)"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["write_video", "write_jpeg_frames"]


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    *,
    fps: float = 25,
    audio: np.ndarray | None = None,
    audio_rate: int = 16000,
    gop: int = 12,
    crf: int = 23,
) -> Path:
    """Encode uint8 ``(T, H, W, 3)`` as H.264 (yuv420p, keyframe every ``gop`` frames) with an optional
    AAC track from float ``(C, N)`` samples. The container follows the suffix (mp4, avi, mkv)."""
    from fractions import Fraction

    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise ValueError(f"write_video: H.264 yuv420p needs even sizes, got {h}x{w}")
    with av.open(os.fspath(path), "w") as out:
        vs = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"crf": str(crf), "preset": "ultrafast", "g": str(gop), "bf": "2"}
        astream = None
        if audio is not None:
            astream = out.add_stream("aac", rate=audio_rate)
            astream.layout = "mono" if audio.shape[0] == 1 else "stereo"
        for frame in frames:
            for packet in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if astream is not None:
            af = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(audio, dtype=np.float32), format="fltp", layout=astream.layout.name
            )
            af.sample_rate = audio_rate
            for packet in astream.encode(af):
                out.mux(packet)
            for packet in astream.encode(None):
                out.mux(packet)
    return path


def write_jpeg_frames(
    folder: str | os.PathLike, frames: np.ndarray, template: str, *, start_index: int = 1, quality: int = 90
) -> Path:
    """Write uint8 ``(T, H, W, 3)`` as ``folder/template.format(start_index + t)`` JPEG files."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames):
        Image.fromarray(np.ascontiguousarray(frame)).save(folder / template.format(start_index + t), quality=quality)
    return folder
