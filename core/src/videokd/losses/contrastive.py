"""Contrastive (InfoNCE-family) losses.

Shapes: a score matrix ``U`` is ``(Nq, B)`` (rows = captions/queries, columns = videos) and
``labels`` is ``(Nq,)`` with the column of each row's positive. Several rows may share a column
(several captions per video): the column-wise term is then multi-positive.

* :func:`info_nce` - DL-DKD ``clip_nce``: row-wise cross-entropy plus a multi-positive column
  term, both averaged, optional temperature (DL-DKD uses raw dot products, no temperature).
* :func:`soft_info_nce` - DL-DKD++ ``clip_nce_soft``: soft targets from a similarity matrix on
  the rows/columns after a positional split, mixed with the hard loss by ``alpha``.
* :func:`clip_contrastive_loss` - CLIP's symmetric image/text cross-entropy (average of the two).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F

from .ranking import _check_scores_labels

__all__ = ["InfoNCETerms", "info_nce_terms", "info_nce", "soft_info_nce", "clip_contrastive_loss"]


class InfoNCETerms(NamedTuple):
    """loss: () ; t2v_term: (Nq,) per-row term ; v2t_term: (B,) per-column term."""

    loss: torch.Tensor
    t2v_term: torch.Tensor
    v2t_term: torch.Tensor


def _positive_mask(labels: torch.Tensor, n_cols: int) -> torch.Tensor:
    """``(Nq, B)`` bool, True where column ``v`` is row ``i``'s video."""
    return labels[:, None] == torch.arange(n_cols, device=labels.device)[None, :]


def info_nce_terms(scores: torch.Tensor, labels: torch.Tensor, *, temperature: Optional[float] = None) -> InfoNCETerms:
    """Multi-positive bidirectional InfoNCE (DL-DKD ``clip_nce``) with its per-row/column terms.

    ``t2v_i = LSE_v U[i, :] - U[i, labels_i]`` and
    ``v2t_v = LSE_i U[:, v] - LSE_{i : labels_i = v} U[i, v]``; loss = mean(t2v) + mean(v2t).
    With ``temperature`` the scores are divided by it first (None = raw scores, as DL-DKD).

    Args:
        scores: ``(Nq, B)`` logits. labels: ``(Nq,)`` int columns. Every column needs a positive.
    """
    _, b = _check_scores_labels(scores, labels)
    u = scores if temperature is None else scores / temperature
    pos = _positive_mask(labels, b)
    if not bool(pos.any(0).all()):
        missing = torch.nonzero(~pos.any(0)).flatten().tolist()
        raise ValueError(
            f"info_nce: every column needs at least one positive row; columns {missing} have none (labels)"
        )
    t2v = torch.logsumexp(u, dim=1) - u.gather(1, labels[:, None]).squeeze(1)
    v2t = torch.logsumexp(u, dim=0) - torch.logsumexp(u.masked_fill(~pos, float("-inf")), dim=0)
    return InfoNCETerms(t2v.mean() + v2t.mean(), t2v, v2t)


def info_nce(scores: torch.Tensor, labels: torch.Tensor, *, temperature: Optional[float] = None) -> torch.Tensor:
    """Multi-positive bidirectional InfoNCE, a 0-dim tensor (see :func:`info_nce_terms`)."""
    return info_nce_terms(scores, labels, temperature=temperature).loss


def soft_info_nce(
    scores: torch.Tensor,
    sims: torch.Tensor,
    labels: torch.Tensor,
    *,
    alpha: float,
    beta: float,
    eps: float = 1e-12,
) -> torch.Tensor:
    """DL-DKD++ soft-label InfoNCE (``clip_nce_soft``), a 0-dim tensor.

    Args:
        scores: ``(Nq, B)`` student logits ``U`` (raw dot products).
        sims: ``(Nq, B)`` scores the soft targets come from: the teacher's dot scores for the
            inheritance branch, ``scores`` itself (same tensor, not detached) for exploration.
            Targets are not detached: gradients flow into ``sims``.
        labels: ``(Nq,)`` video column of each caption.
        alpha: partition ratio. Rows ``i < floor(alpha*Nq)`` and columns ``v < floor(alpha*B)``
            keep one-hot targets ("hard"), the rest get soft ones. The split is by position: the
            original collate sorts videos by caption count, so "soft" = the fewest captions.
        beta: label mix, soft target = ``(1-beta) * softmax(sims) + beta * onehot``.
        eps: added inside the log of the column targets (1e-12 in the original).

    Row term: ``sum_v target[i,v] * (LSE U[i,:] - U[i,v])``. Column term:
    ``LSE_i U[:,v] - LSE_i(log(target_v[i] + eps) + U[i,v])``. hard = mean over hard rows + mean
    over hard columns (only when both counts > 0), soft likewise; loss = alpha*hard + (1-alpha)*soft.
    ``alpha = 1`` gives :func:`info_nce`.
    """
    nq, b = _check_scores_labels(scores, labels)
    if sims.shape != scores.shape:
        raise ValueError(f"sims must have the shape of scores {tuple(scores.shape)}, got {tuple(sims.shape)}")
    h_q, h_v = int(math.floor(alpha * nq)), int(math.floor(alpha * b))
    onehot = _positive_mask(labels, b).to(scores.dtype)  # (Nq, B)

    # row (caption -> video) targets over videos; column (video -> caption) targets over captions
    row_is_soft = (torch.arange(nq, device=scores.device) >= h_q)[:, None]
    col_is_soft = (torch.arange(b, device=scores.device) >= h_v)[None, :]
    t_row = torch.where(row_is_soft, (1 - beta) * sims.softmax(dim=1) + beta * onehot, onehot)
    t_col = torch.where(col_is_soft, (1 - beta) * sims.softmax(dim=0) + beta * onehot, onehot)

    t2v = (t_row * (torch.logsumexp(scores, dim=1, keepdim=True) - scores)).sum(1)  # (Nq,)
    v2t = torch.logsumexp(scores, dim=0) - torch.logsumexp(torch.log(t_col + eps) + scores, dim=0)  # (B,)

    zero = scores.new_zeros(())
    hard = t2v[:h_q].mean() + v2t[:h_v].mean() if h_q > 0 and h_v > 0 else zero
    soft = t2v[h_q:].mean() + v2t[h_v:].mean() if nq - h_q > 0 and b - h_v > 0 else zero
    return alpha * hard + (1 - alpha) * soft


def clip_contrastive_loss(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    logit_scale: torch.Tensor | float,
    *,
    labels: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """CLIP symmetric loss: ``(CE(s*I@T^T, y) + CE(s*T@I^T, y)) / 2``, a 0-dim tensor.

    Args:
        image_features: ``(N, D)`` (normalise them first if the model does).
        text_features: ``(N, D)``.
        logit_scale: the multiplier ``s`` (already exponentiated).
        labels: ``(N,)`` matching indices; ``arange(N)`` when None.
    """
    if image_features.dim() != 2 or image_features.shape != text_features.shape:
        raise ValueError(
            f"image_features and text_features must both be (N, D), got {tuple(image_features.shape)} and {tuple(text_features.shape)}"
        )
    logits = logit_scale * image_features @ text_features.t()
    if labels is None:
        labels = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
