"""Data readers: the on-disk layout of spec section 3, and the errors bad data must give."""

from __future__ import annotations

import ast
import gc
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from dldkd.data import (
    DataError,
    PRVRTrainDataset,
    QueryEvalDataset,
    VideoEvalDataset,
    collate_train,
    collection_paths,
    read_captions,
)
from videokd.data.hdf5 import LazyHDF5


def _paths(root: Path):
    return collection_paths(root, "tvr", "i3d_resnet")


def _first_train_video(paths) -> str:
    return read_captions(paths.captions("train"))[0][0].split("#")[0]


def test_train_items_and_batch(tiny_prvr: Path) -> None:
    ds = PRVRTrainDataset(_paths(tiny_prvr), q_feat_size=12, max_ctx_l=128, max_desc_l=30)
    assert len(ds) == 12 and ds.visual_input_size == 16 and ds.teacher_dim == 10
    items = [ds[i] for i in range(4)]
    for it in items:
        n = len(ds.feats.video2frames[it["video_id"]])
        assert it["frame_video_feature"].shape == (min(n, 128), 16)
        assert it["clip_video_feature"].shape == (min(n, 128), 10)
        # student frames are L2-normalised (eps 1e-5), teacher frames are not
        norms = it["frame_video_feature"].norm(dim=-1)
        assert torch.allclose(norms, torch.ones_like(norms), atol=1e-3)
        assert all(t.shape[0] <= 30 and t.shape[1] == 12 for t in it["cap_tensors"])
    batch = collate_train(items)
    counts = [len(it["cap_ids"]) for it in sorted(items, key=lambda it: -len(it["cap_ids"]))]
    assert batch["text_labels"].tolist() == [i for i, c in enumerate(counts) for _ in range(c)]
    assert batch["clip_video_features"].shape[:2] == batch["videos_mask"].shape
    assert batch["clip_text_feat"].shape == (sum(counts), 10)


def test_eval_datasets_follow_file_order(tiny_prvr: Path) -> None:
    paths = _paths(tiny_prvr)
    caps = [c for c, _ in read_captions(paths.captions("test"))]
    q = QueryEvalDataset(paths, split="test", q_feat_size=12)
    v = VideoEvalDataset(paths, split="test")
    assert q.cap_ids == caps
    firsts = list(dict.fromkeys(c.split("#")[0] for c in caps))
    assert v.video_ids == firsts


def test_missing_video_in_video2frames_names_it(prvr_copy: Path) -> None:
    paths = _paths(prvr_copy)
    vid = _first_train_video(paths)
    v2f = ast.literal_eval(paths.video2frames.read_text())
    del v2f[vid]
    paths.video2frames.write_text(repr(v2f))
    with pytest.raises(DataError, match=vid) as err:
        PRVRTrainDataset(paths, q_feat_size=12)
    assert "video2frames" in str(err.value)


def test_unknown_frame_id_names_video_and_frame(prvr_copy: Path) -> None:
    paths = _paths(prvr_copy)
    vid = _first_train_video(paths)
    v2f = ast.literal_eval(paths.video2frames.read_text())
    v2f[vid] = v2f[vid] + ["no_such_frame_7"]
    paths.video2frames.write_text(repr(v2f))
    with pytest.raises(DataError, match="no_such_frame_7") as err:
        PRVRTrainDataset(paths, q_feat_size=12)
    assert vid in str(err.value)


def test_caption_missing_from_roberta_names_it(prvr_copy: Path) -> None:
    paths = _paths(prvr_copy)
    cap = read_captions(paths.captions("train"))[3][0]
    with h5py.File(paths.roberta, "a") as f:
        del f[cap]
    with pytest.raises(DataError, match=cap.replace("#", "#")) as err:
        PRVRTrainDataset(paths, q_feat_size=12)
    assert "roberta" in str(err.value)


def test_wrong_text_width_reports_shapes(tiny_prvr: Path) -> None:
    with pytest.raises(DataError, match=r"expected \(n_tokens, 768\)") as err:
        QueryEvalDataset(_paths(tiny_prvr), split="test", q_feat_size=768)
    assert ", 12)" in str(err.value) and "q_feat_size" in str(err.value)


def test_teacher_frame_count_mismatch_reports_id_and_shapes(prvr_copy: Path) -> None:
    paths = _paths(prvr_copy)
    vid = _first_train_video(paths)
    with h5py.File(paths.clip_video, "a") as f:
        arr = f[vid][()]
        del f[vid]
        f.create_dataset(vid, data=np.concatenate([arr, arr[:1]]))
    with pytest.raises(DataError, match=vid) as err:
        PRVRTrainDataset(paths, q_feat_size=12)
    msg = str(err.value)
    assert f"({arr.shape[0] + 1}, 10)" in msg and f"{arr.shape[0]} frames" in msg


def test_teacher_video_missing(prvr_copy: Path) -> None:
    paths = _paths(prvr_copy)
    vid = _first_train_video(paths)
    with h5py.File(paths.clip_video, "a") as f:
        del f[vid]
    with pytest.raises(DataError, match=vid):
        PRVRTrainDataset(paths, q_feat_size=12)
    # without the teacher the same data is fine
    assert len(PRVRTrainDataset(paths, q_feat_size=12, use_teacher=False)) == 12


def test_bad_caption_line_names_file_and_line(prvr_copy: Path) -> None:
    paths = _paths(prvr_copy)
    path = paths.captions("train")
    lines = path.read_text().splitlines()
    lines.insert(2, "not_a_caption_id some text")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"tvrtrain\.caption\.txt:3"):
        read_captions(path)


def test_non_utf8_caption_file_names_file_and_line(prvr_copy: Path) -> None:
    path = _paths(prvr_copy).captions("train")
    lines = path.read_bytes().splitlines()
    lines[4] = lines[4] + b" caf\xe9"  # latin-1
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(DataError, match=r"tvrtrain\.caption\.txt:5: not UTF-8 text \(byte 0xe9"):
        read_captions(path)


def test_teacher_width_mismatch_names_the_video(prvr_copy: Path) -> None:
    paths = _paths(prvr_copy)
    video_ids = list(dict.fromkeys(c.split("#")[0] for c, _ in read_captions(paths.captions("train"))))
    odd = video_ids[3]
    with h5py.File(paths.clip_video, "a") as f:
        arr = f[odd][()]
        del f[odd]
        f.create_dataset(odd, data=np.concatenate([arr, arr[:, :2]], axis=1))
    with pytest.raises(DataError, match=f"video '{odd}'.* 12-d, but video '{video_ids[0]}' has 10-d"):
        PRVRTrainDataset(paths, q_feat_size=12)


def test_dldkd_pp_pools_the_student_down_to_the_teacher_frame_count(prvr_copy: Path) -> None:
    from videokd.data.features import uniform_feature_sampling

    paths = _paths(prvr_copy)
    ds0 = PRVRTrainDataset(paths, q_feat_size=12, use_teacher=False)
    vid = next(v for v in ds0.video_ids if len(ds0.feats.video2frames[v]) >= 9)
    n_student = len(ds0.feats.video2frames[vid])
    n_teacher = n_student // 3
    with h5py.File(paths.clip_video, "a") as f:
        arr = f[vid][()]
        del f[vid]
        f.create_dataset(vid, data=arr[:n_teacher])
    with pytest.raises(DataError, match=f"video '{vid}'.*label_style soft"):
        PRVRTrainDataset(paths, q_feat_size=12)  # ICCV: counts must be equal
    ds = PRVRTrainDataset(paths, q_feat_size=12, resample_to_teacher=True)
    item = ds[ds.video_ids.index(vid)]
    assert item["frame_video_feature"].shape == (n_teacher, 16) == item["clip_video_feature"].shape[:1] + (16,)
    raw = ds.feats.bigfile.read(ds.feats.video2frames[vid]).astype(np.float64)
    pooled = uniform_feature_sampling(raw, n_teacher)
    expected = pooled / (np.linalg.norm(pooled, axis=1, keepdims=True) + 1e-5)
    assert np.allclose(item["frame_video_feature"].numpy(), expected, atol=1e-6)
    batch = collate_train([item, ds[0]])
    assert batch["clip_video_features"].shape[:2] == batch["videos_mask"].shape
    # a teacher with MORE frames than the student cannot be matched by pooling: named
    ds.clip_video.close()
    ds.clip_text.close()
    gc.collect()  # the refused dataset above held the file open too
    with h5py.File(paths.clip_video, "a") as f:
        del f[vid]
        f.create_dataset(vid, data=np.concatenate([arr, arr[:2]]))
    with pytest.raises(DataError, match=f"video '{vid}'.*more than the student"):
        PRVRTrainDataset(paths, q_feat_size=12, resample_to_teacher=True)


def test_missing_files_listed(tmp_path: Path) -> None:
    paths = collection_paths(tmp_path, "tvr", "i3d_resnet")
    missing = paths.missing("train")
    assert paths.feature_dir / "feature.bin" in missing and paths.clip_video in missing
    with pytest.raises(FileNotFoundError, match="shape.txt"):
        VideoEvalDataset(paths, split="test")


def test_lazy_h5_is_not_pickled_open_and_works_in_workers(tiny_prvr: Path) -> None:
    paths = _paths(tiny_prvr)
    ds = QueryEvalDataset(paths, split="test", q_feat_size=12)
    ds[0]  # opens the file in this process
    assert ds.feats.roberta._file is not None
    clone = pickle.loads(pickle.dumps(ds))
    assert clone.feats.roberta._file is None
    torch.testing.assert_close(clone[1][0], ds[1][0])
    h5 = LazyHDF5(paths.roberta)
    assert pickle.loads(pickle.dumps(h5))[ds.cap_ids[0]].shape[1] == 12
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=1, collate_fn=lambda b: [x[0] for x in b])
    assert sum(len(b) for b in loader) == len(ds)


def test_teacher_caption_key_fallback(prvr_copy: Path) -> None:
    """DL-DKD++ also reads teacher caption features stored as '<vid>#<k>'."""
    paths = _paths(prvr_copy)
    cap = read_captions(paths.captions("train"))[0][0]
    with h5py.File(paths.clip_text, "a") as f:
        f.move(cap, cap.replace("#enc#", "#"))
    ds = PRVRTrainDataset(paths, q_feat_size=12)
    assert ds[0]["clip_cap_tensors"][0].shape == (1, 10)
