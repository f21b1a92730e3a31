"""KICLIP's training loss as named terms over the core losses.

``loss = CE(pred, y) + ratio * (cos_dist(f', g) + cos_dist(W', W_T)) [+ aux_w * CE(res_clf, y)]``

* ``CE`` is pytorchvideo's soft-target cross-entropy on one-hot labels (equal to plain CE);
* the cosine distances are ``1 - mean cos`` per frame (image) and per class (text), eps 1e-8;
* the aux CE weight is 0 in the released scripts (1.0 at an older upstream commit and in the paper
  figure).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from videokd.losses import cosine_distance_loss, soft_target_cross_entropy

__all__ = ["kiclip_loss"]


def kiclip_loss(
    out: Mapping[str, torch.Tensor],
    labels: torch.Tensor,
    *,
    distillation_ratio: float = 2.0,
    aux_ce_weight: float = 0.0,
    eps: float = 1e-8,
) -> dict[str, torch.Tensor]:
    """Named terms and their total under ``"loss"`` from a training forward of :class:`~kiclip.model.KICLIP`."""
    terms = {"cls": soft_target_cross_entropy(out["pred"], labels)}
    total = terms["cls"]
    if "img_encode_proj" in out:
        terms["img_distill"] = cosine_distance_loss(out["img_encode_proj"], out["raw_img_encode"], eps=eps)
        terms["txt_distill"] = cosine_distance_loss(out["text_classifier_proj"], out["raw_text_classifier"], eps=eps)
        total = total + distillation_ratio * (terms["img_distill"] + terms["txt_distill"])
    if aux_ce_weight and "res_clf" in out:
        terms["aux_ce"] = soft_target_cross_entropy(out["res_clf"], labels)
        total = total + aux_ce_weight * terms["aux_ce"]
    terms["loss"] = total
    return terms
