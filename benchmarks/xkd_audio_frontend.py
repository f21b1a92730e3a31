#!/usr/bin/env python
"""XKD audio front-end throughput: 4-s 16 kHz waveforms -> normalised log-mel (80 x 448), clips/s,
with the package's plain-torch ``AudioFrontEnd`` and, where torchaudio imports, its
``MelSpectrogram`` (Slaney mel, reflect padding) + the same log / normalisation, as a reference.

    python benchmarks/xkd_audio_frontend.py [--device cpu|cuda] [--clips 64] [--batch 16] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from xkd.audio import KINETICS_SOUND_STATS, AudioFrontEnd


def _time(fn, waves: torch.Tensor, batch: int, device: torch.device) -> float:
    fn(waves[:batch])  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    with torch.no_grad():
        for s in range(0, len(waves), batch):
            fn(waves[s : s + batch])
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return len(waves) / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--clips", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    device = torch.device(a.device)
    waves = (torch.rand(a.clips, 1, 64000, generator=torch.Generator().manual_seed(0)) * 2 - 1).to(device)
    front = AudioFrontEnd().to(device)
    result = {"ours_clips_per_s": round(_time(front, waves, a.batch, device), 2), "torchaudio_clips_per_s": None}
    try:
        import torchaudio

        mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=16000, n_fft=1024, hop_length=143, n_mels=80, power=2.0, norm="slaney", mel_scale="slaney",
            pad_mode="reflect",
        ).to(device)  # fmt: skip
        mean, std = KINETICS_SOUND_STATS

        def ta(x):
            return (torch.log(mel(x) + 1.1920929e-07) - mean) / std

        result["torchaudio_clips_per_s"] = round(_time(ta, waves, a.batch, device), 2)
        with torch.no_grad():
            result["max_abs_diff_vs_torchaudio"] = float((ta(waves[:4]) - front(waves[:4])).abs().max())
    except ImportError as err:
        result["torchaudio"] = f"not importable ({err})"
    record = {
        "benchmark": "xkd_audio_frontend",
        "shape": [1, 80, 448],
        "clips": a.clips,
        "batch": a.batch,
        "machine": {
            "platform": platform.platform(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "device": str(device),
        },
        "results": result,
    }
    out = (
        Path(a.out)
        if a.out
        else Path(__file__).parent
        / "results"
        / ("xkd_audio_frontend_cuda.json" if device.type == "cuda" else "xkd_audio_frontend.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2))
    print(json.dumps(result), f"-> {out}")


if __name__ == "__main__":
    main()
