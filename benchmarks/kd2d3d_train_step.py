"""kd2d3d: train-step throughput and peak memory of a 3D ResNet-18 student at 16x112x112, without
and with the frozen 2D teacher (ResNet-18 on every frame; logit + feature distillation), and the
frame-extraction throughput of the PyAV extractor against the lineage's one-ffmpeg-per-video loop.

    python benchmarks/kd2d3d_train_step.py                          # CPU (small batch), results JSON
    python benchmarks/kd2d3d_train_step.py --device cuda --precision bf16 --channels-last --batch-size 16

    python benchmarks/kd2d3d_train_step.py --quick                  # batch 1, 2 tiny videos to extract

Each training case runs in its own process, so its peak memory (CPU: max RSS; CUDA:
``max_memory_allocated``) is its own. Frame extraction: one timed call extracts the whole tree of
``--videos`` videos. Timing / memory method: ``_bench.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402


def train_case(args, with_teacher: bool) -> dict:
    from kd2d3d.models import build_model
    from kd2d3d.opts import build_sgd, default_config, norm_method, resolve
    from kd2d3d.teacher import Distiller, DistillStudent, build_teacher
    from videokd.engine import Precision

    torch.manual_seed(0)
    device = torch.device(args.device)
    cfg = default_config()
    cfg["kd"]["type"] = "both" if with_teacher else "none"
    opts = resolve(cfg)
    mean, std = norm_method(opts)
    net = build_model(model="resnet", model_depth=18, n_classes=args.classes, resnet_shortcut="A")
    teacher = None
    if with_teacher:
        # random weights: the timing does not depend on them
        teacher = build_teacher(cfg, n_classes=args.classes, mean=mean, std=std, norm_value=1, allow_random=True)
        teacher = teacher.to(device).eval().requires_grad_(False)
    model = DistillStudent(net, teacher_features=teacher.num_features if teacher else 0).to(device)
    fmt = torch.channels_last_3d if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = build_sgd(list(model.named_parameters()), opts)
    loss_fn = Distiller(cfg["kd"])
    prec = Precision(args.precision, device)
    clip = torch.randn(args.batch_size, 3, 16, 112, 112, device=device).contiguous(memory_format=fmt)
    target = torch.randint(0, args.classes, (args.batch_size,), device=device)

    def step():
        with prec.autocast():
            out = model(clip)
            t_out = None
            if teacher is not None:
                with torch.no_grad():
                    t_out = teacher(clip)
            loss = loss_fn(
                {k: v.float() for k, v in out.items()}, target, t_out and {k: v.float() for k, v in t_out.items()}
            )["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    flops = None
    if device.type == "cuda":
        flops = _bench.count_flops(step)  # one real step (a warm-up)
    peak = _bench.matmul_peak_tflops(device) if device.type == "cuda" else None
    row = _bench.measure(step, device, name="student+teacher" if with_teacher else "student", unit="step",
                         warmup=args.warmup, repeats=args.repeats, items=args.batch_size, items_name="clips",
                         flops=flops, peak_tflops=peak)  # fmt: skip
    row["metrics"]["teacher"] = "resnet18 (2D, every frame)" if with_teacher else None
    return row


def extraction(args) -> dict:
    import numpy as np

    from kd2d3d import tools as T
    from videokd.data.synthetic import write_video

    tmp = Path(tempfile.mkdtemp(prefix="kd2d3d_bench_"))
    try:
        rng = np.random.default_rng(0)
        for i in range(args.videos):
            frames = rng.integers(0, 255, (args.frames, 240, 320, 3), dtype=np.uint8)
            write_video(tmp / "src" / "cls" / f"v_{i:03d}.mp4", frames, fps=25)
        n_frames = args.videos * args.frames
        rows = []
        device = torch.device("cpu")
        for workers in sorted({1, args.workers}):
            counter = iter(range(10**6))

            def pyav(workers=workers):
                rep = T.extract_tree(tmp / "src", tmp / f"pyav_{workers}_{next(counter)}", layout="classes",
                                     height=240, workers=workers, progress=False)  # fmt: skip
                assert not rep.failed, rep.failed

            rows.append(_bench.measure(pyav, device, name=f"extract_pyav_workers_{workers}", unit="tree",
                                       warmup=0, repeats=args.repeats, items=n_frames, items_name="frames"))  # fmt: skip
        if shutil.which("ffmpeg"):
            counter = iter(range(10**6))

            def lineage():
                dst = tmp / f"ffmpeg_{next(counter)}"
                for cmd in T.lineage_commands(str(tmp / "src"), str(dst), layout="classes", height=240):
                    Path(cmd[-1]).parent.mkdir(parents=True, exist_ok=True)
                    subprocess.run(cmd + ["-loglevel", "error"], check=True)

            rows.append(_bench.measure(lineage, device, name="extract_lineage_ffmpeg_per_video", unit="tree",
                                       warmup=0, repeats=args.repeats, items=n_frames, items_name="frames"))  # fmt: skip
            notes = []
        else:
            notes = [
                "no ffmpeg binary on this machine: the lineage's loop (one ffmpeg process per video) was not timed"
            ]
        return rows, notes
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--precision", default=None, choices=("fp32", "bf16", "fp16"), help="default bf16 on CUDA")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--batch-size", type=int, default=None, help="default 16 on CUDA, 2 on the CPU, 1 quick")
    p.add_argument("--classes", type=int, default=101)
    p.add_argument("--videos", type=int, default=None, help="extraction: videos (default 12, 2 quick)")
    p.add_argument("--frames", type=int, default=None, help="extraction: frames per video (default 48, 16 quick)")
    p.add_argument("--workers", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    p.add_argument("--skip-extraction", action="store_true")
    p.add_argument("--case", choices=("student", "student+teacher"), help=argparse.SUPPRESS)
    _bench.add_common_args(p)
    args = p.parse_args(argv)
    cuda = args.device.startswith("cuda")
    args.precision = args.precision or ("bf16" if cuda else "fp32")
    args.batch_size = args.batch_size or (16 if cuda else 1 if args.quick else 2)
    args.videos = args.videos or (2 if args.quick else 12)
    args.frames = args.frames or (16 if args.quick else 48)
    args.warmup = _bench.pick(args.warmup, args.quick, 1, 3 if cuda else 1)
    args.repeats = _bench.pick(args.repeats, args.quick, 1, 10 if cuda else 3)
    device = _bench.setup(args)
    if args.case:  # child process: one training case, JSON on stdout
        print(json.dumps(train_case(args, args.case == "student+teacher")))
        return 0
    rows, notes = [], []
    for case in ("student", "student+teacher"):
        cmd = [sys.executable, __file__, "--case", case, "--device", args.device, "--precision", args.precision,
               "--batch-size", str(args.batch_size), "--classes", str(args.classes), "--warmup", str(args.warmup),
               "--repeats", str(args.repeats)] + (["--channels-last"] if args.channels_last else [])  # fmt: skip
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            sys.stderr.write(res.stderr)
            raise SystemExit(f"kd2d3d_train_step: case {case} failed (exit code {res.returncode})")
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        _bench.print_rows(rows[-1:])
    rows[1]["metrics"]["time_over_student"] = round(rows[1]["median_s"] / rows[0]["median_s"], 3)
    if not args.skip_extraction:
        ext_rows, notes = extraction(args)
        _bench.print_rows(ext_rows)
        rows += ext_rows
    config = {"model": "3D ResNet-18-A, 16x112x112 clips, 101 classes; teacher 2D ResNet-18 on every frame",
              "precision": args.precision, "channels_last_3d": args.channels_last, "batch_size": args.batch_size,
              "extraction": None if args.skip_extraction else {"videos": args.videos, "frames_per_video": args.frames,
                                                               "source_wh": [320, 240], "height": 240,
                                                               "workers": args.workers},
              "isolation": "each training case in its own process"}  # fmt: skip
    _bench.write_doc(args.out, benchmark="kd2d3d_train_step", script=__file__, device=device, quick=args.quick,
                     config=config, results=rows, notes=notes)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
