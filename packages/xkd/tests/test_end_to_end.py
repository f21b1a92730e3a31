"""End to end through the shell entry scripts on synthetic data (CPU): pre-training, resume, SVM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import EVAL_SRC, XKD_SH, run_script

from videokd.engine.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow

SUFFIXES = ("vid_student", "vid_teacher", "aud_student", "aud_teacher")


def _no_traceback(res) -> None:
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout, res.stderr[-2000:]


def test_pretraining_writes_original_layout(pretrained: Path):
    model_dir = pretrained / "model"
    for epoch in (0, 1):
        for suffix in SUFFIXES:
            assert (model_dir / f"XKD_pretext_kinetics400_ep{epoch}{suffix}.pth.tar").is_file()
    ckpt = load_checkpoint(model_dir / "checkpoint.pth.tar")
    assert set(ckpt) == {"model", "optimizer", "epoch", "amp"} and ckpt["epoch"] == 2
    assert all(k.startswith("module.") for k in ckpt["model"])
    assert "module.vid_student.head.last_layer.weight_g" in ckpt["model"]
    records = [json.loads(line) for line in (pretrained / "metrics.jsonl").read_text().splitlines()]
    losses = [r["train/loss"] for r in records if "train/loss" in r]
    assert losses and all(torch.isfinite(torch.tensor(losses)))
    # the teachers moved away from their initial copy of the students, but not onto them
    vs = load_checkpoint(model_dir / "XKD_pretext_kinetics400_ep1vid_student.pth.tar")
    vt = load_checkpoint(model_dir / "XKD_pretext_kinetics400_ep1vid_teacher.pth.tar")
    assert set(vs) == set(vt) and any(not torch.equal(vs[k], vt[k]) for k in vs)


def test_kill_and_resume_continues_exactly(pretrained: Path, kinetics_root: Path, tmp_path: Path):
    common = (
        "xkd_tiny.yaml",
        "--data_dir",
        str(kinetics_root),
        "--output_dir",
        str(tmp_path),
        "--device",
        "cpu",
        "--quiet",
    )
    first = run_script(XKD_SH, *common, "--job_id", "cut", "--max_steps", "3")  # stops inside epoch 2
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_script(XKD_SH, *common, "--resume", "cut")
    assert second.returncode == 0, second.stderr[-3000:]
    cut = tmp_path / "Transformer" / "pretext" / "cut"
    full, resumed = (
        load_checkpoint(pretrained / "model" / "checkpoint.pth.tar"),
        load_checkpoint(cut / "model" / "checkpoint.pth.tar"),
    )
    # teachers, students, decoders and both DINO centres are bit-identical to the uninterrupted run
    for key, value in full["model"].items():
        assert torch.equal(value, resumed["model"][key]), key


def test_sigkill_after_an_epoch_then_resume_continues_exactly(pretrained: Path, kinetics_root: Path, tmp_path: Path):
    """A hard kill (SIGKILL to the whole process group) once epoch 1's last.pt exists, then --resume:
    the result equals the uninterrupted run bit for bit (teachers, centres, schedules, RNG)."""
    common = ["xkd_tiny.yaml", "--data_dir", str(kinetics_root), "--output_dir", str(tmp_path), "--device", "cpu"]
    env = dict(os.environ, OMP_NUM_THREADS="1", XKD_PYTHON=sys.executable, VIDEOKD_DEBUG="", NPROC="1")
    run_dir = tmp_path / "Transformer" / "pretext" / "killed"
    last = run_dir / "checkpoints" / "last.pt"
    proc = subprocess.Popen(
        ["bash", str(XKD_SH), *common, "--job_id", "killed", "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    killed_at = None
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None:
            if last.is_file():
                killed_at = torch.load(last, weights_only=True)["epoch"]
                if killed_at >= 1:
                    os.killpg(proc.pid, signal.SIGKILL)
                    break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert killed_at == 1 and proc.returncode == -signal.SIGKILL, (killed_at, proc.returncode)
    again = run_script(XKD_SH, *common, "--resume", "killed", "--quiet")
    assert again.returncode == 0, again.stderr[-3000:]
    full = load_checkpoint(pretrained / "model" / "checkpoint.pth.tar")
    resumed = load_checkpoint(run_dir / "model" / "checkpoint.pth.tar")
    for key, value in full["model"].items():
        assert torch.equal(value, resumed["model"][key]), key


def test_svm_on_pretrained_video_backbone_beats_chance(pretrained: Path, ucf_root: Path, tmp_path: Path):
    weights = pretrained / "model" / "XKD_pretext_kinetics400_ep1vid_student.pth.tar"
    res = run_script(
        EVAL_SRC / "svm_ucf101.sh", "config_tiny", "--weight_path", str(weights), "--data_dir", str(ucf_root),
        "--output_dir", str(tmp_path), "--job_id", "svm", "--device", "cpu",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert "[xkd] svm ucf101 fold 1: top-1" in res.stdout
    result = json.loads((tmp_path / "Transformer" / "svm" / "ucf101" / "svm" / "svm_results.json").read_text())
    fold = result["folds"][0]
    assert fold["selection"] == "held-out training videos" and fold["C"] in (0.001, 0.01, 0.1, 1.0)
    assert fold["top1"] > fold["chance"] == 25.0


def test_svm_on_pretrained_audio_backbone_beats_chance(pretrained: Path, esc_root: Path, tmp_path: Path):
    weights = pretrained / "model" / "XKD_pretext_kinetics400_ep1aud_student.pth.tar"
    res = run_script(
        EVAL_SRC / "svm_esc50.sh", "config_tiny", "--weight_path", str(weights), "--data_dir", str(esc_root),
        "--output_dir", str(tmp_path), "--job_id", "svm", "--device", "cpu", "--select_on_test",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    fold = json.loads((tmp_path / "Transformer" / "svm" / "esc50" / "svm" / "svm_results.json").read_text())["folds"][0]
    assert fold["selection"] == "test (original protocol)"
    assert fold["top1"] > fold["chance"] == 25.0


@pytest.mark.parametrize("variant, config", [("XKD_MAS", "xkd_tiny.yaml"), ("XKD_MATS", "xkd_tiny.yaml")])
def test_mas_and_mats_run_a_step(variant: str, config: str, kinetics_root: Path, tmp_path: Path):
    res = run_script(
        XKD_SH, config, f"model.name={variant}", "dataset.train.vid_aug_kwargs.num_local_views=3",
        "--data_dir", str(kinetics_root), "--output_dir", str(tmp_path), "--job_id", "v", "--device", "cpu",
        "--max_steps", "1", "--quiet",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    records = [json.loads(x) for x in (tmp_path / "Transformer/pretext/v/metrics.jsonl").read_text().splitlines()]
    assert any("train/loss" in r and torch.isfinite(torch.tensor(r["train/loss"])) for r in records)


# ----------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("script", [XKD_SH, *sorted(EVAL_SRC.glob("*.sh"))], ids=lambda p: Path(p).name)
def test_help(script: Path):
    res = run_script(script, "--help")
    assert res.returncode == 0 and "Usage" in res.stdout


def test_missing_data_is_a_clear_error(tmp_path: Path):
    res = run_script(XKD_SH, "xkd_tiny.yaml", "--data_dir", str(tmp_path / "nowhere"), "--output_dir", str(tmp_path))
    assert res.returncode == 2
    assert "nowhere" in res.stderr and "make_synthetic.py" in res.stderr
    _no_traceback(res)
    res = run_script(
        EVAL_SRC / "svm_ucf101.sh", "--weight_path", str(tmp_path / "w"), "--data_dir", str(tmp_path / "x")
    )
    assert res.returncode == 2 and str(tmp_path / "x") in res.stderr
    _no_traceback(res)


def test_unknown_config_key_names_the_nearest(kinetics_root: Path, tmp_path: Path):
    res = run_script(XKD_SH, "xkd_tiny.yaml", "hyperparams.num_epoch=3", "--data_dir", str(kinetics_root))
    assert res.returncode == 2 and "num_epochs" in res.stderr
    _no_traceback(res)


def test_wrong_checkpoint_is_a_clear_error(pretrained: Path, ucf_root: Path, kinetics_root: Path, tmp_path: Path):
    garbage = tmp_path / "garbage.pth.tar"
    garbage.write_bytes(b"not a checkpoint")
    res = run_script(
        EVAL_SRC / "svm_ucf101.sh", "config_tiny", "--weight_path", str(garbage), "--data_dir", str(ucf_root)
    )
    assert res.returncode == 2 and "garbage.pth.tar" in res.stderr
    _no_traceback(res)
    # an audio backbone given to the video SVM
    audio = pretrained / "model" / "XKD_pretext_kinetics400_ep1aud_student.pth.tar"
    res = run_script(
        EVAL_SRC / "svm_ucf101.sh", "config_tiny", "--weight_path", str(audio), "--data_dir", str(ucf_root)
    )
    assert res.returncode == 2 and "aud_student" in res.stderr and "video" in res.stderr
    _no_traceback(res)
    # a resume of a run that does not exist
    res = run_script(
        XKD_SH, "xkd_tiny.yaml", "--resume", "nope", "--data_dir", str(kinetics_root), "--output_dir", str(tmp_path)
    )
    assert res.returncode == 2 and "nope" in res.stderr
    _no_traceback(res)


def test_kinetics_sound_audio_visual_svm(pretrained: Path, ks_root: Path, tmp_path: Path):
    weights = pretrained / "model" / "XKD_pretext_kinetics400_ep1"
    res = run_script(
        EVAL_SRC / "svm_ks_audvid.sh", "config_tiny", "--weight_path_vid", f"{weights}vid_student.pth.tar",
        "--weight_path_aud", f"{weights}aud_student.pth.tar", "--data_dir", str(ks_root),
        "--output_dir", str(tmp_path), "--job_id", "ks", "--device", "cpu", "--select_on_test",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    fold = json.loads((tmp_path / "Transformer/svm/kinetics_sound/ks/svm_results.json").read_text())["folds"][0]
    assert fold["chance"] == pytest.approx(100 / 3)  # the lists pick 3 of the 4 classes
    assert fold["top1"] > fold["chance"]
    # one of the two backbones missing: a clear error
    res = run_script(
        EVAL_SRC / "svm_ks_audvid.sh", "config_tiny", "--weight_path_vid", f"{weights}vid_student.pth.tar",
        "--data_dir", str(ks_root),
    )  # fmt: skip
    assert res.returncode == 2 and "--weight_path_aud" in res.stderr
    _no_traceback(res)


def test_fsd50k_linear_probe_beats_chance_map(pretrained: Path, fsd_root: Path, tmp_path: Path):
    import csv

    weights = pretrained / "model" / "XKD_pretext_kinetics400_ep1aud_student.pth.tar"
    res = run_script(
        EVAL_SRC / "linear_fsd50k.sh", "config_tiny", "--weight_path", str(weights), "--data_dir", str(fsd_root),
        "--output_dir", str(tmp_path), "--job_id", "lin", "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert "[xkd] linear fsd50k: mAP" in res.stdout
    result = json.loads((tmp_path / "Transformer/linear/fsd50k/lin/linear_results.json").read_text())
    assert result["selection"] == "validation split of the training data"
    # random scores give an AP equal to each class's positive rate on the test clips
    rows = list(csv.DictReader((fsd_root / "FSD50K.ground_truth" / "eval.csv").open()))
    labels = {name for r in rows for name in r["labels"].split(",")}
    chance = 100 * sum(sum(name in r["labels"].split(",") for r in rows) / len(rows) for name in labels) / len(labels)
    assert result["test"]["mAP"] > chance


def test_two_processes_through_torchrun(kinetics_root: Path, tmp_path: Path):
    res = run_script(
        XKD_SH, "xkd_tiny.yaml", "--data_dir", str(kinetics_root), "--output_dir", str(tmp_path), "--job_id", "ddp",
        "--device", "cpu", "--max_steps", "2", "--quiet", env={"NPROC": "2"},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    run = tmp_path / "Transformer" / "pretext" / "ddp"
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert any(r.get("step") == 2 and "train/loss" in r for r in records)
    assert (run / "checkpoints" / "last.pt").is_file()
