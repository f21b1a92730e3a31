"""kd2d3d: train-step throughput and peak memory of a 3D ResNet-18 student at 16x112x112, without
and with the frozen 2D teacher (ResNet-18 on every frame; logit + feature distillation), and the
frame-extraction throughput of the PyAV extractor against the lineage's one-ffmpeg-per-video loop.

    python benchmarks/kd2d3d_train_step.py                          # CPU (small batch), results JSON
    python benchmarks/kd2d3d_train_step.py --device cuda --precision bf16 --channels-last --batch-size 16

Each training case runs in its own process, so its peak memory (CPU: max RSS; CUDA:
``max_memory_allocated``) is its own. Results: ``benchmarks/results/kd2d3d_train_step[_cuda].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def train_case(args, with_teacher: bool) -> dict:
    import torch

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

    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    best, med = min(times), sorted(times)[len(times) // 2]
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return {
        "teacher": "resnet18 (2D, every frame)" if with_teacher else None,
        "batch_size": args.batch_size,
        "step_s_min": round(best, 4),
        "step_s_median": round(med, 4),
        "clips_per_s": round(args.batch_size / med, 3),
        "peak_memory_mib": round(peak, 1),
        "peak_memory_kind": "cuda max_memory_allocated" if device.type == "cuda" else "process max RSS",
    }


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
        out = {"videos": args.videos, "frames_per_video": args.frames, "source_wh": [320, 240], "height": 240}
        for workers in (1, args.workers):
            t0 = time.perf_counter()
            rep = T.extract_tree(
                tmp / "src", tmp / f"pyav_{workers}", layout="classes", height=240, workers=workers, progress=False
            )
            dt = time.perf_counter() - t0
            assert not rep.failed, rep.failed
            out[f"pyav_workers_{workers}_frames_per_s"] = round(n_frames / dt, 1)
        if shutil.which("ffmpeg"):
            t0 = time.perf_counter()
            for cmd in T.lineage_commands(str(tmp / "src"), str(tmp / "ffmpeg"), layout="classes", height=240):
                Path(cmd[-1]).parent.mkdir(parents=True, exist_ok=True)
                subprocess.run(cmd + ["-loglevel", "error"], check=True)
            out["lineage_ffmpeg_per_video_frames_per_s"] = round(n_frames / (time.perf_counter() - t0), 1)
        else:
            out["lineage_ffmpeg_per_video_frames_per_s"] = None
            out["note"] = (
                "no ffmpeg binary on this machine: the lineage's loop (one ffmpeg process per video) was not timed"
            )
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--classes", type=int, default=101)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--videos", type=int, default=12)
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--workers", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    p.add_argument("--skip-extraction", action="store_true")
    p.add_argument("--case", choices=("student", "student+teacher"), help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    if args.case:  # child process: one training case, JSON on stdout
        print(json.dumps(train_case(args, args.case == "student+teacher")))
        return
    import torch

    result = {
        "benchmark": "kd2d3d train step (3D ResNet-18-A, 16x112x112) and frame extraction",
        "device": args.device if args.device == "cpu" else torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "precision": args.precision,
        "channels_last_3d": args.channels_last,
        "threads": torch.get_num_threads(),
        "host": platform.node(),
        "cases": {},
    }
    for case in ("student", "student+teacher"):
        cmd = [sys.executable, __file__, "--case", case] + [a for a in sys.argv[1:] if a != "--skip-extraction"]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        result["cases"][case] = json.loads(res.stdout.strip().splitlines()[-1])
        print(case, result["cases"][case], flush=True)
    if not args.skip_extraction:
        result["extraction"] = extraction(args)
        print("extraction", result["extraction"])
    out = args.out or RESULTS / ("kd2d3d_train_step.json" if args.device == "cpu" else "kd2d3d_train_step_cuda.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
