#!/usr/bin/env python
"""Decoding throughput of videokd.data: clips/s and frames/s on ONE core.

    python benchmarks/decode.py [--seconds-per-case 3] [--out benchmarks/results/decode.json]

Writes a 10 s, 25 fps, 340x256 (256-px short side) H.264 mp4 (keyframe every 25 frames, B-frames,
like re-encoded Kinetics clips) and a JPEG frame folder of the same frames, then measures:

* video, ``tsn``: T frames spread over the whole video (TSN test sampling), ``dense``: T
  frames at stride 4 from a random start (I3D / SlowFast-style window);
  ``seek``: ``VideoReader.get_frames`` seeks to the keyframe before each needed run,
  ``no seek``: decodes from the first frame up to the last needed one (``seek=False``);
* frame folder: T frames at TSN positions, decoded with torchvision's libjpeg-turbo
  ``decode_jpeg`` (batched) or PIL.

Each case runs for about ``--seconds-per-case`` seconds with torch and FFmpeg restricted to one
thread (the DataLoader gives every worker one core); the file is opened once per clip, as a
dataset's ``__getitem__`` does. The whole run takes about a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from videokd.data.frames import FrameFolder
from videokd.data.samplers import tsn_test_indices
from videokd.data.synthetic import render_clip, write_jpeg_frames, write_video
from videokd.data.video import VideoReader


def _clip_indices(kind: str, n: int, t: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "tsn":
        # a random one of 4 test views keeps the positions varied between repetitions
        return tsn_test_indices(n, t, 4)[rng.integers(0, 4)]
    stride = 4
    start = int(rng.integers(0, n - stride * (t - 1)))
    return start + stride * np.arange(t)


def _time(fn, seconds: float) -> tuple[int, float]:
    fn()  # warm-up (page cache, codec init)
    count, start = 0, time.perf_counter()
    while True:
        fn()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds-per-case", type=float, default=3.0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "decode.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    fps, seconds, height, width = 25, 10, 256, 340
    n = fps * seconds
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        frames = render_clip(2, frames=n, height=height, width=width, rng=rng)
        video = write_video(Path(tmp) / "clip.mp4", frames, fps=fps, gop=25, crf=23)
        folder = write_jpeg_frames(Path(tmp) / "frames", frames, "img_{:05d}.jpg", quality=90)
        results = []
        for t in (8, 16):
            for kind in ("tsn", "dense"):
                for seek in (True, False):

                    def run(t=t, kind=kind, seek=seek):
                        with VideoReader(video) as reader:
                            out = reader.get_frames(_clip_indices(kind, n, t, rng), seek=seek)
                        assert out.shape == (t, height, width, 3)

                    clips, elapsed = _time(run, args.seconds_per_case)
                    results.append(
                        {
                            "source": "mp4",
                            "frames_per_clip": t,
                            "sampling": kind,
                            "seek": seek,
                            "clips_per_s": clips / elapsed,
                            "frames_per_s": clips * t / elapsed,
                        }
                    )
                    print(
                        f"mp4    T={t:2d} {kind:5s} {'seek' if seek else 'no seek':7s} "
                        f"{clips / elapsed:7.2f} clips/s {clips * t / elapsed:8.1f} frames/s",
                        flush=True,
                    )
            for backend in ("torchvision", "pil"):

                def run_folder(t=t, backend=backend):
                    out = FrameFolder(folder, backend=backend, num_frames=n).get_frames(_clip_indices("tsn", n, t, rng))
                    assert out.shape == (t, height, width, 3)

                clips, elapsed = _time(run_folder, args.seconds_per_case)
                results.append(
                    {
                        "source": f"jpg folder ({backend})",
                        "frames_per_clip": t,
                        "sampling": "tsn",
                        "seek": None,
                        "clips_per_s": clips / elapsed,
                        "frames_per_s": clips * t / elapsed,
                    }
                )
                print(
                    f"jpg    T={t:2d} tsn   {backend:11s} {clips / elapsed:7.2f} clips/s "
                    f"{clips * t / elapsed:8.1f} frames/s",
                    flush=True,
                )
        sizes = {"mp4_bytes": video.stat().st_size, "jpg_folder_bytes": sum(p.stat().st_size for p in folder.iterdir())}
    import av

    doc = {
        "benchmark": "decode",
        "video": {
            "width": width,
            "height": height,
            "fps": fps,
            "frames": n,
            "codec": "h264 (libx264 crf 23)",
            "gop": 25,
            "b_frames": 2,
            **sizes,
        },
        "threads": 1,
        "seconds_per_case": args.seconds_per_case,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "pyav": av.__version__,
        },
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
