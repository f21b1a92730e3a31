#!/usr/bin/env python
"""XKD audio front-end throughput: 4-s 16 kHz waveforms -> normalised log-mel (80 x 448), clips/s,
with the package's plain-torch ``AudioFrontEnd`` and, where torchaudio imports, its
``MelSpectrogram`` (Slaney mel, reflect padding) + the same log / normalisation, as a reference.

    python benchmarks/xkd_audio_frontend.py [--device cpu|cuda] [--clips 64] [--batch 16] [--out FILE.json]
    python benchmarks/xkd_audio_frontend.py --quick        # 8 clips

One timed call converts all ``--clips`` waveforms in batches of ``--batch`` (no_grad); the two
implementations are timed interleaved in one process. Timing / memory method: ``_bench.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402

from xkd.audio import KINETICS_SOUND_STATS, AudioFrontEnd  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=int, default=None, help="default 64 (8 quick, 256 on CUDA)")
    p.add_argument("--batch", type=int, default=None, help="default 16 (4 quick)")
    _bench.add_common_args(p)
    a = p.parse_args(argv)
    device = _bench.setup(a)
    clips = a.clips or (8 if a.quick else 256 if device.type == "cuda" else 64)
    batch = a.batch or (4 if a.quick else 16)
    waves = (torch.rand(clips, 1, 64000, generator=torch.Generator().manual_seed(0)) * 2 - 1).to(device)
    front = AudioFrontEnd().to(device)
    impls = {"ours_AudioFrontEnd": front}
    notes = []
    try:
        import torchaudio

        mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=16000, n_fft=1024, hop_length=143, n_mels=80, power=2.0, norm="slaney", mel_scale="slaney",
            pad_mode="reflect",
        ).to(device)  # fmt: skip
        mean, std = KINETICS_SOUND_STATS
        impls["torchaudio_MelSpectrogram"] = lambda x: (torch.log(mel(x) + 1.1920929e-07) - mean) / std
    except ImportError as err:
        notes.append(f"torchaudio not importable ({err}): only ours timed")

    def loop(fn):
        def run() -> None:
            with torch.no_grad():
                for s in range(0, clips, batch):
                    fn(waves[s : s + batch])

        return run

    rows = _bench.measure_interleaved(
        {k: loop(fn) for k, fn in impls.items()},
        device,
        unit=f"{clips} clips",
        warmup=_bench.pick(a.warmup, a.quick, 1, 1),
        repeats=_bench.pick(a.repeats, a.quick, 2, 5),
    )
    for r in rows:
        _bench.add_rates(r, items=clips, items_name="clips")
    if len(impls) == 2:
        with torch.no_grad():
            diff = (impls["torchaudio_MelSpectrogram"](waves[:4]) - front(waves[:4])).abs().max()
        rows[0]["metrics"]["max_abs_diff_vs_torchaudio"] = float(diff)
    _bench.print_rows(rows)
    config = {"shape": [1, 80, 448], "clips": clips, "batch": batch, "waveform": "4 s, 16 kHz, uniform noise"}
    _bench.write_doc(a.out, benchmark="xkd_audio_frontend", script=__file__, device=device, quick=a.quick,
                     config=config, results=rows, notes=notes)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
