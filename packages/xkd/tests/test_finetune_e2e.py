"""Fine-tuning end to end through the finetune_*.sh scripts on the synthetic datasets, from the micro
pre-training of conftest (CPU); SLURM simulated with its environment variables (no sbatch / srun)."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
import torch
from conftest import EVAL_SRC, run_script

SCRIPTS = ["finetune_ucf101.sh", "finetune_hmdb51.sh", "finetune_k400.sh", "finetune_esc50.sh", "finetune_fsd50k.sh"]


def _weights(pretrained: Path, suffix: str) -> Path:
    return pretrained / "model" / f"XKD_pretext_kinetics400_ep1{suffix}.pth.tar"


def _results(out: Path, db: str, job: str) -> dict:
    return json.loads((out / "Transformer" / "finetune" / db / job / "finetune_results.json").read_text())


def _clean_error(res, *needles: str) -> None:
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert "Traceback" not in res.stderr, res.stderr[-2000:]
    for n in needles:
        assert n in res.stderr, res.stderr[-2000:]


@pytest.mark.parametrize("script", SCRIPTS)
def test_help(script):
    res = run_script(EVAL_SRC / script, "--help")
    assert res.returncode == 0 and "Usage: bash " + script in res.stdout and "--select_on_test" in res.stdout


@pytest.mark.slow
def test_finetune_ucf101_two_folds_print_each_and_the_mean_above_chance(pretrained, ucf_root, tmp_path):
    weights = _weights(pretrained, "vid_student")
    res = run_script(
        EVAL_SRC / "finetune_ucf101.sh", "config_tiny_f1", "config_tiny_f2", "--weight_path", str(weights),
        "--data_dir", str(ucf_root), "--output_dir", str(tmp_path), "--job_id", "ucf", "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("[xkd] finetune ucf101")]
    assert any("fold 1: top1" in ln and "chosen on held-out training videos" in ln for ln in lines), res.stdout
    assert any("fold 2: top1" in ln for ln in lines) and any("mean over 2 folds: top1" in ln for ln in lines)
    summary = _results(tmp_path, "ucf101", "ucf")
    folds = summary["folds"]
    assert [f["fold"] for f in folds] == [1, 2] and summary["dist"]["launcher"] == "none"
    for f in folds:
        assert 0 <= f["test"]["top1"] <= 100 and f["test"]["top1"] <= f["test"]["top5"]
        assert f["selection"] == "held-out training videos" and f["chance"] == 25.0
        # the selection split is carved out of the training list, disjoint from what is trained on
        assert f["selection_samples"] >= 4 and f["train_samples"] + f["selection_samples"] == 64
    assert summary["mean_top1"] == pytest.approx((folds[0]["test"]["top1"] + folds[1]["test"]["top1"]) / 2)
    assert summary["mean_top1"] > 31.0, res.stdout  # chance 25 % (32 test videos per fold)
    # each fold fine-tuned the whole backbone from the pre-trained weights (224-style larger crops)
    pre = torch.load(weights, weights_only=True)
    for k in (1, 2):
        best = torch.load(tmp_path / "Transformer" / "finetune" / "ucf101" / "ucf" / f"fold{k}" / "best_model.pt",
                          weights_only=True)  # fmt: skip
        assert best["backbone.pos_embed"].shape == pre["enc_pos_embed"].shape  # trained on the pre-training grid
        assert not torch.equal(best["backbone.blocks.0.attn.qkv.weight"], pre["encoder.blocks.0.attn.qkv.weight"])


@pytest.fixture(scope="module")
def esc_big(tmp_path_factory) -> Path:
    """ESC-50 layout, 4 classes x 30 clips of 2.5 s (5 folds of 24): enough steps for a micro fine-tune to learn."""
    from videokd.data.synthetic import make_esc50_dataset

    root = tmp_path_factory.mktemp("esc_big")
    make_esc50_dataset(root, classes=4, videos_per_class=30, seconds=2.5, seed=7)
    return root


@pytest.mark.slow
def test_finetune_esc50_two_folds_above_chance(pretrained, esc_big, tmp_path):
    res = run_script(
        EVAL_SRC / "finetune_esc50.sh", "config_tiny_f1", "config_tiny_f2", "--weight_path",
        str(_weights(pretrained, "aud_student")), "--data_dir", str(esc_big), "--output_dir", str(tmp_path),
        "--job_id", "esc", "--device", "cpu", "--quiet",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert "finetune esc50 fold 1: top1" in res.stdout and "finetune esc50 fold 2: top1" in res.stdout
    assert "finetune esc50 mean over 2 folds: top1" in res.stdout
    summary = _results(tmp_path, "esc50", "esc")
    for f in summary["folds"]:
        assert f["test_samples"] == f["test"]["count"] == 24 and f["train_samples"] + f["selection_samples"] == 96
    assert summary["mean_top1"] > 25.0 + 10, res.stdout  # chance is 25 %


@pytest.mark.slow
def test_two_processes_torchrun_train_and_score_every_test_file(pretrained, esc_big, tmp_path):
    res = run_script(
        EVAL_SRC / "finetune_esc50.sh", "config_tiny_f1", "--weight_path", str(_weights(pretrained, "aud_student")),
        "--data_dir", str(esc_big), "--output_dir", str(tmp_path), "--job_id", "ddp", "--device", "cpu", "--quiet",
        "hyperparams.num_epochs=1", env={"NPROC": "2"},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert "launcher torchrun, rank 0/2" in res.stdout
    summary = _results(tmp_path, "esc50", "ddp")
    fold = summary["folds"][0]
    assert summary["dist"]["world_size"] == 2 and fold["test"]["count"] == fold["test_samples"] == 24


@pytest.mark.slow
def test_finetune_fsd50k_map_with_the_original_protocol(pretrained, fsd_root, tmp_path):
    res = run_script(
        EVAL_SRC / "finetune_fsd50k.sh", "config_tiny", "--weight_path", str(_weights(pretrained, "aud_student")),
        "--data_dir", str(fsd_root), "--output_dir", str(tmp_path), "--job_id", "fsd", "--device", "cpu", "--quiet",
        "--select_on_test",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert "finetune fsd50k fold 1: mAP" in res.stdout and "chosen on test (original protocol)" in res.stdout
    fsd = _results(tmp_path, "fsd50k", "fsd")["folds"][0]
    assert 0 < fsd["test"]["mAP"] <= 100 and fsd["classes"] == 6
    assert fsd["selection_samples"] == fsd["test_samples"]
    assert fsd["test"]["mAP"] == pytest.approx(fsd["selected"]["test_mAP"])  # the best test value is reported


@pytest.mark.slow
def test_slurm_variables_map_and_released_checkpoint_layout_loads(pretrained, kinetics_root, tmp_path):
    """The script run as one SLURM task (what srun starts): the core reads SLURM_* (launcher slurm, master =
    first host of the node list, port 15000 + job id % 20000); the full original-layout checkpoint
    (``module.``-prefixed model, ``--which student``) loads for Kinetics fine-tuning."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "MASTER_", "RANK", "WORLD_SIZE"))}
    env.update(SLURM_JOB_ID="4242", SLURM_PROCID="0", SLURM_NTASKS="1", SLURM_LOCALID="0", SLURM_STEP_ID="0",
               SLURM_NODELIST="gpu[07-08]", SLURM_JOB_NODELIST="gpu[07-08]")  # fmt: skip
    res = run_script(
        EVAL_SRC / "finetune_k400.sh", "config_tiny", "--weight_path", str(pretrained / "model" / "checkpoint.pth.tar"),
        "--which", "student", "--data_dir", str(kinetics_root), "--output_dir", str(tmp_path), "--job_id", "k400",
        "--device", "cpu", "--quiet", "hyperparams.num_epochs=1", env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert "launcher slurm, rank 0/1, local rank 0, master gpu07:19242" in res.stdout, res.stdout
    summary = _results(tmp_path, "kinetics400", "k400")
    assert summary["dist"] == {"launcher": "slurm", "rank": 0, "world_size": 1, "local_rank": 0,
                               "master_addr": "gpu07", "master_port": 19242}  # fmt: skip
    assert "finetune kinetics400 fold 1: top1" in res.stdout and 0 <= summary["folds"][0]["test"]["top5"] <= 100


def test_batch_script_with_several_tasks_launches_srun(tmp_path):
    """Inside an sbatch allocation (SLURM_JOB_ID, SLURM_NTASKS > 1, no SLURM_PROCID) the script hands the
    python module to srun (a stand-in srun on PATH records its arguments, then runs them as task 0)."""
    fake = tmp_path / "bin" / "srun"
    fake.parent.mkdir()
    fake.write_text(
        f'#!/usr/bin/env bash\necho "$@" > {tmp_path}/srun_args\n'
        "SLURM_PROCID=0 SLURM_STEP_ID=0 SLURM_STEP_NUM_TASKS=1 exec \"$@\"\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(SLURM_JOB_ID="77", SLURM_NTASKS="8", PATH=f"{fake.parent}:{os.environ['PATH']}")
    res = run_script(EVAL_SRC / "finetune_esc50.sh", "--weight_path", "w.pth", "--data_dir", str(tmp_path / "none"),
                     env=env)  # fmt: skip
    recorded = (tmp_path / "srun_args").read_text()
    assert recorded.startswith(f"{sys.executable} -m xkd.finetune --db esc50"), recorded
    _clean_error(res, "no esc50 data")  # the task itself ran and stopped on the missing data


def test_missing_data_and_wrong_checkpoint_give_rc2_without_traceback(tmp_path):
    res = run_script(EVAL_SRC / "finetune_ucf101.sh", "--weight_path", "w.pth", "--data_dir", str(tmp_path / "nope"))
    _clean_error(res, "finetune: error:", "no ucf101 data", "make_synthetic.py ucf101")
    data = tmp_path / "esc"
    data.mkdir()
    bad = tmp_path / "not_xkd.pth.tar"
    torch.save({"state_dict": {"visual.proj": torch.zeros(3)}}, bad)
    res = run_script(EVAL_SRC / "finetune_esc50.sh", "--weight_path", str(bad), "--data_dir", str(data))
    _clean_error(res, "finetune: error:", str(bad))


@pytest.mark.slow
def test_wrong_modality_backbone_is_rc2(pretrained, ucf_root):
    res = run_script(EVAL_SRC / "finetune_ucf101.sh", "config_tiny_f1", "--weight_path",
                     str(_weights(pretrained, "aud_student")), "--data_dir", str(ucf_root))  # fmt: skip
    _clean_error(res, "not a video backbone")
