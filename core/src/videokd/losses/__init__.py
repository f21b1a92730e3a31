"""Distillation and training losses used by the five papers, one module per family.

Every function documents its tensor shapes and reduces exactly as the paper's code does.

* :mod:`.kd` - logit KD (KL with optional tau^2), Hinton KD, soft-target CE, label-smoothed CE.
* :mod:`.feature` - cosine-distance feature KD (KICLIP), MSE/L1/smooth-L1, attention transfer.
* :mod:`.contrastive` - InfoNCE (multi-positive, optional temperature), DL-DKD++ soft InfoNCE, CLIP loss.
* :mod:`.ranking` - bidirectional triplet hinge (DL-DKD), hard negatives from the top-k.
* :mod:`.distribution` - DL-DKD frame-level KL distillation.
* :mod:`.alignment` - XKD MMD domain alignment and DINO-style cross-modal KD with centring.
* :mod:`.reconstruction` - MAE masked reconstruction loss (XKD).
* :mod:`.similarity` - masked frame-max query/video scores (PRVR).
* :mod:`.schedules` - per-epoch KD-weight schedules (DL-DKD, DL-DKD++); XKD's teacher temperature
  schedule is :func:`teacher_temperature_schedule`.
"""

from .alignment import (
    MMD_GAMMAS,
    DINOLoss,
    MMDTerms,
    dino_center_update,
    dino_distillation_loss,
    gaussian_kernel,
    mmd_loss,
    mmd_terms,
    pairwise_sq_dists,
    teacher_temperature_schedule,
)
from .contrastive import InfoNCETerms, clip_contrastive_loss, info_nce, info_nce_terms, soft_info_nce
from .distribution import FrameKLTerms, frame_kl_distillation, frame_kl_distillation_terms
from .feature import attention_map, attention_transfer_loss, cosine_distance_loss, feature_matching_loss
from .kd import hinton_kd_loss, kd_kl_div, label_smoothing_cross_entropy, soft_target_cross_entropy
from .ranking import TripletTerms, sample_negative_positions, triplet_ranking_loss, triplet_ranking_terms
from .reconstruction import masked_reconstruction_loss, normalize_patch_targets
from .schedules import RATIO_SCHEDULES, WEIGHT_SCHEDULES, ratio_schedule, weight_schedule
from .similarity import FrameScores, frame_max_scores, frame_scores

__all__ = [
    "MMD_GAMMAS",
    "RATIO_SCHEDULES",
    "WEIGHT_SCHEDULES",
    "DINOLoss",
    "FrameKLTerms",
    "FrameScores",
    "InfoNCETerms",
    "MMDTerms",
    "TripletTerms",
    "attention_map",
    "attention_transfer_loss",
    "clip_contrastive_loss",
    "cosine_distance_loss",
    "dino_center_update",
    "dino_distillation_loss",
    "feature_matching_loss",
    "frame_kl_distillation",
    "frame_kl_distillation_terms",
    "frame_max_scores",
    "frame_scores",
    "gaussian_kernel",
    "hinton_kd_loss",
    "info_nce",
    "info_nce_terms",
    "kd_kl_div",
    "label_smoothing_cross_entropy",
    "masked_reconstruction_loss",
    "mmd_loss",
    "mmd_terms",
    "normalize_patch_targets",
    "pairwise_sq_dists",
    "ratio_schedule",
    "sample_negative_positions",
    "soft_info_nce",
    "soft_target_cross_entropy",
    "teacher_temperature_schedule",
    "triplet_ranking_loss",
    "triplet_ranking_terms",
    "weight_schedule",
]
