"""Frozen-feature evaluation with a linear SVM (XKD's "Lin." protocol).

scikit-learn is an optional dependency (``videokd-core[svm]``), imported only inside
:func:`linear_svm_probe`.

Protocol (XKD ``eval_svm_*``): each training *clip* is one SVM sample; for every C a
``LinearSVC(C, max_iter, random_state)`` is fitted; a test video's score is the **mean of the
decision functions** over its clips; top-1 accuracy per C. XKD reports the best C **on the test
set** (``best_c``/``best_top1``); that is model selection on test, kept for parity and labelled.
Features are used as given (XKD does not normalise), or L2-normalised per clip with
``l2_normalize=True`` (XKD's Kinetics-Sound audio-visual setting).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["linear_svm_probe"]


def _np(x: Any, name: str, ndim: int) -> np.ndarray:
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dim(s), got shape {arr.shape}")
    return arr


def linear_svm_probe(
    train_features,
    train_labels,
    test_features,
    test_labels,
    *,
    test_video_index=None,
    cs: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0),
    max_iter: int = 1000,
    seed: int = 0,
    l2_normalize: bool = False,
) -> dict[str, Any]:
    """Fit one ``LinearSVC`` per C on clip features and score test videos.

    Args:
        train_features: ``(N_train, D)`` one row per training clip. train_labels: ``(N_train,)``.
        test_features: ``(N_test, D)`` one row per test clip.
        test_labels: ``(V,)`` per test video when ``test_video_index`` is given, else ``(N_test,)``.
        test_video_index: ``(N_test,)`` int video of each test clip (decision functions averaged
            per video); None = each test row is its own video.
        cs: the C grid (XKD video: 1e-3..1; audio: 1e-5..1).
        l2_normalize: L2-normalise every feature row first.

    Returns ``{"top1": {C: percent}, "best_c": C, "best_top1": percent}``.
    """
    try:
        from sklearn.svm import LinearSVC
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("linear_svm_probe needs scikit-learn: pip install 'videokd-core[svm]'") from err

    x_tr = _np(train_features, "train_features", 2).astype(np.float64, copy=False)
    y_tr = _np(train_labels, "train_labels", 1)
    x_te = _np(test_features, "test_features", 2).astype(np.float64, copy=False)
    y_te = _np(test_labels, "test_labels", 1)
    if x_tr.shape[0] != y_tr.shape[0]:
        raise ValueError(f"train_features has {x_tr.shape[0]} rows but train_labels {y_tr.shape[0]}")
    if x_tr.shape[1] != x_te.shape[1]:
        raise ValueError(f"train features are {x_tr.shape[1]}-d but test features {x_te.shape[1]}-d")
    if test_video_index is None:
        video = np.arange(x_te.shape[0])
    else:
        video = _np(test_video_index, "test_video_index", 1).astype(np.int64)
        if video.shape[0] != x_te.shape[0]:
            raise ValueError(f"test_video_index has {video.shape[0]} entries for {x_te.shape[0]} test rows")
    n_videos = int(video.max()) + 1 if video.size else 0
    if y_te.shape[0] != n_videos:
        raise ValueError(f"test_labels has {y_te.shape[0]} entries for {n_videos} test videos")
    if l2_normalize:
        x_tr = x_tr / np.maximum(np.linalg.norm(x_tr, axis=1, keepdims=True), 1e-12)
        x_te = x_te / np.maximum(np.linalg.norm(x_te, axis=1, keepdims=True), 1e-12)
    counts = np.bincount(video, minlength=n_videos).astype(np.float64)

    top1: dict[float, float] = {}
    for c in cs:
        svm = LinearSVC(C=c, max_iter=max_iter, random_state=seed)
        svm.fit(x_tr, y_tr)
        dec = svm.decision_function(x_te)
        if dec.ndim == 1:  # binary problem: one column, positive = classes_[1]
            dec = np.stack([-dec, dec], axis=1)
        per_video = np.zeros((n_videos, dec.shape[1]))
        np.add.at(per_video, video, dec)
        per_video /= np.maximum(counts, 1)[:, None]
        pred = svm.classes_[per_video.argmax(1)]
        top1[c] = float(100.0 * np.mean(pred == y_te))
    best_c = max(top1, key=lambda c: top1[c])
    return {"top1": top1, "best_c": best_c, "best_top1": top1[best_c]}
