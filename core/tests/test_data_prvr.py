"""The synthetic PRVR bundle (dldkd spec section 3) and the feature-file readers."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from videokd.data.features import BigFile, l2_normalize_rows, read_video2frames, uniform_feature_sampling
from videokd.data.synthetic import make_prvr_dataset

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def prvr(tmp_path_factory):
    root = tmp_path_factory.mktemp("prvr")
    return make_prvr_dataset(
        root, name="tvr", n_videos=(24, 8, 8), v_dim=24, q_dim=16, clip_dim=32, frames_per_video=(3, 150), seed=3
    )


def _captions(path: Path) -> list[tuple[str, str]]:
    out = []
    for line in path.read_text().splitlines():
        cap_id, text = line.split(" ", 1)
        out.append((cap_id, text))
    return out


def test_prvr_layout_is_the_dldkd_one(prvr):
    c = prvr.root / "tvr"
    for rel in [
        "FeatureData/i3d_resnet/shape.txt",
        "FeatureData/i3d_resnet/id.txt",
        "FeatureData/i3d_resnet/feature.bin",
        "FeatureData/i3d_resnet/video2frames.txt",
        "FeatureData/new_clip_vit_32_tvr_vid_features.hdf5",
        "TextData/tvrtrain.caption.txt",
        "TextData/tvrval.caption.txt",
        "TextData/tvrtest.caption.txt",
        "TextData/roberta_tvr_query_feat.hdf5",
        "TextData/clip_ViT_B_32_tvr_query_feat.hdf5",
    ]:
        assert (c / rel).is_file(), rel
    shape = (c / "FeatureData/i3d_resnet/shape.txt").read_text()
    assert re.fullmatch(r"\d+ 24\n", shape)
    n = int(shape.split()[0])
    assert (c / "FeatureData/i3d_resnet/feature.bin").stat().st_size == n * 24 * 4  # raw f32, no header


def test_prvr_cross_file_invariants(prvr):
    c = prvr.root / "tvr"
    big = BigFile(c / "FeatureData/i3d_resnet")
    v2f = read_video2frames(c / "FeatureData/i3d_resnet/video2frames.txt")
    splits = {s: _captions(c / f"TextData/tvr{s}.caption.txt") for s in ("train", "val", "test")}
    with (
        h5py.File(c / "TextData/roberta_tvr_query_feat.hdf5") as rob,
        h5py.File(c / "TextData/clip_ViT_B_32_tvr_query_feat.hdf5") as ctext,
        h5py.File(c / "FeatureData/new_clip_vit_32_tvr_vid_features.hdf5") as cvid,
    ):
        n_tokens = []
        for split, caps in splits.items():
            vids = list(dict.fromkeys(cid.split("#", 1)[0] for cid, _ in caps))
            assert vids == prvr.splits[split] or set(vids) == set(prvr.splits[split])
            if split != "train":
                assert len(caps) % 50 != 1  # the originals crash on a 1-query last eval batch
            for cap_id, text in caps:
                vid, enc, k = cap_id.split("#")
                assert enc == "enc" and k.isdigit() and text.strip()
                tok = rob[cap_id]
                assert tok.dtype == np.float32 and tok.shape[1] == 16 and tok.shape[0] >= 2
                n_tokens.append(tok.shape[0])
                assert ctext[cap_id].shape == (1, 32)
            for vid in vids:
                frames = v2f[vid]
                assert [f.rsplit("_", 1)[0] for f in frames] == [vid] * len(frames)
                assert [int(f.rsplit("_", 1)[1]) for f in frames] == list(range(len(frames)))
                assert cvid[vid].shape == (len(frames), 32)  # teacher length == student length
                assert big.read(frames).shape == (len(frames), 24)
        assert max(n_tokens) > 30  # truncation to max_desc_l is exercised
    assert len(prvr.splits["train"]) >= 2
    assert sum(len(v) for v in v2f.values()) == len(big)
    # rows are not stored video by video: a reader must look frames up by id
    assert big.names[: len(v2f[prvr.splits["train"][0]])] != v2f[prvr.splits["train"][0]]
    assert max(len(v) for v in v2f.values()) > 128  # uniform sampling to max_ctx_l is exercised


def test_prvr_is_deterministic(tmp_path):
    def digest(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix != ".hdf5"
        }

    a = make_prvr_dataset(tmp_path / "a", name="charades", n_videos=8, v_dim=8, q_dim=8, clip_dim=8, seed=1)
    b = make_prvr_dataset(tmp_path / "b", name="charades", n_videos=8, v_dim=8, q_dim=8, clip_dim=8, seed=1)
    c = make_prvr_dataset(tmp_path / "c", name="charades", n_videos=8, v_dim=8, q_dim=8, clip_dim=8, seed=2)
    assert (tmp_path / "a/charades/FeatureData/i3d_rgb_lgi/feature.bin").is_file()
    assert digest(a.root) == digest(b.root)
    assert digest(a.root) != digest(c.root)


def _recall_at_1(scores: np.ndarray, gt: np.ndarray) -> float:
    return float((scores.argmax(1) == gt).mean())


def test_prvr_features_carry_a_learnable_signal(tmp_path):
    """A linear text->video map fitted on train beats random retrieval on test, and the CLIP
    teacher features alone retrieve well (so distillation has something to transfer)."""
    ds = make_prvr_dataset(
        tmp_path,
        name="activitynet",
        n_videos=(120, 10, 40),
        v_dim=32,
        q_dim=24,
        clip_dim=32,
        frames_per_video=(8, 24),
        seed=0,
    )
    c = ds.root / "activitynet"
    big = BigFile(c / "FeatureData/i3d")
    v2f = read_video2frames(c / "FeatureData/i3d/video2frames.txt")
    with (
        h5py.File(c / "TextData/roberta_activitynet_query_feat.hdf5") as rob,
        h5py.File(c / "TextData/clip_ViT_B_32_activitynet_query_feat.hdf5") as ctext,
        h5py.File(c / "FeatureData/new_clip_vit_32_activitynet_vid_features.hdf5") as cvid,
    ):

        def load(split):
            caps = _captions(c / f"TextData/activitynet{split}.caption.txt")
            vids = list(dict.fromkeys(cid.split("#")[0] for cid, _ in caps))
            q = np.stack([rob[cid][1:-1].mean(0) for cid, _ in caps])
            qc = np.concatenate([ctext[cid][:] for cid, _ in caps])
            v = [big.read(v2f[vid]) for vid in vids]
            vc = [cvid[vid][:] for vid in vids]
            gt = np.array([vids.index(cid.split("#")[0]) for cid, _ in caps])
            return q, qc, v, vc, gt

        q, _, v, _, gt = load("train")
        # fit a ridge map from the query to its video's frames (every frame of the video)
        x = np.concatenate([np.repeat(q[i : i + 1], len(v[g]), 0) for i, g in enumerate(gt)])
        y = np.concatenate([v[g] for g in gt])
        w = np.linalg.solve(x.T @ x + 1e-1 * np.eye(x.shape[1]), x.T @ y)

        q, qc, v, vc, gt = load("test")
        pred = l2_normalize_rows(q @ w)
        student = np.stack([(l2_normalize_rows(f) @ pred.T).max(0) for f in v], axis=1)  # (Nq, Nv)
        teacher = np.stack([(l2_normalize_rows(f) @ l2_normalize_rows(qc).T).max(0) for f in vc], axis=1)
    chance = 1.0 / len(v)
    assert _recall_at_1(student, gt) > 10 * chance
    assert _recall_at_1(teacher, gt) > 20 * chance


def test_make_synthetic_cli_prvr(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "datasets/make_synthetic.py"),
            "tvr",
            str(tmp_path),
            "--classes",
            "3",
            "--videos-per-class",
            "4",
            "--frames",
            "20",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wrote tvr" in out.stdout
    v2f = read_video2frames(tmp_path / "tvr/FeatureData/i3d_resnet/video2frames.txt")
    assert len(v2f) == 12 and max(len(f) for f in v2f.values()) <= 20
    bad = subprocess.run(
        [sys.executable, str(REPO / "datasets/make_synthetic.py"), "nope", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "unknown format" in bad.stderr


def test_bigfile_errors_name_the_file(tmp_path):
    d = tmp_path / "feat"
    d.mkdir()
    with pytest.raises(FileNotFoundError, match="shape.txt"):
        BigFile(d)
    (d / "shape.txt").write_text("3 2\n")
    (d / "id.txt").write_text("a b c")
    np.zeros((3, 2), "<f4").tofile(d / "feature.bin")
    big = BigFile(d)
    np.testing.assert_array_equal(big.read(["c", "a"]), np.zeros((2, 2), np.float32))
    with pytest.raises(KeyError, match="'zz'"):
        big.read(["zz"])
    np.zeros((3, 3), "<f4").tofile(d / "feature.bin")
    with pytest.raises(ValueError, match="feature.bin has 36 bytes, expected"):
        BigFile(d)
    (d / "id.txt").write_text("a b")
    with pytest.raises(ValueError, match="id.txt has 2 ids but shape.txt says N=3"):
        BigFile(d)
    (d / "v2f.txt").write_text("__import__('os')")
    with pytest.raises(ValueError, match="v2f.txt"):
        read_video2frames(d / "v2f.txt")


def test_uniform_feature_sampling_rule():
    x = np.arange(10, dtype=np.float64)[:, None]
    assert uniform_feature_sampling(x, 16) is x
    # n=10, M=4: edges round([0, 2.5, 5, 7.5, 10]) = [0, 2, 5, 8, 10] -> clip to 9
    np.testing.assert_allclose(uniform_feature_sampling(x, 4)[:, 0], [0.5, 3.0, 6.0, 8.0])
    y = uniform_feature_sampling(np.arange(5, dtype=np.float32)[:, None], 4)  # edges [0,1,2,4,4]
    assert y.dtype == np.float32
    np.testing.assert_allclose(y[:, 0], [0, 1, 2.5, 4])  # empty last bin takes its start row
