"""Parity of the generic data functions (samplers, transforms, audio front end) with the
"transform"-kind fixtures of every package.

Fixtures are discovered with ``fixture_files(pkg, missing_ok=True)`` and dispatched on their name through
``CHECKS``; every size and hyper-parameter is read from the fixture, so the held-out set (other
sizes / seeds) runs through the same code. Fixtures that need package glue (annotation json
walking, CLI option parsing) are tested on the generic part the core provides; the rest of the
glue belongs to the package.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from videokd.data import samplers as S
from videokd.data.features import l2_normalize_rows, uniform_feature_sampling
from videokd.testing import assert_matches, fixture_files, load_fixture

CHECKS: dict[tuple[str, str], Callable[[dict], None]] = {}


def check(pkg: str, name: str):
    def register(fn):
        CHECKS[(pkg, name)] = fn
        return fn

    return register


def _params():
    out = []
    for pkg in sorted({p for p, _ in CHECKS}):
        for path in fixture_files(pkg, missing_ok=True):
            if (pkg, path.stem) in CHECKS:
                out.append(pytest.param(pkg, path, id=f"{pkg}/{path.stem}"))
    return out


def _plain(x):
    """numpy results -> lists / tensors, the types assert_matches compares against."""
    if isinstance(x, np.ndarray):
        return x.tolist()
    return x


def _exact(got, expected, context: str = "") -> None:
    assert_matches(_plain(got), expected, atol=0, rtol=0, context=context)


def _tol(fx: dict) -> dict:
    return {"atol": float(fx.get("atol") or 0.0), "rtol": float(fx.get("rtol") or 0.0)}


def pytest_generate_tests(metafunc):
    # parametrised at collection time, after every @check below has registered
    if "fixture_path" in metafunc.fixturenames:
        metafunc.parametrize("pkg,fixture_path", _params())


def test_parity_data(pkg: str, fixture_path: Path):
    path = fixture_path
    fx = load_fixture(path)
    assert fx["name"] == path.stem
    CHECKS[(pkg, path.stem)](fx)


def test_parity_fixtures_are_found():
    """Guard against a silently empty parametrisation (wrong PARITY_ROOT)."""
    assert _params(), "no data fixtures found: set PARITY_ROOT"


# ============================================================================ tdsclip samplers
def _bias(fx: dict) -> int:
    return int(fx["config"].get("index_bias", 1))


@check("tdsclip", "sth_train_sampling")
def _sth_train(fx):
    t, length, bias = fx["config"]["data.num_segments"], fx["config"]["data.num_diff"], _bias(fx)
    for video in fx["outputs"]["videos"]:
        n = video["num_frames"]
        centres = S.tsn_train_indices(n, t, rng=np.random.RandomState(video["numpy_seed"]))
        _exact(centres + bias, video["centres"], f"N={n}")
        windows = S.frame_windows(centres, n, length)
        _exact(windows + bias, video["windows"], f"N={n} windows")
        assert video["short_video_path"] == (n <= t)
        # the support of every segment: many draws stay inside the observed bounds and hit them
        rng = np.random.RandomState(1)
        draws = np.stack([S.tsn_train_indices(n, t, rng=rng) for _ in range(400)]) + bias
        assert (draws.min(0) >= video["observed_min_centre"]).all()
        assert (draws.max(0) <= video["observed_max_centre"]).all()


@check("tdsclip", "sth_test_sampling")
def _sth_test(fx):
    cfg = fx["config"]
    t, length, clips, bias = cfg["data.num_segments"], cfg["data.num_diff"], cfg["test_clips"], _bias(fx)
    assert not cfg["dense"]
    for video in fx["outputs"]["videos"]:
        n = video["num_frames"]
        test = S.tsn_test_indices(n, t, clips)
        _exact(test + bias, video["test_centres"], f"N={n} test")
        _exact(S.frame_windows(test, n, length) + bias, video["test_windows"])
        if video["val_windows"] is None:  # dropped by the list-file filter, not by the sampler
            assert n < cfg["val_min_frames_filter"]
            continue
        val = S.tsn_val_indices(n, t)
        _exact(val + bias, video["val_centres"], f"N={n} val")
        _exact(S.frame_windows(val, n, length) + bias, video["val_windows"])


@check("tdsclip", "k400_sampling")
def _k400(fx):
    cfg = fx["config"]
    t, length, clips, bias = cfg["data.num_segments"], cfg["data.num_diff"], cfg["test_clips"], _bias(fx)
    for video in fx["outputs"]["videos"]:
        n = video["num_frames"]
        centres = S.segment_inclusive_train_indices(n, t, rng=random.Random(video["train_python_seed"]))
        _exact(centres + bias, video["train_centres"], f"N={n} train")
        _exact(S.frame_windows(centres, n, length) + bias, video["train_windows"])
        rng = random.Random(0)
        draws = np.stack([S.segment_inclusive_train_indices(n, t, rng=rng) for _ in range(400)]) + bias
        assert (draws.min(0) >= video["train_observed_min_centre"]).all()
        assert (draws.max(0) <= video["train_observed_max_centre"]).all()
        val = S.uniform_indices(n, t)
        _exact(S.frame_windows(val, n, length) + bias, video["val_windows"])
        if video["test_windows"] is None:
            assert n < t
            with pytest.raises(ValueError, match="num_frames >= num_segments"):
                S.uniform_multiclip_indices(n, t, clips)
            continue
        test = S.uniform_multiclip_indices(n, t, clips)
        _exact(S.frame_windows(test, n, length) + bias, video["test_windows"])
        _exact(
            S.frame_windows(test, n, length, wrap=True) + bias,
            video["test_windows_video_modality"],
            f"N={n} decord wrap",
        )


# ============================================================================ kiclip samplers
@check("kiclip", "temporal_sampling")
def _kiclip_temporal(fx):
    cfg = fx["config"]
    assert cfg["DATA.USE_OFFSET_SAMPLING"]
    for case, exp in zip(fx["inputs"]["cases"], fx["outputs"]["cases"]):
        num, den = (case["fps"].split("/") + ["1"])[:2]
        fps = float(num) / float(den)
        seed = case["python_random_seed"]
        idx, start, end = S.slowfast_clip_indices(
            case["num_frames_in_video"],
            fps,
            sampling_rate=cfg["DATA.SAMPLING_RATE"],
            clip_frames=cfg["DATA.NUM_FRAMES"],
            target_fps=cfg["DATA.TARGET_FPS"],
            clip_idx=case["clip_idx"],
            num_clips=cfg["TEST.NUM_ENSEMBLE_VIEWS"],
            duration_known=case["duration_known"],
            pts_per_frame=case["pts_per_frame"],
            rng=random.Random(seed) if seed is not None else None,
        )
        _exact(idx, exp["source_frame_indices"], str(case))
        got = torch.tensor([[start, end, 0.0]], dtype=torch.float64)
        assert_matches(got, exp["start_end_delta"], atol=1e-9, rtol=0, context=str(case))


# ============================================================================ dldkd
@check("dldkd", "transform_uniform_sampling")
def _dldkd_uniform(fx):
    eps = fx["config"]["l2_eps"]
    for feat, m, exp, exp_l2 in zip(
        fx["inputs"]["features"], fx["inputs"]["max_len"], fx["outputs"]["sampled"], fx["outputs"]["sampled_l2"]
    ):
        got = uniform_feature_sampling(feat.numpy(), int(m))
        assert got.dtype == feat.numpy().dtype
        assert_matches(torch.from_numpy(np.ascontiguousarray(got)), exp, **_tol(fx), context=f"n={feat.shape[0]} M={m}")
        assert_matches(torch.from_numpy(l2_normalize_rows(got, eps)), exp_l2, **_tol(fx))


# ============================================================================ kd2d3d temporal
@check("kd2d3d", "temporal_transforms")
def _kd2d3d_temporal(fx):
    for case, exp in zip(fx["inputs"]["cases"], fx["outputs"]["cases"]):
        idx, size, n = case["frame_indices"], case["size"], case["n_frames"]
        ctx = f"n={n} T={size}"
        original = list(idx)
        assert S.loop_pad(idx, size).tolist() == exp["loop_padding"], ctx
        assert list(idx) == original  # never mutates (the lineage does: exp["loop_padding_mutates_input"])
        assert S.temporal_begin_crop(idx, size).tolist() == exp["begin_crop"], ctx
        assert S.temporal_center_crop(idx, size).tolist() == exp["center_crop"], ctx
        assert list(S.temporal_random_crop_bounds(n, size)) == exp["random_crop_randint_bounds"], ctx
        for begin, want in enumerate(exp["random_crop_by_begin_index"]):
            assert S.temporal_random_crop(idx, size, begin=begin).tolist() == want, f"{ctx} begin={begin}"


@check("kd2d3d", "clip_sampling")
def _kd2d3d_clips(fx):
    """The clip lists per video (the json walking and folder checks are kd2d3d glue)."""
    for dataset in ("ucf101", "kinetics"):
        for key, table in fx["outputs"][dataset].items():
            t_str, _, n_str = key.split("_")[0], key.split("_")[1], key.split("_")[-1]
            t, n_samples = int(t_str[1:]), int(n_str[1:])
            by_video: dict[str, list] = {}
            for sample in table["samples"]:
                by_video.setdefault(sample["video"], []).append(sample)
            for video, samples in by_video.items():
                n = samples[0]["n_frames"]
                want = [s["frame_indices"] for s in samples]
                got = [c.tolist() for c in S.clip_index_lists(n, t, n_samples)]
                assert got == want, f"{dataset} {key} {video} n={n}"
                assert all(s["segment"] == [1, n] for s in samples)


@check("kd2d3d", "activitynet_clip_sampling")
def _kd2d3d_anet(fx):
    """Clip lists inside each timed segment ``[s0, s1)``: starts from s0 while < s1, clips run on
    past the segment end up to the last image on disk. (Cutting at the first missing image,
    dropping lists shorter than 16 and the training lists are kd2d3d glue.)"""
    images = fx["inputs"]["images_per_video"]
    for key, table in fx["outputs"]["datasets"].items():
        t = int(key.split("_")[0][1:])
        n_samples = int(key.split("_")[-1][1:])
        if n_samples == 1:
            continue
        groups: dict[tuple, list] = {}
        for sample in table["samples"]:
            groups.setdefault((sample["video"], tuple(sample["segment"])), []).append(sample)
        for (video, (s0, s1)), samples in groups.items():
            n_images = images[video.rsplit("/v_", 1)[1]]
            lists = S.clip_index_lists(s1 - s0, t, n_samples, begin=s0, end=s1, last_frame=n_images)
            got = [c.tolist() for c in lists if len(c) >= 16]
            _exact(got, [s["frame_indices"] for s in samples], f"{key} {video} {s0}-{s1}")


# ============================================================================ transforms
from videokd.data import transforms as TF  # noqa: E402


@check("kiclip", "spatial_transform")
def _kiclip_spatial(fx):
    cfg = fx["config"]
    mean, std = cfg["DATA.MEAN"], cfg["DATA.STD"]
    lo, hi = cfg["DATA.TRAIN_JITTER_SCALES"]
    assert cfg["TEST.NUM_SPATIAL_CROPS"] == 1 and not cfg["DATA.INV_UNIFORM_SAMPLE"]
    for case, exp in zip(fx["inputs"]["cases"], fx["outputs"]["cases"]):
        clip = TF.uint8_thwc_to_cthw(case["frames_uint8"], mean, std)  # (3, T, H, W)
        test = TF.center_crop(TF.resize_short_side(clip, lo), cfg["DATA.TEST_CROP_SIZE"], rounding="ceil")
        assert_matches(test, exp["test_clip"], **_tol(fx), context="test clip")
        for train in exp["train"]:
            rng = np.random.RandomState(train["numpy_seed"])
            x, size = TF.random_short_side_scale_jitter(clip, lo, hi, rng=rng)
            assert size == train["scale_size"] and list(x.shape[-2:]) == train["resized_hw"]
            x, y_off, x_off = TF.random_crop(x, cfg["DATA.TRAIN_CROP_SIZE"], rng=rng)
            assert (y_off, x_off) == (train["y_offset"], train["x_offset"])
            x, flipped, _ = TF.random_hflip(x, 0.5 if cfg["DATA.RANDOM_FLIP"] else 0.0, rng=rng)
            assert flipped == train["flipped"]
            assert_matches(x, train["clip"], **_tol(fx), context=f"train seed {train['numpy_seed']}")


@check("tdsclip", "test_crop_geometry")
def _tds_crops(fx):
    for case, exp in zip(fx["inputs"]["cases"], fx["outputs"]["cases"]):
        s, (w, h) = case["input_size"], case["frame_wh"]
        if case["dataset"].startswith("something"):
            # package glue: SS resizes to a fixed 320x256 whatever the aspect
            rh, rw = exp["scale_size"]
        else:
            target = 256 if s == 224 else s
            assert exp["scale_size"] == target
            rh, rw = (h, w) if min(h, w) == target else TF.short_side_size(h, w, target, order="product")
        assert [rw, rh] == exp["resized_wh"], case
        for n, want in exp["crops"].items():
            boxes, flips = TF.oversample_boxes(rw, rh, s, int(n))
            _exact(boxes, want["boxes"], f"{case} {n} crops")
            _exact(flips, want["flipped"], f"{case} {n} flips")
    # the boxes cut the right pixels out of a real tensor
    img = torch.arange(7 * 9, dtype=torch.float32).reshape(1, 7, 9)
    (box,), _ = TF.oversample_boxes(9, 7, 5, 1)
    assert torch.equal(TF.crop_box(img, box), img[:, 1:6, 2:7])


@check("tdsclip", "sth_flip_label_swap")
def _tds_flip(fx):
    labels = fx["inputs"]["labels"]
    out = fx["outputs"]
    _exact([list(p) for p in TF.SSV2_FLIP_PAIRS], out["swap_pairs"])
    _exact([TF.flip_label(l, out["swap_pairs"]) for l in labels], out["labels_if_flipped"])
    _exact([TF.flip_label(l, TF.SSV2_FLIP_PAIRS) for l in labels], out["labels_if_flipped"])
    _exact([TF.flip_label(l, ()) for l in labels], out["k400_labels_if_flipped"])
    video = torch.arange(2 * 3 * 2 * 4, dtype=torch.float32).reshape(2, 3, 2, 4)
    rng = random.Random(0)
    flips = 0
    for _ in range(2000):
        got, flipped, label = TF.random_hflip(
            video, fx["config"]["flip_prob"], rng=rng, label=86, swap_pairs=TF.SSV2_FLIP_PAIRS
        )
        flips += flipped
        assert label == (87 if flipped else 86)
        assert torch.equal(got, video.flip(-1) if flipped else video)
    assert abs(flips / 2000 - out["observed_flip_rate_2000"]) < 0.05


@check("kd2d3d", "spatial_crops")
def _kd2d3d_crops(fx):
    inp, out = fx["inputs"], fx["outputs"]
    scales = TF.multiscale_scales(fx["config"]["initial_scale"], fx["config"]["n_scales"], fx["config"]["scale_step"])
    assert_matches(scales, fx["config"]["scales"], atol=1e-12, rtol=0)
    for case, exp in zip(inp["multiscale_corner_crop"], out["multiscale_corner_crop"]):
        assert scales[case["scale_index"]] == case["scale"]
        box = TF.multiscale_corner_box(*case["image_wh"], case["scale"], case["crop_position"])
        _exact(box, exp["effective_box"], str(case))
        _exact(box, exp["crop_box"], str(case))
        _exact([case["size"], case["size"]], exp["output_wh"])
    for case, exp in zip(inp["multiscale_random_crop"], out["multiscale_random_crop"]):
        box, eff = TF.multiscale_random_box(*case["image_wh"], case["scale"], case["tl_x"], case["tl_y"])
        assert_matches(box, exp["crop_box"], atol=1e-9, rtol=0, context=str(case))
        _exact(eff, exp["effective_box"], str(case))
    for key in ("corner_crop",):
        for case, exp in zip(inp[key], out[key]):
            _exact(
                TF.corner_box(*case["image_wh"], case["size"], case["crop_position"]), exp["effective_box"], str(case)
            )
    for case, exp in zip(inp["center_crop"], out["center_crop"]):
        _exact(TF.corner_box(*case["image_wh"], case["size"], "c"), exp["effective_box"], str(case))
    for case, exp in zip(inp["scale"], out["scale"]):
        w, h = case["image_wh"]
        unchanged = min(w, h) == case["size"]
        assert unchanged == exp["unchanged"]
        rh, rw = (h, w) if unchanged else TF.short_side_size(h, w, case["size"], order="product")
        _exact([rw, rh], exp["output_wh"], str(case))
    for p, flipped in zip(inp["hflip_p"], out["hflip_flipped"]):
        # the lineage flips iff its per-clip draw p < 0.5; a constant RNG replays that draw
        class Fixed(random.Random):
            def random(self):  # noqa: D401 - uniform(0, 1) == random()
                return p

        _, got, _ = TF.random_hflip(torch.zeros(1, 1, 2), 0.5, rng=Fixed())
        assert got == flipped, p


@check("kd2d3d", "normalization")
def _kd2d3d_norm(fx):
    import argparse

    out = fx["outputs"]
    for key, want in out["get_mean"].items():
        dataset, nv = key.split("/norm_value=")
        assert_matches(TF.resnet3d_mean(dataset, float(nv)), want, atol=1e-12, rtol=0, context=key)
    for key, want in out["get_std"].items():
        assert_matches(TF.resnet3d_std(float(key.split("=")[1])), want, atol=1e-12, rtol=0, context=key)
    assert_matches(TF.resnet3d_mean(), out["function_defaults"]["get_mean()"], atol=1e-12, rtol=0)
    assert_matches(TF.resnet3d_std(), out["function_defaults"]["get_std()"], atol=1e-12, rtol=0)
    # the main script's four options (package glue, reproduced with the lineage defaults)
    parser = argparse.ArgumentParser()
    parser.add_argument("--mean_dataset", default="activitynet")
    parser.add_argument("--norm_value", type=int, default=1)
    parser.add_argument("--no_mean_norm", action="store_true")
    parser.add_argument("--std_norm", action="store_true")
    frame = fx["inputs"]["frame_uint8_HWC"]
    for name, argv in fx["inputs"]["cases"].items():
        opt = parser.parse_args(argv)
        mean, std = TF.resnet3d_norm(
            mean_dataset=opt.mean_dataset,
            norm_value=opt.norm_value,
            no_mean_norm=opt.no_mean_norm,
            std_norm=opt.std_norm,
        )
        exp = out["cases"][name]
        assert_matches(mean, exp["mean"], **_tol(fx), context=name)
        assert_matches(std, exp["std"], **_tol(fx), context=name)
        tensor = TF.to_float(frame.permute(2, 0, 1), opt.norm_value)
        assert_matches(tensor, exp["to_tensor"], **_tol(fx), context=name)
        assert_matches(TF.normalize(tensor, mean, std, channel_dim=0), exp["normalized"], **_tol(fx), context=name)


@check("xkd", "transform_video_eval_3crop")
def _xkd_3crop(fx):
    cfg = fx["config"]
    crop, mean, std = cfg["dataset.crop_size"], cfg["mean"], cfg["std"]
    frames = fx["inputs"]["frames_uint8_THWC"]
    t, h, w, _ = frames.shape
    # strong3crop: PIL short side -> int(crop/0.875), centre crop, normalise, 3 identical crops
    short = int(crop / 0.875)
    rh, rw = TF.short_side_size(h, w, short, order="product")
    x = TF.resize_frames_pil(frames, (rh, rw), resample="bilinear")
    x = TF.uint8_thwc_to_cthw(x, mean, std)
    x = TF.center_crop(x, crop, rounding="round")
    x = TF.resize_short_side(x, crop)
    assert_matches(TF.three_crop(x, crop), fx["outputs"]["strong3crop"], **_tol(fx), context="strong3crop")
    # randaug3crop: normalise at full size, bilinear short side -> crop, start/centre/end crops
    y = TF.resize_short_side(TF.uint8_thwc_to_cthw(frames, mean, std), crop)
    assert_matches(TF.three_crop(y, crop), fx["outputs"]["randaug3crop"], **_tol(fx), context="randaug3crop")


# ============================================================================ audio (xkd)
from videokd.data import audio as A  # noqa: E402
from videokd.testing import prefix_tolerance  # noqa: E402


def _xkd_tol(fx):
    return prefix_tolerance(fx.get("tolerance_overrides"), (float(fx["atol"]), float(fx["rtol"])), sep="/")


@check("xkd", "audio_logmel")
def _xkd_logmel(fx):
    cfg, inp, out = fx["config"], fx["inputs"], fx["outputs"]
    rate = cfg["dataset.audio_fps"]
    assert inp["sample_rate"] == rate and cfg["stft.window"] == "hann" and cfg["stft.center"]
    tol = _xkd_tol(fx)
    prepared = A.prepare_waveform(inp["waveform"], int(round(cfg["dataset.audio_clip_duration"] * rate)))
    assert_matches(
        prepared, out["prepared_waveform"], atol=0, rtol=0, path=("outputs", "prepared_waveform"), tolerance=tol
    )
    common = dict(
        sample_rate=rate,
        n_fft=cfg["dataset.n_fft"],
        hop_length=cfg["dataset.hop_length"],
        n_mels=cfg["dataset.n_mels"],
        f_min=cfg["f_min"],
        f_max=cfg["f_max"],
        mean=cfg["mean"] if cfg["normalize"] else None,
        std=cfg["std"] if cfg["normalize"] else None,
    )
    reflect, constant = A.LogMel(**common, pad_mode="reflect"), A.LogMel(**common, pad_mode="constant")
    assert_matches(
        reflect.fbank, out["mel_filterbank"], atol=0, rtol=0, path=("outputs", "mel_filterbank"), tolerance=tol
    )
    assert_matches(
        reflect.mel_power(prepared[0]), out["mel_power"], atol=0, rtol=0, path=("outputs", "mel_power"), tolerance=tol
    )
    local = prepared[:, inp["local_start"] : inp["local_start"] + inp["local_length"]]
    for key, fn, wave in [
        ("logmel", reflect, prepared),
        ("logmel_local", reflect, local),
        ("logmel_constant_pad", constant, prepared),
        ("logmel_local_constant_pad", constant, local),
    ]:
        assert_matches(fn(wave), out[key], atol=0, rtol=0, path=("outputs", key), tolerance=tol, context=key)


@check("xkd", "audio_random_resize_crop")
def _xkd_rrc(fx):
    cfg = fx["config"]
    lms = fx["inputs"]["lms"]
    f, t = lms.shape[-2:]
    vf, vt = cfg["dataset.train.aud_aug_kwargs.local.virtual_crop_scale"]
    canvas = (int(f * vf), int(t * vt))
    assert list(canvas) == list(cfg["canvas_size"])
    for k, (box, want) in enumerate(zip(fx["inputs"]["boxes"], fx["outputs"]["outputs"])):
        got = A.spectrogram_resize_crop(lms, box, canvas)
        assert_matches(got, want, **_tol(fx), context=f"box {k} {box}")
    # the sampler draws boxes inside the ranges the fixture's boxes come from
    rng = random.Random(0)
    for _ in range(200):
        (i, j, h, w), cv = A.spectrogram_resize_crop_box(
            f,
            t,
            virtual_crop_scale=(vf, vt),
            freq_scale=cfg["dataset.train.aud_aug_kwargs.local.freq_scale"],
            time_scale=cfg["dataset.train.aud_aug_kwargs.local.time_scale"],
            rng=rng,
        )
        assert tuple(cv) == canvas and 1 <= h <= canvas[0] and 1 <= w <= canvas[1]
        assert 0 <= i <= canvas[0] - h and 0 <= j <= canvas[1] - w


@check("kd2d3d", "dataset_getitem")
def _kd2d3d_getitem(fx):
    """The 3D-ResNets clip pipeline composed from core pieces: clip lists + loop padding, PIL
    multi-scale corner crop / short-side scale / corner crop, flip, /norm_value, mean/std."""
    cfg, inp, out = fx["config"], fx["inputs"], fx["outputs"]
    s, t = cfg["sample_size"], cfg["sample_duration"]
    frames = inp["frames"]
    labels = {vid: inp["labels"].index(vid.split("_")[1]) for vid in inp["video_ids"]}

    def pil_crop_resize(clip, box, size):  # clip uint8 (T, H, W, 3) -> (T, size, size, 3)
        cut = TF.crop_box(clip.permute(0, 3, 1, 2), box).permute(0, 2, 3, 1)
        return TF.resize_frames_pil(cut, (size, size), resample="bilinear")

    def finish(clip, norm_value, mean, std):  # uint8 (T, H, W, 3) -> float (3, T, H, W)
        x = TF.to_float(clip.permute(3, 0, 1, 2), norm_value)
        return TF.normalize(x, mean, std, channel_dim=0)

    def scale(clip, size):
        h, w = clip.shape[1:3]
        if min(h, w) == size:
            return clip
        return TF.resize_frames_pil(clip, TF.short_side_size(h, w, size, order="product"))

    # training: the recorded random choices, one video per item
    train_mean, _ = TF.resnet3d_norm(**{k: cfg["train"][k] for k in ("mean_dataset", "norm_value", "std_norm")})
    assert_matches(train_mean, cfg["mean_train"], atol=1e-12, rtol=0)
    for item in out["train"]:
        vid = inp["video_ids"][item["index"]]
        clip = frames[vid][torch.tensor(item["frame_indices"]) - 1]
        assert TF.multiscale_scales()[item["scale_index"]] == item["scale"] == cfg["scales"][item["scale_index"]]
        if "crop_position" in item:  # train_crop corner / center
            box = TF.multiscale_corner_box(clip.shape[2], clip.shape[1], item["scale"], item["crop_position"])
        else:  # train_crop random: the two recorded uniform draws
            _, box = TF.multiscale_random_box(clip.shape[2], clip.shape[1], item["scale"], item["tl_x"], item["tl_y"])
        clip = pil_crop_resize(clip, box, s)
        assert item["flipped"] == (item["flip_p"] < 0.5)
        if item["flipped"]:
            clip = clip.flip(2)
        got = finish(clip, cfg["train"]["norm_value"], train_mean, [1.0, 1.0, 1.0])
        assert_matches(got, item["clip"], **_tol(fx), context=f"train item {item['index']}")
        assert item["target"] == labels[vid]
    # validation / test: the clip lists of every video, in order, loop-padded
    val_mean, val_std = TF.resnet3d_norm(**cfg["val"])
    assert_matches([val_mean, val_std], [cfg["mean_val"], cfg["std_val"]], atol=1e-12, rtol=0)
    test_mean, test_std = TF.resnet3d_norm(**cfg["test"])
    for phase, n_samples in (("val", cfg["n_val_samples"]), ("test", 0)):
        samples = [
            (vid, S.loop_pad(c, t))
            for vid, n in zip(inp["video_ids"], inp["n_frames"])
            for c in S.clip_index_lists(n, t, n_samples)
        ]
        assert len(samples) == len(out[phase])
        for item in out[phase]:
            vid, idx = samples[item["index"]]
            _exact(idx, item["frame_indices"], f"{phase} {item['index']}")
            clip = frames[vid][torch.from_numpy(idx) - 1]
            if phase == "val":
                clip = scale(clip, s)
                clip = TF.crop_box(clip.permute(0, 3, 1, 2), TF.corner_box(clip.shape[2], clip.shape[1], s, "c"))
                got = finish(clip.permute(0, 2, 3, 1), cfg["val"]["norm_value"], val_mean, val_std)
                assert item["target"] == labels[vid]
            else:
                clip = scale(clip, cfg["test_resize_short_side"])
                assert cfg["test_resize_short_side"] == int(s / cfg["scale_in_test"])
                box = TF.corner_box(clip.shape[2], clip.shape[1], s, cfg["crop_position_in_test"])
                clip = TF.crop_box(clip.permute(0, 3, 1, 2), box).permute(0, 2, 3, 1)
                got = finish(clip, cfg["test"]["norm_value"], test_mean, test_std)
                assert item["target"] == vid
            assert_matches(got, item["clip"], **_tol(fx), context=f"{phase} item {item['index']}")
