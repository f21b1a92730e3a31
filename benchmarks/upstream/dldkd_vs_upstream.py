#!/usr/bin/env python
"""DL-DKD side by side with the original code: the full text-to-video evaluation and one training step,
ours (``dldkd``) and the original's, on the same random inputs and the same weights, in one process,
same threads, interleaved repetitions (ours, original, original, ours, ...); prints the ratios.

    python benchmarks/upstream/dldkd_vs_upstream.py                       # says what to clone, exits 0
    python benchmarks/upstream/dldkd_vs_upstream.py --upstream /tmp/upstream/DL-DKD [--size charades]
        [--batch 128] [--repeats 3] [--shims DIR] [--skip-eval] [--skip-train] [--out FILE.json]

``--upstream PATH``: a checkout of https://github.com/HuiGuanLab/DL-DKD at ``master`` (``d5ed153``,
DL-DKD++ whose ``--label_style hard`` is the ICCV method; the layout ``specs/dldkd.md`` documents):
``method/model.py``, ``method/eval.py``, ``method/data_provider.py`` must import (``easydict``, ``h5py``,
``tqdm`` installed; ``--shims DIR`` is put on ``sys.path`` first for stand-ins of modules the
original imports but the measured code never calls, e.g. ``matplotlib`` / ``seaborn``).

* evaluation: the original's ``eval_epoch`` (its DataLoaders over in-memory datasets that return
  exactly what its ``VisDataSet4DLDKD`` / ``TxtDataSet4DLDKD`` return, its collate functions, its
  scoring and its ``cal_perf`` for the two branches and the fused score) against
  ``dldkd.evaluate.evaluate_model`` (same batch sizes 200 videos / 50 captions). The original's
  weights are copied into ours (``dldkd.checkpoint.from_original_state_dict``), so both report the
  same fused SumR (recorded as a check).
* training step at the paper's batch (128 videos x 5 captions, TVR dims): the original's
  ``DLDKD.forward(batch)`` (its losses, ``label_style`` hard) + backward + optimizer step against
  ``dldkd``'s model + ``DLDKDLoss``. Both use ``dldkd.runner.build_optimizer`` (BertAdam, the
  original's ``method/optimization.py``), so the optimizer is the same on both sides.

Nothing of the original is in this repository. Timing / memory method: ``benchmarks/_bench.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import _side

BENCH = _side.BENCH

REPO_URL = "https://github.com/HuiGuanLab/DL-DKD"
COMMIT = "master d5ed153 (specs/dldkd.md; the ICCV paper's code is branch iccv, 1cd1739)"


def clone_hint() -> str:
    clone = f"git clone {REPO_URL} /tmp/upstream/DL-DKD && git -C /tmp/upstream/DL-DKD checkout d5ed153"
    pip = "pip install easydict h5py tqdm   # what the original's evaluation imports"
    return _side.clone_hint("dldkd_vs_upstream", "DL-DKD", clone, (pip,))


def main(argv: list[str] | None = None) -> int:
    if _side.hint_only(argv):
        print(clone_hint())  # before importing torch: the hint is instant
        return 0
    p, _bench = _side.parser(__doc__)
    import torch
    import torch.nn.functional as F  # noqa: F401

    p.add_argument("--shims", type=Path, default=None, help="folder of stand-in modules put on sys.path first")
    p.add_argument(
        "--size", default=None, help="evaluation size: tiny | charades | tvr | activitynet (default charades)"
    )
    p.add_argument("--batch", type=int, default=None, help="training-step videos (default 128, the paper's; 16 quick)")
    p.add_argument("--skip-eval", action="store_true")
    p.add_argument("--skip-train", action="store_true")
    _bench.add_common_args(p)
    a = p.parse_args(argv)
    if a.upstream is None:
        print(clone_hint())
        return 0
    up = a.upstream.resolve()
    if _side.missing_files("dldkd_vs_upstream", up, ["method/model.py", "method/eval.py"], "DL-DKD", REPO_URL):
        return 2
    device = _bench.setup(a)
    if a.shims:
        sys.path.insert(0, str(a.shims.resolve()))
    sys.path.insert(0, str(up))
    from easydict import EasyDict
    from method import eval as up_eval  # the original's
    from method.model import DLDKD as UpDLDKD  # the original's

    from dldkd.checkpoint import from_original_state_dict
    from dldkd.evaluate import evaluate_model
    from dldkd.losses import DLDKDLoss
    from dldkd.model import build_model
    from dldkd.runner import build_optimizer

    sys.path.insert(0, str(BENCH))
    from dldkd_eval import SIZES, _lengths

    size = a.size or ("tiny" if a.quick else "charades")
    nq, nv, dv, dq, mean = SIZES[size]
    warmup = _bench.pick(a.warmup, a.quick, 0, 1)
    repeats = _bench.pick(a.repeats, a.quick, 1, 3)

    def up_config(dv_: int, dq_: int) -> tuple[EasyDict, EasyDict]:
        cfg = EasyDict(visual_input_size=dv_, query_input_size=dq_, inheritance_hidden=384, exploration_hidden=384,
                       max_ctx_l=128, max_desc_l=30, input_drop=0.1, drop=0.1, n_heads=4, initializer_range=0.02,
                       margin=0.1, use_hard_negative=False, hard_pool_size=20, label_style="hard")  # fmt: skip
        opt = EasyDict(double_branch=True, kl_intra_weight=0.1, inher_nce_weight=0.04, explore_nce_weight=0.04,
                       collection="tvr", alpha=1.0, belta=0.8, device=device, eval_context_bsz=200,
                       eval_query_bsz=50, num_workers=0, pin_memory=False)  # fmt: skip
        return cfg, opt

    def twin_models(dv_: int, dq_: int):
        torch.manual_seed(0)
        cfg, opt = up_config(dv_, dq_)
        theirs = UpDLDKD(cfg, opt).to(device)
        ours = build_model(visual_input_size=dv_, query_input_size=dq_, share_query_input_proj=False).to(device)
        sd, layout = from_original_state_dict(theirs.state_dict())
        ours.load_state_dict(sd)
        return theirs, ours, opt, layout

    rows, notes = [], list(a.note)
    config = {"upstream": {"repository": REPO_URL, "path": str(up), "commit_expected": COMMIT},
              "shims": str(a.shims) if a.shims else None}  # fmt: skip
    if not a.skip_eval:
        theirs, ours, opt, layout = twin_models(dv, dq)
        g = torch.Generator().manual_seed(0)
        lengths = _lengths(nv, mean, "realistic", g)
        videos = [torch.nn.functional.normalize(torch.randn(int(n), dv, generator=g), dim=-1) for n in lengths]
        q_len = torch.randint(8, 31, (nq,), generator=g)
        caps = [torch.nn.functional.normalize(torch.randn(int(n), dq, generator=g), dim=-1) for n in q_len]
        vids = [f"v{i}" for i in range(nv)]
        qids = [f"v{i % nv}#enc#{i}" for i in range(nq)]

        class VisDS(torch.utils.data.Dataset):  # returns what the original's VisDataSet4DLDKD returns
            def __len__(self):
                return nv

            def __getitem__(self, i):
                return videos[i], i, vids[i]

        class TxtDS(torch.utils.data.Dataset):  # returns what the original's TxtDataSet4DLDKD returns
            def __len__(self):
                return nq

            def __getitem__(self, i):
                return caps[i], i, qids[i]

        def padded(items, bsz, key_feat, key_mask):
            order = sorted(range(len(items)), key=lambda i: -len(items[i]))
            for s in range(0, len(order), bsz):
                idx = order[s : s + bsz]
                length = max(len(items[i]) for i in idx)
                feats = torch.zeros(len(idx), length, items[idx[0]].shape[-1])
                mask = torch.zeros(len(idx), length)
                for j, i in enumerate(idx):
                    feats[j, : len(items[i])] = items[i]
                    mask[j, : len(items[i])] = 1
                yield {key_feat: feats, key_mask: mask, "idxs": idx}

        out: dict = {}

        def run_ours() -> None:
            ours.eval()
            with torch.no_grad():
                res = evaluate_model(ours, padded(videos, 200, "frame_videos", "videos_mask"),
                                     padded(caps, 50, "target", "words_mask"), video_ids=vids, query_ids=qids,
                                     keep_scores=False, device=device)  # fmt: skip
            out["ours_sumr"] = res.metrics["fused"]["sumr"]

        def run_upstream() -> None:
            with torch.no_grad():
                out["upstream_sumr"] = up_eval.eval_epoch(theirs, VisDS(), TxtDS(), opt)

        import logging

        logging.getLogger().setLevel(logging.WARNING)  # the original logs every R@K at INFO
        ev = _bench.measure_interleaved({"ours_eval": run_ours, "upstream_eval": run_upstream}, device,
                                        unit=f"full evaluation ({size})", warmup=warmup, repeats=repeats)  # fmt: skip
        ev[0]["metrics"].update(fused_sumr=round(out["ours_sumr"], 3), queries=nq, videos=nv,
                                total_frames=int(lengths.sum()))  # fmt: skip
        ev[1]["metrics"].update(fused_sumr=round(float(out["upstream_sumr"]), 3))
        if abs(out["ours_sumr"] - float(out["upstream_sumr"])) > 0.5:
            notes.append(f"fused SumR differs: ours {out['ours_sumr']:.3f}, original {out['upstream_sumr']:.3f}")
        rows += ev
        _bench.print_rows(ev)
        config["eval"] = {"size": size, "queries": nq, "videos": nv, "Dv": dv, "Dq": dq, "weights_layout": layout,
                          "batches": {"videos": 200, "captions": 50}}  # fmt: skip
        del theirs, ours, videos, caps
    if not a.skip_train:
        _, _, tdv, tdq, tmean = SIZES["tvr"]
        b = a.batch or (16 if a.quick else 128)
        theirs, ours, _, _ = twin_models(tdv, tdq)
        theirs.train()
        ours.train()
        g = torch.Generator().manual_seed(1)
        lengths = _lengths(b, tmean, "realistic", g)
        length = int(lengths.max())
        vm = (torch.arange(length)[None] < lengths[:, None]).float()
        v = torch.randn(b, length, tdv, generator=g) * vm[..., None]
        ncap = b * 5
        tm = (torch.arange(30)[None] < torch.randint(8, 31, (ncap,), generator=g)[:, None]).float()
        t = torch.randn(ncap, 30, tdq, generator=g) * tm[..., None]
        labels = torch.arange(b).repeat_interleave(5)
        tt, tv = torch.randn(ncap, 512, generator=g), torch.randn(b, length, 512, generator=g) * vm[..., None]
        v, vm, t, tm, labels, tt, tv = (x.to(device) for x in (v, vm, t, tm, labels, tt, tv))
        up_batch = {"student_videos": v, "student_videos_mask": vm, "student_text": t, "student_text_mask": tm,
                    "teacher_text": tt, "teacher_videos": tv, "text_labels": labels.tolist()}  # fmt: skip
        crit = DLDKDLoss(margin=0.1, hard_pool_size=20)
        opt_up = build_optimizer(theirs.named_parameters(), lr=2.5e-4, warmup=0.01, t_total=1000)
        opt_ours = build_optimizer(ours.named_parameters(), lr=2.5e-4, warmup=0.01, t_total=1000)

        def step_upstream() -> None:
            loss, _ = theirs(up_batch)
            loss.backward()
            opt_up.step()
            opt_up.zero_grad(set_to_none=True)

        def step_ours() -> None:
            o = crit(ours(v, vm, t, tm), videos_mask=vm, labels=labels, teacher_text=tt, teacher_video=tv,
                     kd_coefficient=0.1)  # fmt: skip
            o["loss_overall"].backward()
            opt_ours.step()
            opt_ours.zero_grad(set_to_none=True)

        tr = _bench.measure_interleaved({"ours_train_step": step_ours, "upstream_train_step": step_upstream}, device,
                                        unit=f"train step ({b} videos, {ncap} captions)", warmup=1,
                                        repeats=_bench.pick(a.repeats, a.quick, 2, 5))  # fmt: skip
        rows += tr
        _bench.print_rows(tr)
        config["train_step"] = {"videos": b, "captions": ncap, "padded_frames": length, "dims": "TVR (3072 / 768)",
                                "optimizer": "dldkd.runner.build_optimizer (BertAdam) on both sides"}  # fmt: skip
    for r in rows:
        if r["name"].startswith("ours"):
            other = next((x for x in rows if x["name"] == r["name"].replace("ours", "upstream")), None)
            if other:
                print(f"{r['name'].replace('ours_', '')}: original / ours = {other['median_s'] / r['median_s']:.2f}x")
    _bench.write_doc(a.out, benchmark="dldkd_vs_upstream", script=__file__, device=device, quick=a.quick,
                     config=config, results=rows, notes=notes)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
