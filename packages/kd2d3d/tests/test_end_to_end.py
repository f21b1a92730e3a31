"""End to end as a user runs it: synthetic UCF-101 videos -> tools/*.py (frames, n_frames, json)
-> train.sh / main.py --config (train 2 epochs, validate, test, results json), with and without
2D-to-3D distillation; the error paths of the entry points (rc 2, a message, no traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision

from videokd.data.synthetic import make_ucf101_dataset

PKG = Path(__file__).resolve().parents[1]
TINY = PKG / "configs" / "tiny.yaml"
N_CLASSES = 3


def _env(**extra: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="2", KD2D3D_PYTHON=sys.executable, **extra)
    env.pop("NPROC", None)
    return env


def _run(cmd: list, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=_env(**env), capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def ucf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic UCF-101 videos turned into the lineage layout by the tools themselves."""
    root = tmp_path_factory.mktemp("ucf")
    make_ucf101_dataset(root / "raw", classes=N_CLASSES, videos_per_class=30, frames=16, size=32, seed=0)
    tools = PKG / "tools"
    py = sys.executable
    for cmd in (
        [
            py,
            tools / "video_jpg_ucf101_hmdb51.py",
            root / "raw" / "UCF-101",
            root / "jpg",
            "--height",
            "48",
            "--no_progress",
        ],
        [py, tools / "n_frames_ucf101_hmdb51.py", root / "jpg"],
        [py, tools / "ucf101_json.py", root / "raw" / "ucfTrainTestlist", "--dst_dir", root],
    ):
        res = _run(cmd, root)
        assert res.returncode == 0, res.stderr
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(num_classes=N_CLASSES).state_dict(), root / "teacher.pth")
    return root


def _data(ucf: Path, result: Path) -> list[str]:
    return [f"video_path={ucf / 'jpg'}", f"annotation_path={ucf / 'ucf101_01.json'}", f"result_path={result}"]


def _check_run(result: Path) -> dict:
    for name in ("opts.json", "config.yaml", "train.log", "train_batch.log", "val.log", "save_1.pth", "save_2.pth"):
        assert (result / name).is_file(), name
    train_log = (result / "train.log").read_text().splitlines()
    assert train_log[0] == "epoch\tloss\tacc\tlr" and [r.split("\t")[0] for r in train_log[1:]] == ["1", "2"]
    ckpt = torch.load(result / "save_2.pth", weights_only=True)
    assert ckpt["epoch"] == 3 and ckpt["arch"] == "resnet-10" and "conv1.weight" in ckpt["state_dict"]
    results = json.loads((result / "val.json").read_text())["results"]
    acc = json.loads((result / "val_accuracy.json").read_text())
    assert all(len(v) == N_CLASSES for v in results.values())  # top-10 clamped to the class count
    return {"acc": acc, "n_videos": len(results)}


@pytest.mark.slow
def test_train_validate_test_without_kd(ucf: Path, tmp_path: Path):
    # one epoch through the launcher, then the same run folder with n_epochs=2: the engine resumes
    # from checkpoints/last.pt and runs only the second epoch
    res = _run(["bash", PKG / "train.sh", TINY, *_data(ucf, tmp_path / "run"), "n_epochs=1", "test=false"], tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file() and not (tmp_path / "run" / "save_2.pth").exists()
    res = _run(["bash", PKG / "train.sh", TINY, *_data(ucf, tmp_path / "run")], tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    out = _check_run(tmp_path / "run")  # train.log: epochs 1 and 2, once each
    n_val = sum(
        1 for v in json.loads((ucf / "ucf101_01.json").read_text())["database"].values() if v["subset"] == "validation"
    )
    assert out["n_videos"] == n_val  # every validation video, the last one included
    assert out["acc"]["video_top1"] > 1.0 / N_CLASSES + 0.1, out
    assert "video_top1" in res.stdout


@pytest.mark.slow
def test_train_validate_test_with_kd(ucf: Path, tmp_path: Path):
    kd = ["kd.type=both", "kd.alpha=0.3", f"teacher.weights={ucf / 'teacher.pth'}"]
    res = _run([sys.executable, PKG / "main.py", "--config", TINY, *_data(ucf, tmp_path / "run"), *kd], tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    out = _check_run(tmp_path / "run")
    assert out["acc"]["video_top1"] > 1.0 / N_CLASSES + 0.1, out
    last = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()][-1]
    assert last["epoch/train_kd_logits"] > 0 and last["epoch/train_kd_feature"] > 0
    # test-only from the lineage checkpoint it wrote (resume_path), no training
    from kd2d3d.main import main

    main(
        [
            "--config",
            str(TINY),
            *_data(ucf, tmp_path / "test_only"),
            "no_train=true",
            "no_val=true",
            f"resume_path={tmp_path / 'run' / 'save_2.pth'}",
        ]
    )
    again = json.loads((tmp_path / "test_only" / "val_accuracy.json").read_text())
    assert again["video_top1"] == out["acc"]["video_top1"]


@pytest.mark.slow
def test_ddp_two_processes_through_the_launcher(ucf: Path, tmp_path: Path):
    """NPROC=2: torchrun, gloo on the CPU; every validation video scored once in the test json."""
    res = _run(["bash", PKG / "train.sh", TINY, *_data(ucf, tmp_path / "run"), "n_epochs=1"], tmp_path, NPROC="2")
    assert res.returncode == 0, res.stderr[-3000:]
    results = json.loads((tmp_path / "run" / "val.json").read_text())["results"]
    ann = json.loads((ucf / "ucf101_01.json").read_text())
    assert sorted(results) == sorted(k for k, v in ann["database"].items() if v["subset"] == "validation")
    assert len((tmp_path / "run" / "train.log").read_text().splitlines()) == 2  # header + one epoch, rank 0 only
    assert res.stdout.count("video_top1") == 1


def _main(argv: list, capsys) -> tuple[int, str]:
    """main.py in this process (its message and exit code, as run_main gives them to the shell)."""
    from kd2d3d.main import main
    from videokd.cli import run_main

    code = run_main(main, [str(a) for a in argv], prog="main.py")
    return code, capsys.readouterr().err


@pytest.mark.slow
def test_entry_point_errors(ucf: Path, tmp_path: Path, capsys):
    res = _run(["bash", PKG / "train.sh", "--help"], tmp_path)
    assert res.returncode == 0 and "Usage" in res.stdout
    res = _run([sys.executable, PKG / "main.py", "--help"], tmp_path)
    assert res.returncode == 0 and "--config" in res.stdout
    # missing data, through the launcher: names the folder and how to make a stand-in
    res = _run(
        ["bash", PKG / "train.sh", TINY, f"video_path={tmp_path / 'nothing'}", f"result_path={tmp_path / 'r1'}"],
        tmp_path,
    )
    assert res.returncode == 2 and "nothing" in res.stderr and "make_synthetic" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "r1").exists()
    # a wrong checkpoint: a file that is no checkpoint, and one of another architecture
    bad = tmp_path / "bad.pth"
    bad.write_text("not a checkpoint")
    code, err = _main(["--config", TINY, *_data(ucf, tmp_path / "r2"), f"pretrain_path={bad}"], capsys)
    assert code == 2 and "bad.pth" in err and "Traceback" not in err
    assert not (tmp_path / "r2").exists()  # a failed start leaves no run folder
    other = tmp_path / "other.pth"
    torch.save({"arch": "resnet-18", "state_dict": {}}, other)
    code, err = _main(["--config", TINY, *_data(ucf, tmp_path / "r3"), f"resume_path={other}"], capsys)
    assert code == 2 and "resnet-18" in err and "other.pth" in err
    # a misspelt key
    code, err = _main(["--config", TINY, "kd.alpah=0.1"], capsys)
    assert code == 2 and "kd.alpha" in err


@pytest.mark.slow
def test_activitynet_segments_train_and_test(tmp_path: Path):
    """ActivityNet v1.3 layout (timed segments, fps files): one epoch, validation, test json."""
    from kd2d3d.main import main
    from videokd.data.synthetic import make_activitynet_frames_dataset

    make_activitynet_frames_dataset(tmp_path / "anet", classes=3, videos_per_class=4, frames=40, size=32)
    result = tmp_path / "run"
    main(
        [
            "--config",
            str(TINY),
            "dataset=activitynet",
            f"video_path={tmp_path / 'anet' / 'jpg'}",
            f"annotation_path={tmp_path / 'anet' / 'activity_net.v1-3.min.json'}",
            f"result_path={result}",
            "sample_duration=16",
            "n_epochs=1",
        ]
    )
    ann = json.loads((tmp_path / "anet" / "activity_net.v1-3.min.json").read_text())
    results = json.loads((result / "val.json").read_text())["results"]
    assert sorted(results) == sorted(k for k, v in ann["database"].items() if v["subset"] == "validation")
    acc = json.loads((result / "val_accuracy.json").read_text())
    assert 0.0 <= acc["video_top1"] <= 1.0 and (result / "save_1.pth").is_file()
