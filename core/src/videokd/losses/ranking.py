"""Margin ranking (triplet hinge) losses on a caption-by-video score matrix.

The PRVR papers (DL-DKD) train with a bidirectional triplet loss on cosine scores ``S`` of shape
``(Nq, B)``: rows are captions, columns are the videos of the batch, and ``labels[i]`` is the
column of caption ``i``'s video. Several captions may share a video.

* text -> video: the positive is ``S[i, labels[i]]``; the negative is another video drawn uniformly
  from the ``hard_pool_size`` highest-scoring other videos (hard mode) or from all other videos.
* video -> text: the positive is the **mean** of ``S[:, v]`` over the captions of ``v``; the
  negative is the highest-scoring caption of another video (hard mode) or a uniformly random one.
* loss = sum(t2v hinges) / Nq + sum(v2t hinges) / B, hinge = ``relu(margin + neg - pos)``.

The original draws its negatives with ``torch.randint`` inside the loss; here the draws come from
an optional ``torch.Generator`` or can be injected as *positions* (what the parity fixtures store),
so tests are deterministic. Everything is vectorised (the original loops over captions/videos).
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F

__all__ = ["TripletTerms", "triplet_ranking_terms", "triplet_ranking_loss", "sample_negative_positions"]


class TripletTerms(NamedTuple):
    """Result of :func:`triplet_ranking_terms`.

    loss: () total; t2v_hinge: (Nq,); v2t_hinge: (B,); t2v_neg_video: (Nq,) column of each
    caption's negative; v2t_neg_query: (B,) row of each video's negative (-1 where a video has
    no negative caption).
    """

    loss: torch.Tensor
    t2v_hinge: torch.Tensor
    v2t_hinge: torch.Tensor
    t2v_neg_video: torch.Tensor
    v2t_neg_query: torch.Tensor


def _check_scores_labels(scores: torch.Tensor, labels: torch.Tensor) -> tuple[int, int]:
    if scores.dim() != 2:
        raise ValueError(f"scores must be (Nq, B), got shape {tuple(scores.shape)}")
    nq, b = scores.shape
    if labels.shape != (nq,):
        raise ValueError(
            f"labels must be (Nq,) = ({nq},) to match scores {tuple(scores.shape)}, got {tuple(labels.shape)}"
        )
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor of video columns, got {labels.dtype}")
    if nq and (int(labels.min()) < 0 or int(labels.max()) >= b):
        raise ValueError(
            f"labels must lie in [0, {b}) (the score columns), got range [{int(labels.min())}, {int(labels.max())}]"
        )
    return nq, b


def sample_negative_positions(
    nq: int,
    n_videos: int,
    *,
    hard_negative: bool,
    hard_pool_size: int,
    generator: Optional[torch.Generator] = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Draw the text->video negative positions exactly as the original does: ``(Nq,)`` int64.

    Position p indexes a row sorted descending with the positive forced first, so p = 1 is the
    hardest negative. Hard mode draws from ``[1, min(1 + hard_pool_size, B))``, random mode from
    ``[1, B)``. ``hard_pool_size = 1`` makes the loss deterministic (always the hardest).
    """
    high = min(1 + hard_pool_size, n_videos) if hard_negative else n_videos
    if high <= 1:
        raise ValueError(f"no negative video to draw: the batch has {n_videos} video(s)")
    return torch.randint(1, high, (nq,), generator=generator, device=device)


def triplet_ranking_terms(
    scores: torch.Tensor,
    labels: torch.Tensor,
    *,
    margin: float,
    hard_negative: bool = True,
    hard_pool_size: int = 20,
    t2v_neg_positions: Optional[torch.Tensor] = None,
    v2t_neg_positions: Optional[torch.Tensor] = None,
    generator: Optional[torch.Generator] = None,
) -> TripletTerms:
    """DL-DKD bidirectional triplet ranking loss with every intermediate term.

    Args:
        scores: ``(Nq, B)`` caption-by-video scores (cosine in DL-DKD).
        labels: ``(Nq,)`` int, the column of each caption's video. Every video needs >= 1 caption.
        margin: hinge margin (0.1 on TVR, 0.2 elsewhere in DL-DKD).
        hard_negative: sample t2v negatives from the top ``hard_pool_size`` others and take the
            hardest v2t negative; otherwise both directions take a uniformly random negative.
        hard_pool_size: size of the hard pool (20 in DL-DKD).
        t2v_neg_positions: ``(Nq,)`` int64 injected positions into each caption's descending
            sorted row (positive first, so valid values are 1..B-1). Drawn when None.
        v2t_neg_positions: ``(B,)`` int64 injected positions into each video's descending sorted
            list of other videos' captions (random mode only; 0 = hardest). Drawn when None.
        generator: RNG for the draws (tests); the global RNG when None.

    With a single video (no negative at all) both hinges are 0 instead of the original's IndexError.
    Among exactly equal scores the sort is stable (lower index first); the original used the
    unstable ``torch.sort`` so tied negatives may resolve to a different (equal-valued) index.
    """
    nq, b = _check_scores_labels(scores, labels)
    device = scores.device
    counts = torch.bincount(labels, minlength=b)
    if nq and bool((counts == 0).any()):
        missing = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"every video needs at least one caption in the batch; videos {missing} have none (labels)")
    rows = torch.arange(nq, device=device)
    pos = scores[rows, labels]  # (Nq,)

    # text -> video: sort each row descending with the positive forced to the front
    if b > 1:
        if t2v_neg_positions is None:
            t2v_neg_positions = sample_negative_positions(
                nq, b, hard_negative=hard_negative, hard_pool_size=hard_pool_size, generator=generator, device=device
            )
        t2v_neg_positions = t2v_neg_positions.to(device=device, dtype=torch.long)
        if t2v_neg_positions.shape != (nq,):
            raise ValueError(f"t2v_neg_positions must be (Nq,) = ({nq},), got {tuple(t2v_neg_positions.shape)}")
        if nq and (int(t2v_neg_positions.min()) < 1 or int(t2v_neg_positions.max()) >= b):
            raise ValueError(f"t2v_neg_positions must lie in [1, {b}) (position 0 is the positive)")
        keyed = scores.detach().clone()
        keyed[rows, labels] = float("inf")  # the original writes 999; inf is the same for any score
        order = torch.sort(keyed, dim=1, descending=True, stable=True).indices
        t2v_neg_video = order.gather(1, t2v_neg_positions[:, None]).squeeze(1)
        t2v_hinge = F.relu(margin + scores[rows, t2v_neg_video] - pos)
    else:
        t2v_neg_video = torch.full((nq,), -1, dtype=torch.long, device=device)
        t2v_hinge = scores.new_zeros(nq)

    # video -> text: positive = mean over the video's captions, negatives = other videos' captions
    own = labels[:, None] == torch.arange(b, device=device)[None, :]  # (Nq, B)
    v_pos = (scores * own).sum(0) / counts.clamp_min(1).to(scores.dtype)  # (B,)
    n_neg = nq - counts  # (B,)
    has_neg = n_neg > 0
    keyed = scores.detach().masked_fill(own, float("-inf"))
    if hard_negative:
        neg_pos = torch.zeros(b, dtype=torch.long, device=device)
    else:
        if v2t_neg_positions is None:
            # uniform over each video's own number of negatives (the original: randint per video)
            gen_device = generator.device if generator is not None else device
            u = torch.rand(b, generator=generator, device=gen_device).to(device)
            v2t_neg_positions = (u * n_neg.clamp_min(1)).long().clamp_max((n_neg - 1).clamp_min(0))
        neg_pos = v2t_neg_positions.to(device=device, dtype=torch.long)
        if neg_pos.shape != (b,):
            raise ValueError(f"v2t_neg_positions must be (B,) = ({b},), got {tuple(neg_pos.shape)}")
        bad = has_neg & ((neg_pos < 0) | (neg_pos >= n_neg))
        if bool(bad.any()):
            v = int(torch.nonzero(bad)[0])
            raise ValueError(
                f"v2t_neg_positions[{v}] = {int(neg_pos[v])} outside [0, {int(n_neg[v])}) (captions of other videos)"
            )
    v2t_neg_query = torch.full((b,), -1, dtype=torch.long, device=device)
    v2t_hinge = scores.new_zeros(b)
    if nq and bool(has_neg.any()):
        if hard_negative:
            # the hardest negative: first maximum (ties resolve to the lowest caption index)
            neg_q = keyed.argmax(0)
        else:
            order = torch.sort(keyed, dim=0, descending=True, stable=True).indices  # (Nq, B)
            neg_q = order.gather(0, neg_pos.clamp(0, nq - 1)[None, :]).squeeze(0)
        cols = torch.arange(b, device=device)
        v2t_neg_query = torch.where(has_neg, neg_q, v2t_neg_query)
        hinge = F.relu(margin + scores[neg_q, cols] - v_pos)
        v2t_hinge = torch.where(has_neg, hinge, torch.zeros_like(hinge))

    t2v = t2v_hinge.sum() / max(nq, 1)
    v2t = v2t_hinge.sum() / max(b, 1)
    return TripletTerms(t2v + v2t, t2v_hinge, v2t_hinge, t2v_neg_video, v2t_neg_query)


def triplet_ranking_loss(
    scores: torch.Tensor,
    labels: torch.Tensor,
    *,
    margin: float,
    hard_negative: bool = True,
    hard_pool_size: int = 20,
    t2v_neg_positions: Optional[torch.Tensor] = None,
    v2t_neg_positions: Optional[torch.Tensor] = None,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """DL-DKD triplet ranking loss, a 0-dim tensor; see :func:`triplet_ranking_terms` for the arguments."""
    return triplet_ranking_terms(
        scores,
        labels,
        margin=margin,
        hard_negative=hard_negative,
        hard_pool_size=hard_pool_size,
        t2v_neg_positions=t2v_neg_positions,
        v2t_neg_positions=v2t_neg_positions,
        generator=generator,
    ).loss
