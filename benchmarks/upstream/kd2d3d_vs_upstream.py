#!/usr/bin/env python
"""kd2d3d side by side with the original lineage: one training step of a 3D ResNet-18 (shortcut A,
16 x 112 x 112 clips, 101 classes, cross-entropy, SGD as the lineage's ``main.py`` builds it), ours
(``kd2d3d.models.build_model`` + ``kd2d3d.opts.build_sgd``) and the original's ``models/resnet.py``,
on the same clips, in one process, same threads, interleaved repetitions; prints the ratio.

    python benchmarks/upstream/kd2d3d_vs_upstream.py                    # says what to clone, exits 0
    python benchmarks/upstream/kd2d3d_vs_upstream.py --upstream /tmp/upstream/3D-ResNets-PyTorch [--batch 2]

``--upstream PATH``: a checkout of https://github.com/kenshohara/3D-ResNets-PyTorch, branch
``CVPR2018`` (``d9847ea``, the lineage ``specs/kd2d3d.md`` and the package README name; its
``resnet18(sample_size=, sample_duration=, shortcut_type=, num_classes=)``); the later
``n_classes=`` signature of the master branch is accepted too. The 2D teacher has no original code
(the paper's layer is not public), so only the student step is compared. Nothing of the original is
in this repository. Timing / memory method: ``benchmarks/_bench.py``.
"""

from __future__ import annotations

import sys

import _side

REPO_URL = "https://github.com/kenshohara/3D-ResNets-PyTorch"
COMMIT = "CVPR2018 d9847ea (specs/kd2d3d.md)"


def clone_hint() -> str:
    clone = f"git clone -b CVPR2018 {REPO_URL} /tmp/upstream/3D-ResNets-PyTorch"
    return _side.clone_hint("kd2d3d_vs_upstream", "3D-ResNets-PyTorch", clone)


def main(argv: list[str] | None = None) -> int:
    if _side.hint_only(argv):
        print(clone_hint())  # before importing torch: the hint is instant
        return 0
    p, _bench = _side.parser(__doc__)
    import torch
    import torch.nn.functional as F  # noqa: F401

    p.add_argument("--batch", type=int, default=None, help="clips per step (default 2 on the CPU, 16 on CUDA, 1 quick)")
    _bench.add_common_args(p)
    a = p.parse_args(argv)
    if a.upstream is None:
        print(clone_hint())
        return 0
    up = a.upstream.resolve()
    if _side.missing_files("kd2d3d_vs_upstream", up, ["models/resnet.py"], "3D-ResNets-PyTorch", REPO_URL):
        return 2
    device = _bench.setup(a)
    sys.path.insert(0, str(up))
    from models import resnet as up_resnet  # the original's

    from kd2d3d.models import build_model
    from kd2d3d.opts import build_sgd, default_config, resolve

    batch = a.batch or (16 if device.type == "cuda" else 1 if a.quick else 2)
    opts = resolve(default_config())
    torch.manual_seed(0)
    ours = build_model(model="resnet", model_depth=18, n_classes=101, resnet_shortcut="A").to(device).train()
    kw = dict(sample_size=112, sample_duration=16, shortcut_type="A")
    try:
        theirs = up_resnet.resnet18(num_classes=101, **kw)
    except TypeError:
        theirs = up_resnet.resnet18(n_classes=101, **kw)
    theirs = theirs.to(device).train()
    opt_ours = build_sgd(list(ours.named_parameters()), opts)
    # the lineage's main.py: SGD(parameters, lr, momentum, dampening (0 with nesterov), weight_decay, nesterov)
    dampening = 0 if opts["nesterov"] else opts["dampening"]
    opt_up = torch.optim.SGD(theirs.parameters(), lr=opts["learning_rate"], momentum=opts["momentum"],
                             dampening=dampening, weight_decay=opts["weight_decay"], nesterov=opts["nesterov"])  # fmt: skip
    g = torch.Generator().manual_seed(0)
    clip = torch.randn(batch, 3, 16, 112, 112, generator=g).to(device)
    target = torch.randint(0, 101, (batch,), generator=g).to(device)

    def step(model, opt):
        def run() -> None:
            with _bench.autocast(device, "bf16" if device.type == "cuda" else "fp32"):
                out = model(clip)
                out = out["logits"] if isinstance(out, dict) else out
                loss = F.cross_entropy(out.float(), target)
            opt.zero_grad()
            loss.backward()
            opt.step()

        return run

    rows = _bench.measure_interleaved(
        {"ours_train_step": step(ours, opt_ours), "upstream_train_step": step(theirs, opt_up)},
        device,
        unit=f"train step ({batch} clips 16x112x112)",
        warmup=_bench.pick(a.warmup, a.quick, 1, 1),
        repeats=_bench.pick(a.repeats, a.quick, 2, 5),
    )
    for r in rows:
        _bench.add_rates(r, items=batch, items_name="clips")
    _bench.print_rows(rows)
    print(f"train_step: original / ours = {rows[1]['median_s'] / rows[0]['median_s']:.2f}x")
    config = {"upstream": {"repository": REPO_URL, "path": str(up), "commit_expected": COMMIT},
              "model": "3D ResNet-18, shortcut A, 101 classes", "clip": [3, 16, 112, 112], "batch": batch,
              "optimizer": {k: opts[k] for k in ("learning_rate", "momentum", "dampening", "weight_decay", "nesterov")}}  # fmt: skip
    _bench.write_doc(a.out, benchmark="kd2d3d_vs_upstream", script=__file__, device=device, quick=a.quick,
                     config=config, results=rows, notes=a.note)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
