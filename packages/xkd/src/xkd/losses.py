"""XKD's loss terms, on the core's implementations (one place to look them up for this paper).

* :func:`reconstruction_loss` - MAE masked MSE with norm-pix targets (unbiased variance, eps 1e-6).
* :func:`alignment_terms` / :func:`alignment_loss` - biased multi-kernel MMD (DomainBed, addmm distances).
* :class:`DINOLoss` / :func:`cross_modal_kd_loss` - DINO-style KD over all view pairs, centre after the loss.
"""

from __future__ import annotations

from videokd.losses import (
    MMD_GAMMAS,
    DINOLoss,
    MMDTerms,
    dino_center_update,
    dino_distillation_loss,
    masked_reconstruction_loss,
    mmd_loss,
    mmd_terms,
    normalize_patch_targets,
    pairwise_sq_dists,
)

__all__ = [
    "MMD_GAMMAS",
    "DINOLoss",
    "MMDTerms",
    "alignment_loss",
    "alignment_terms",
    "cross_modal_kd_loss",
    "dino_center_update",
    "normalize_patch_targets",
    "pairwise_sq_dists",
    "reconstruction_loss",
]

reconstruction_loss = masked_reconstruction_loss
alignment_terms = mmd_terms
alignment_loss = mmd_loss
cross_modal_kd_loss = dino_distillation_loss
