"""``python -m dldkd.extract_teacher`` on real mp4 files, a tiny random CLIP and a synthetic PRVR bundle."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from dldkd.data import PRVRTrainDataset, collate_train, collection_paths, group_captions, read_captions
from dldkd.extract_teacher import load_teacher, main, teacher_frame_indices
from videokd import clip
from videokd.data.features import read_video2frames
from videokd.data.samplers import uniform_indices
from videokd.data.synthetic import make_prvr_dataset, write_video
from videokd.data.video import VideoReader

COLL, FEAT = "tvr", "i3d_resnet"
EMBED = 16
CONTEXT = 8  # shorter than many synthetic captions: exercises tokenize(..., truncate=True)


def _tiny_clip() -> clip.CLIP:
    torch.manual_seed(0)
    cfg = clip.CLIPConfig(
        embed_dim=EMBED,
        image_resolution=32,
        vision_layers=1,
        vision_width=64,
        vision_patch_size=16,
        context_length=CONTEXT,
        transformer_width=64,
        transformer_layers=1,
    )
    return clip.create_model(cfg).eval()


def _frames(n: int, seed: int) -> np.ndarray:
    """``n`` solid-colour frames (32 x 48), each a different colour."""
    k = np.arange(n)[:, None] + 7 * seed
    colours = np.stack([(40 * k) % 256, (90 * k + 60) % 256, (150 * k + 30) % 256], -1).astype(np.uint8)  # (n, 1, 3)
    return np.ascontiguousarray(np.broadcast_to(colours[:, None, :, :], (n, 32, 48, 3)))


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Dataset (teacher files removed), one mp4 per video, a saved tiny CLIP. Read-only: tests copy it."""
    root = tmp_path_factory.mktemp("extract")
    data = root / "data"
    make_prvr_dataset(
        data,
        name=COLL,
        n_videos=(3, 2, 2),
        v_dim=8,
        q_dim=8,
        clip_dim=10,
        frames_per_video=(4, 9),
        captions_per_video=(1, 3),
        seed=3,
    )
    paths = collection_paths(data, COLL, FEAT)
    paths.clip_video.unlink()
    paths.clip_text.unlink()
    v2f = read_video2frames(paths.video2frames)
    videos = root / "videos"
    short = None
    for i, vid in enumerate(v2f):
        n_student = len(v2f[vid])
        n = 2 if i == 0 else n_student + 3  # the first video is shorter than its student features
        if i == 0:
            short = vid
        write_video(videos / f"{vid}.mp4", _frames(n, i), fps=10)
    model = _tiny_clip()
    torch.save(model.state_dict(), root / "tiny_clip.pt")
    return {"root": root, "data": data, "videos": videos, "clip": root / "tiny_clip.pt", "short": short}


@pytest.fixture()
def work(base: dict, tmp_path: Path) -> dict:
    """A private copy of the dataset and videos that a test may change."""
    out = dict(base)
    out["data"] = tmp_path / "data"
    out["videos"] = tmp_path / "videos"
    shutil.copytree(base["data"], out["data"])
    shutil.copytree(base["videos"], out["videos"])
    out["paths"] = collection_paths(out["data"], COLL, FEAT)
    return out


def run(w: dict, *extra: str, clip_path: str | None = None) -> tuple[int, str, str]:
    argv = [
        "--root_path",
        str(w["data"]),
        "--collection",
        COLL,
        "--visual_feature",
        FEAT,
        "--video_dir",
        str(w["videos"]),
        "--clip",
        clip_path or str(w["clip"]),
        "--device",
        "cpu",
        "--num_workers",
        "0",
        "--batch_frames",
        "5",
        "--batch_captions",
        "3",
        *extra,
    ]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def split_ids(paths, splits=("train", "val")) -> tuple[list[str], dict[str, str]]:
    caps = {c: t for s in splits for c, t in read_captions(paths.captions(s))}
    vids, _ = group_captions(caps)
    return vids, caps


def keys(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        return {k: f[k][()] for k in f}


@pytest.fixture()
def extracted(work: dict) -> dict:
    rc, out, err = run(work)
    work.update(rc=rc, out=out, err=err)
    return work


def test_frame_rule_is_uniform_segment_starts():
    assert teacher_frame_indices(10, 4).tolist() == [0, 2, 5, 7]
    assert teacher_frame_indices(2, 5).tolist() == [0, 0, 0, 1, 1]  # shorter video: frames repeat
    for n, t in [(1, 3), (7, 7), (100, 9)]:
        idx = teacher_frame_indices(n, t)
        assert len(idx) == t and idx.min() >= 0 and idx.max() < n


def test_preprocess_follows_model_resolution(base: dict):
    model, preprocess = load_teacher(str(base["clip"]))
    assert preprocess.size == 32 == model.visual.input_resolution
    assert preprocess(torch.zeros(2, 3, 40, 60, dtype=torch.uint8)).shape == (2, 3, 32, 32)


def test_writes_the_files_and_keys_training_reads(extracted: dict):
    w, paths = extracted, extracted["paths"]
    assert w["rc"] == 0, w["err"]
    assert paths.clip_video.name == f"new_clip_vit_32_{COLL}_vid_features.hdf5" and paths.clip_video.is_file()
    assert paths.clip_text.name == f"clip_ViT_B_32_{COLL}_query_feat.hdf5" and paths.clip_text.is_file()
    vids, caps = split_ids(paths)
    v2f = read_video2frames(paths.video2frames)
    video_feats, text_feats = keys(paths.clip_video), keys(paths.clip_text)
    assert set(video_feats) == set(vids)  # default splits: train + val, keyed by video id (no per-frame keys)
    assert set(text_feats) == set(caps)
    for vid, arr in video_feats.items():
        assert arr.dtype == np.float32 and arr.shape == (len(v2f[vid]), EMBED)
    for arr in text_feats.values():
        assert arr.dtype == np.float32 and arr.shape == (1, EMBED)
    assert f"videos:   {len(vids)} written, 0 skipped" in w["out"]
    assert f"captions: {len(caps)} written, 0 skipped" in w["out"]


def test_values_equal_direct_clip_forward(extracted: dict):
    w, paths = extracted, extracted["paths"]
    model, preprocess = clip.load(str(w["clip"]))
    v2f = read_video2frames(paths.video2frames)
    vids, caps = split_ids(paths)
    vid = vids[-1]
    with VideoReader(w["videos"] / f"{vid}.mp4") as reader:
        idx = uniform_indices(reader.info.num_frames, len(v2f[vid]))
        frames = reader.get_frames(idx, layout="thwc").permute(0, 3, 1, 2)
    with torch.no_grad():
        expected = model.encode_image(preprocess(frames)).numpy()
    got = keys(paths.clip_video)[vid]
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert np.abs(np.diff(got, axis=0)).max() > 1e-3  # distinct colours give distinct rows

    cap_id, text = max(caps.items(), key=lambda kv: len(kv[1].split()))  # longest: truncated to CONTEXT tokens
    assert len(clip.default_tokenizer().encode(text)) + 2 > CONTEXT
    with torch.no_grad():
        expected_text = model.encode_text(clip.tokenize(text, context_length=CONTEXT, truncate=True)).numpy()
    np.testing.assert_allclose(keys(paths.clip_text)[cap_id], expected_text, atol=1e-5, rtol=0)


def test_short_video_repeats_frames(extracted: dict):
    w, paths = extracted, extracted["paths"]
    vid = w["short"]
    n_student = len(read_video2frames(paths.video2frames)[vid])
    rows = keys(paths.clip_video)[vid]
    idx = teacher_frame_indices(2, n_student)  # the video has 2 frames
    assert rows.shape[0] == n_student
    for i in range(n_student):
        for j in range(n_student):
            same = np.allclose(rows[i], rows[j], atol=1e-6)
            assert same == (idx[i] == idx[j])
    assert "frames were repeated" in w["out"] and vid in w["out"]


def test_training_dataset_reads_the_output(extracted: dict):
    paths = extracted["paths"]
    ds = PRVRTrainDataset(paths, split="train", use_teacher=True)
    assert ds.teacher_dim == EMBED
    items = [ds[i] for i in range(len(ds))]
    batch = collate_train(items)
    assert batch["clip_video_features"].shape[-1] == EMBED
    assert batch["clip_video_features"].shape[:2] == batch["frame_video_features"].shape[:2]
    assert batch["clip_text_feat"].shape == (len(batch["cap_ids"]), EMBED)


def test_resume_skips_existing_keys(extracted: dict):
    w, paths = extracted, extracted["paths"]
    vids, caps = split_ids(paths)
    before_v, before_t = keys(paths.clip_video), keys(paths.clip_text)
    gone_vid, gone_cap = vids[1], next(iter(caps))
    with h5py.File(paths.clip_video, "a") as f:
        del f[gone_vid]
    with h5py.File(paths.clip_text, "a") as f:
        del f[gone_cap]
    rc, out, err = run(w, "--num_workers", "1")  # the worker-process decoding path
    assert rc == 0, err
    assert f"videos:   1 written, {len(vids) - 1} skipped" in out
    assert f"captions: 1 written, {len(caps) - 1} skipped" in out
    after_v, after_t = keys(paths.clip_video), keys(paths.clip_text)
    assert set(after_v) == set(before_v) and set(after_t) == set(before_t)
    for k in before_v:
        np.testing.assert_allclose(after_v[k], before_v[k], atol=1e-5, rtol=0)
    np.testing.assert_allclose(after_t[gone_cap], before_t[gone_cap], atol=1e-5, rtol=0)

    rc, out, _ = run(w, "--overwrite")
    assert rc == 0 and f"videos:   {len(vids)} written, 0 skipped" in out


def test_existing_keys_of_another_shape_are_failures_until_overwrite(work: dict):
    # the synthetic generator's own teacher files have width 10, not the model's 16
    make_prvr_dataset(
        work["data"],
        name=COLL,
        n_videos=(3, 2, 2),
        v_dim=8,
        q_dim=8,
        clip_dim=10,
        frames_per_video=(4, 9),
        captions_per_video=(1, 3),
        seed=3,
    )
    rc, out, err = run(work, "--skip_video")
    assert rc == 1
    assert "rerun with --overwrite" in out and "expected (1, 16)" in out
    rc, out, err = run(work, "--overwrite")
    assert rc == 0, err
    _, caps = split_ids(work["paths"])
    text = keys(work["paths"].clip_text)
    assert all(text[c].shape == (1, EMBED) for c in caps)  # the requested splits were rewritten
    _, test_caps = split_ids(work["paths"], ("test",))
    assert all(text[c].shape == (1, 10) for c in test_caps)  # other splits' keys are left alone


def test_missing_and_corrupt_videos_are_reported_and_the_rest_written(work: dict):
    paths = work["paths"]
    vids, _ = split_ids(paths)
    missing, corrupt = vids[0], vids[2]
    (work["videos"] / f"{missing}.mp4").unlink()
    (work["videos"] / f"{corrupt}.mp4").write_bytes(b"not a video at all" * 50)
    rc, out, err = run(work)
    assert rc == 1
    assert f"video {missing}: no video file" in out and f"video {corrupt}:" in out
    assert "FAILED (2)" in out
    assert missing in err and corrupt in err  # also reported while running
    assert "Traceback" not in err
    written = keys(paths.clip_video)
    assert set(written) == set(vids) - {missing, corrupt}
    assert f"videos:   {len(vids) - 2} written, 0 skipped (already present), 2 failed" in out


def test_bad_clip_gives_the_clear_message(work: dict, tmp_path: Path):
    rc, out, err = run(work, clip_path=str(tmp_path / "no_such_clip.pt"))
    assert rc == 2
    assert "no_such_clip.pt" in err and "neither a file nor a known CLIP model name" in err
    assert "Traceback" not in err

    rc, out, err = run(work, "--download_root", str(tmp_path), clip_path="ViT-B/32")
    assert rc == 2
    assert clip.model_url("ViT-B/32") in err and clip.model_sha256("ViT-B/32") in err
    assert not work["paths"].clip_video.exists()  # nothing is written before the model loads


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_cuda_without_gpu_is_a_clear_error(work: dict):
    rc, out, err = run(work, "--device", "cuda")
    assert rc == 2 and "asked for CUDA" in err and "Traceback" not in err
