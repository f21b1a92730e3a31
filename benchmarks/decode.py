#!/usr/bin/env python
"""Decoding throughput of videokd.data: clips/s and frames/s on ONE core.

    python benchmarks/decode.py [--seconds-per-case 3] [--out FILE.json] [--quick]

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
dataset's ``__getitem__`` does; the reported figure is the median time per clip over the calls of
that budget. The whole run takes about a minute (``--quick``: a 4-s video, 0.3 s per case).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402

from videokd.data.frames import FrameFolder  # noqa: E402
from videokd.data.samplers import tsn_test_indices  # noqa: E402
from videokd.data.synthetic import render_clip, write_jpeg_frames, write_video  # noqa: E402
from videokd.data.video import VideoReader  # noqa: E402


def _clip_indices(kind: str, n: int, t: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "tsn":
        # a random one of 4 test views keeps the positions varied between repetitions
        return tsn_test_indices(n, t, 4)[rng.integers(0, 4)]
    stride = 4
    start = int(rng.integers(0, n - stride * (t - 1)))
    return start + stride * np.arange(t)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds-per-case", type=float, default=None, help="default 3 (0.3 quick)")
    _bench.add_common_args(parser)
    parser.set_defaults(threads=1)
    args = parser.parse_args(argv)
    device = _bench.setup(args)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    budget = args.seconds_per_case or (0.3 if args.quick else 3.0)
    fps, seconds, height, width = 25, (4 if args.quick else 10), 256, 340
    n = fps * seconds
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        frames = render_clip(2, frames=n, height=height, width=width, rng=rng)
        video = write_video(Path(tmp) / "clip.mp4", frames, fps=fps, gop=25, crf=23)
        folder = write_jpeg_frames(Path(tmp) / "frames", frames, "img_{:05d}.jpg", quality=90)
        for t in (8, 16):
            for kind in ("tsn", "dense"):
                for seek in (True, False):

                    def run(t=t, kind=kind, seek=seek):
                        with VideoReader(video) as reader:
                            out = reader.get_frames(_clip_indices(kind, n, t, rng), seek=seek)
                        assert out.shape == (t, height, width, 3)

                    rows.append(_bench.measure_for(run, device, seconds=budget, name=f"mp4_T{t}_{kind}_"
                                                   + ("seek" if seek else "noseek"), unit="clip", items=t,
                                                   items_name="frames"))  # fmt: skip
                    _bench.print_rows(rows[-1:])
            for backend in ("torchvision", "pil"):

                def run_folder(t=t, backend=backend):
                    out = FrameFolder(folder, backend=backend, num_frames=n).get_frames(_clip_indices("tsn", n, t, rng))
                    assert out.shape == (t, height, width, 3)

                rows.append(_bench.measure_for(run_folder, device, seconds=budget, name=f"jpg_{backend}_T{t}_tsn",
                                               unit="clip", items=t, items_name="frames"))  # fmt: skip
                _bench.print_rows(rows[-1:])
        sizes = {"mp4_bytes": video.stat().st_size, "jpg_folder_bytes": sum(p.stat().st_size for p in folder.iterdir())}
    import av

    config = {"video": {"width": width, "height": height, "fps": fps, "frames": n, "codec": "h264 (libx264 crf 23)",
                        "gop": 25, "b_frames": 2, **sizes},
              "seconds_per_case": budget, "pyav": av.__version__, "opened": "once per clip"}  # fmt: skip
    _bench.write_doc(args.out, benchmark="decode", script=__file__, device=device, quick=args.quick, config=config,
                     results=rows)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
