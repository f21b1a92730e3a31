"""Repeated augmentation (``AUG.NUM_SAMPLE``) and the aux head's local ImageNet initialisation (``KICLIP.AUX_INIT``).

Upstream (PySlowFast ``Kinetics.__getitem__`` + ``multiple_samples_collate``): a training video is decoded
once and augmented ``NUM_SAMPLE`` times (scale, crop, flip drawn anew); the loader batch of B videos becomes
``B*NUM_SAMPLE`` clips with the label repeated, and the number of steps per epoch is unchanged.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import kiclip.data as kdata
from kiclip.config import build_config
from kiclip.data import VideoClips, VideoItem
from kiclip.model import KICLIP, AuxInitError, read_aux_init
from kiclip.tiny_clip import TINY_CONFIG, write_tiny_clip
from videokd.clip import create_model
from videokd.config import ConfigError
from videokd.data.collate import repeated_augmentation_collate
from videokd.data.synthetic import render_clip
from videokd.data.synthetic.kiclip_b2n import write_kiclip_k400
from videokd.data.synthetic.media import write_video
from videokd.engine import build_train_loader

PKG = Path(__file__).resolve().parents[1]
SMALL = dict(num_frames=4, sampling_rate=2, target_fps=25, jitter=(32, 40), crop=32)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> list[VideoItem]:
    tmp = tmp_path_factory.mktemp("kiclip_aug")
    rng = np.random.default_rng(0)
    items = []
    for label in range(3):
        path = tmp / f"v{label}.mp4"
        write_video(path, render_clip(label, frames=24, height=40, width=52, rng=rng), fps=25)
        items.append(VideoItem(str(path), label))
    return items


def test_num_sample_copies_are_independent_augmentations_of_one_decoded_clip(videos, monkeypatch):
    calls = []
    real = kdata.train_transform

    def recording(frames, **kw):
        out = real(frames, **kw)
        calls.append((frames, out[1]))
        return out

    monkeypatch.setattr(kdata, "train_transform", recording)
    random.seed(0), np.random.seed(0)  # the window (Python's random), the augmentation (NumPy's)
    item = VideoClips(videos, train=True, num_sample=3, **SMALL)[1]
    assert isinstance(item, list) and len(item) == 3
    assert [s["label"] for s in item] == [1, 1, 1] and [s["index"] for s in item] == [1, 1, 1]
    assert all(s["video"].shape == (3, 4, 32, 32) for s in item)
    # one decode (one temporal window) for all copies ...
    assert len(calls) == 3 and all(torch.equal(f, calls[0][0]) for f, _ in calls)
    # ... and a fresh scale / crop / flip for each: the copies differ
    params = [p for _, p in calls]
    assert len({tuple(sorted((k, str(v)) for k, v in p.items())) for p in params}) == 3
    assert not torch.equal(item[0]["video"], item[1]["video"]) and not torch.equal(item[1]["video"], item[2]["video"])
    # the first copy is exactly what NUM_SAMPLE 1 gives from the same random state
    random.seed(0), np.random.seed(0)
    single = VideoClips(videos, train=True, num_sample=1, **SMALL)[1]
    assert isinstance(single, dict) and torch.equal(single["video"], item[0]["video"])
    # test clips are never repeated
    assert isinstance(VideoClips(videos, train=False, num_sample=3, views=2, **SMALL)[0], dict)
    with pytest.raises(ValueError, match="num_sample"):
        VideoClips(videos, train=True, num_sample=0)


def test_loader_batch_holds_batch_times_num_sample_clips_with_repeated_labels(videos):
    ds = VideoClips(videos, train=True, num_sample=2, **SMALL)
    loader = build_train_loader(ds, batch_size=2, seed=3, drop_last=True, collate_fn=repeated_augmentation_collate)
    assert len(loader) == 1  # steps per epoch count videos, not copies
    batch = next(iter(loader))
    assert batch["video"].shape == (4, 3, 4, 32, 32)
    labels, index = batch["label"].tolist(), batch["index"].tolist()
    assert labels[0] == labels[1] and labels[2] == labels[3] and labels[0] != labels[2]
    assert index == [labels[0], labels[0], labels[2], labels[2]]  # video i has label i here
    # seeded per sample: the same batch again (a resumed run sees the same augmentations)
    again = next(iter(build_train_loader(ds, batch_size=2, seed=3, collate_fn=repeated_augmentation_collate)))
    assert torch.equal(again["video"], batch["video"])


def test_num_sample_config_validation():
    assert build_config(opts=["AUG.NUM_SAMPLE", "2"]).AUG.NUM_SAMPLE == 2
    for bad in ("0", "1.5", "two"):
        with pytest.raises(ConfigError, match="AUG.NUM_SAMPLE"):
            build_config(opts=["AUG.NUM_SAMPLE", bad])
    with pytest.raises(ConfigError, match="AUX_HEAD"):
        build_config(opts=["KICLIP.AUX_INIT", "/x/vit_b_16.pth"])
    with pytest.raises(ConfigError, match="TRAIN.MAX_STEPS"):
        build_config(opts=["TRAIN.MAX_STEPS", "0"])


def test_training_with_num_sample_two_through_the_runner(tmp_path, monkeypatch, capsys):
    """AUG.NUM_SAMPLE 2, global batch 2 (one process): every step's model batch is 4 clips, labels in pairs."""
    import kiclip.runner as runner

    write_kiclip_k400(tmp_path / "data", classes=4, videos_per_class=5, frames=16, size=40)
    write_tiny_clip(tmp_path / "clip.pt", classes=4, pretrain_steps=0)
    seen = []
    real = runner.kiclip_loss

    def recording(out, labels, **kw):
        seen.append((tuple(out["pred"].shape), labels.tolist()))
        return real(out, labels, **kw)

    monkeypatch.setattr(runner, "kiclip_loss", recording)
    lists = tmp_path / "data" / "zs_label_db" / "B2N_k400"
    cfg = build_config(
        opts=[
            "DATA.PATH_TO_DATA_DIR", str(lists), "DATA.PATH_PREFIX", str(tmp_path / "data" / "k400"),
            "TRAIN_FILE", "train_s3.csv", "DATA.INDEX_LABEL_MAPPING_FILE", str(lists / "train_rephrased.json"),
            "MODEL.CLIP_PATH", str(tmp_path / "clip.pt"), "OUTPUT_DIR", str(tmp_path / "run"),
            "MODEL.KEEP_RAW_MODEL", "True", "MODEL.RAW_MODEL_DISTILLATION", "True",
            "DATA.TRAIN_JITTER_SCALES", "[32,40]", "DATA.TRAIN_CROP_SIZE", "32", "DATA.TEST_CROP_SIZE", "32",
            "DATA.SAMPLING_RATE", "2", "DATA_LOADER.NUM_WORKERS", "0", "SOLVER.MAX_EPOCH", "1",
            "SOLVER.WARMUP_EPOCHS", "0.0", "SOLVER.BASE_LR", "1e-4", "SOLVER.WARMUP_START_LR", "1e-4",
            "TRAIN.BATCH_SIZE", "2", "AUG.NUM_SAMPLE", "2", "TRAIN.MAX_BATCHES", "2", "LOG_PERIOD", "1",
            # the aux head on, initialised from a local torchvision-layout file, with its CE (paper figure)
            "KICLIP.AUX_HEAD", "True", "KICLIP.AUX_CE_WEIGHT", "1.0", "KICLIP.AUX_INIT", str(tmp_path / "vit.pth"),
        ]
    )  # fmt: skip
    head = {"heads.head.weight": torch.randn(1000, 768) * 0.02, "heads.head.bias": torch.randn(1000) * 0.02}
    torch.save(head, tmp_path / "vit.pth")
    # without the authors' descriptions the run uses the bare class names next to them, and says so
    (lists / "train_rephrased.json").unlink()
    summary = runner.train(cfg, device="cpu")
    assert "using the plain class names of" in capsys.readouterr().out
    assert summary["steps"] == 2 and len(seen) == 2
    for shape, labels in seen:
        assert shape == (4, 2)  # 2 videos x 2 copies, 2 base classes
        assert labels[0] == labels[1] and labels[2] == labels[3]
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "checkpoint_epoch_00001.pyth", weights_only=True)
    state = ckpt["model_state"]
    # started from the ImageNet head and trained (AdamW, LR <= 1e-4, 2 steps: moved, but only a little)
    trained_w = state["res_classifier.2.weight"]
    assert not torch.equal(trained_w, head["heads.head.weight"])
    torch.testing.assert_close(trained_w, head["heads.head.weight"], rtol=0, atol=1e-3)


# ---------------------------------------------------------------------------------- aux head initialisation


def _aux_model() -> KICLIP:
    m = KICLIP(TINY_CONFIG, num_frames=2, class_texts=["A: a", "B: b"], keep_teacher=False, aux_head=True)
    torch.manual_seed(0)
    m.init_from_clip(create_model(TINY_CONFIG).state_dict())
    return m


def test_aux_head_loads_the_imagenet_head_from_a_local_torchvision_file(tmp_path):
    torch.manual_seed(5)
    head_w, head_b = torch.randn(1000, 768), torch.randn(1000)
    # torchvision's ViT-B/16 layout (only the head matters; other keys are ignored)
    tv = tmp_path / "vit_b_16-c867db91.pth"
    torch.save({"conv_proj.weight": torch.zeros(1), "heads.head.weight": head_w, "heads.head.bias": head_b}, tv)
    m = _aux_model()
    before = m.res_classifier[0].weight.clone()
    m.load_aux_init(tv)
    torch.testing.assert_close(m.res_classifier[2].weight, head_w, rtol=0, atol=0)
    torch.testing.assert_close(m.res_classifier[2].bias, head_b, rtol=0, atol=0)
    assert torch.equal(m.res_classifier[0].weight, before)  # the other layers keep their default init
    # a bare {"weight", "bias"} file works too
    bare = tmp_path / "head.pt"
    torch.save({"weight": head_w * 2, "bias": head_b}, bare)
    assert torch.equal(read_aux_init(bare)["weight"], head_w * 2)


def test_aux_init_errors_name_the_file(tmp_path):
    m = _aux_model()
    with pytest.raises(FileNotFoundError) as err:
        m.load_aux_init(tmp_path / "missing.pth")
    assert err.value.filename.endswith("missing.pth")
    wrong = tmp_path / "wrong.pth"
    torch.save({"heads.head.weight": torch.zeros(10, 768), "heads.head.bias": torch.zeros(10)}, wrong)
    with pytest.raises(AuxInitError, match=r"wrong\.pth.*shapes"):
        m.load_aux_init(wrong)
    other = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(AuxInitError, match=r"other\.pth.*heads\.head\.weight"):
        m.load_aux_init(other)
    junk = tmp_path / "junk.pth"
    junk.write_text("not a checkpoint")
    with pytest.raises(AuxInitError, match=r"junk\.pth"):
        m.load_aux_init(junk)
    no_head = KICLIP(TINY_CONFIG, num_frames=2, class_texts=["A: a"], keep_teacher=False)
    with pytest.raises(AuxInitError, match="AUX_HEAD"):
        no_head.load_aux_init(wrong)


def test_train_script_with_a_missing_aux_init_file_is_rc2_naming_it(tmp_path):
    write_kiclip_k400(tmp_path / "data", classes=2, videos_per_class=2, frames=8, size=40)
    write_tiny_clip(tmp_path / "clip.pt", classes=2, pretrain_steps=0)
    env = {"OMP_NUM_THREADS": "1", "KICLIP_PYTHON": sys.executable, "KICLIP_CLIP": str(tmp_path / "clip.pt"),
           "KICLIP_OUTPUT": str(tmp_path / "runs"), "PATH": "/usr/bin:/bin"}  # fmt: skip
    out = subprocess.run(
        ["bash", str(PKG / "train_b2n_k400.sh"), str(tmp_path / "data"), "--device", "cpu", "--opts",
         "KICLIP.AUX_HEAD", "True", "KICLIP.AUX_INIT", str(tmp_path / "nope_vit.pth"),
         "DATA.TRAIN_JITTER_SCALES", "[32,40]", "DATA.TRAIN_CROP_SIZE", "32", "DATA.TEST_CROP_SIZE", "32"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 2, out.stdout + out.stderr
    assert "nope_vit.pth" in out.stderr and "Traceback" not in out.stderr
    # nothing left behind by the failed start
    assert not (tmp_path / "runs" / "B2N_k400_KICLIP" / "checkpoints" / "last.pt").exists()
