"""The DL-DKD student: two frame-level branches and the parameter-free CLIP teacher scores.

Symbols: B videos, L padded frames, Nq captions, Lq padded tokens, H hidden width, Dv / Dq / Dc
the student video / student text / teacher (CLIP) feature widths.

* **inheritance** branch: distilled from the teacher (ICCV prefix ``B_``, master no prefix);
* **exploration** branch: trained on ground truth only (ICCV ``A_``, master ``exp_``).

Each branch encodes a caption into one vector ``(Nq, H)`` (input projection, learned positions,
one attention block, attention pooling) and a video into per-frame vectors ``(B, L, H)`` (the same
three steps and a final Linear). A caption-video score is the max over the video's valid frames
of the cosine (or, for InfoNCE, the raw dot product).

The ICCV code wires the exploration *query* path through the inheritance query projection
(``share_query_input_proj=True``): the exploration projection exists, so checkpoints keep their
74 tensors, but gets no gradient. DL-DKD++ gives each branch its own projection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple

import torch
from torch import nn

from videokd.losses import frame_scores

from .layers import BertAttention, LinearLayer, TrainablePositionalEncoding, mask_logits

__all__ = [
    "DLDKDConfig",
    "FrameBranch",
    "DLDKD",
    "FrameScores",
    "frame_max_scores",
    "build_model",
    "BRANCHES",
]

BRANCHES = ("inheritance", "exploration")


@dataclass
class DLDKDConfig:
    """Architecture hyper-parameters (original option names in comments)."""

    visual_input_size: int  # Dv, read from the BigFile's shape.txt
    query_input_size: int  # Dq, --q_feat_size
    inheritance_hidden: int = 384  # --B_hidden_size / --inheritance_hidden
    exploration_hidden: int = 384  # --A_hidden_size / --exploration_hidden
    n_heads: int = 4
    max_ctx_l: int = 128  # frame position rows
    max_desc_l: int = 30  # token position rows
    input_drop: float = 0.1
    drop: float = 0.1
    initializer_range: float = 0.02
    double_branch: bool = True  # build and use the exploration branch
    share_query_input_proj: bool = True  # ICCV quirk; False for DL-DKD++

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DLDKDConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise KeyError(f"DLDKDConfig: unknown keys {unknown}; valid keys: {sorted(names)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FrameScores(NamedTuple):
    """score_cos (Nq, B); frame_cos (Nq, L, B) with -1e10 at padding; score_dot (Nq, B)."""

    score_cos: torch.Tensor
    frame_cos: torch.Tensor
    score_dot: torch.Tensor


def frame_max_scores(query: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor) -> FrameScores:
    """Caption-video scores as the max over valid frames (through :func:`videokd.losses.frame_scores`).

    Args:
        query: ``(Nq, D)`` caption vectors.
        context: ``(B, L, D)`` frame vectors (padded rows may hold anything).
        context_mask: ``(B, L)`` 1 = valid frame.

    Returns the cosine frame scores ``(Nq, L, B)`` (both sides L2-normalised with eps 1e-12,
    padded frames -1e10), their max over frames ``(Nq, B)``, and the max over valid frames of
    the un-normalised dot product ``(Nq, B)`` (the InfoNCE logits).
    """
    cos = frame_scores(query, context, context_mask, normalize=True)
    dot = frame_scores(query, context, context_mask, normalize=False)
    return FrameScores(cos.score, cos.frame, dot.score)


class FrameBranch(nn.Module):
    """One student branch: a query encoder and a frame-level video encoder of width H."""

    def __init__(
        self,
        *,
        query_input_size: int,
        visual_input_size: int,
        hidden_size: int,
        n_heads: int,
        max_desc_l: int,
        max_ctx_l: int,
        input_drop: float,
        drop: float,
    ) -> None:
        super().__init__()
        self.query_input_proj = LinearLayer(query_input_size, hidden_size, dropout=input_drop, relu=True)
        self.query_pos_embed = TrainablePositionalEncoding(max_desc_l, hidden_size, dropout=input_drop)
        self.query_encoder = BertAttention(hidden_size, n_heads, dropout=drop)
        self.modular_vector_mapping = nn.Linear(hidden_size, 1, bias=False)
        self.frame_input_proj = LinearLayer(visual_input_size, hidden_size, dropout=input_drop, relu=True)
        self.frame_pos_embed = TrainablePositionalEncoding(max_ctx_l, hidden_size, dropout=input_drop)
        self.frame_encoder = BertAttention(hidden_size, n_heads, dropout=drop)
        self.mapping_linear = nn.Linear(hidden_size, hidden_size)

    def encode_query(
        self, text_feat: torch.Tensor, text_mask: torch.Tensor, *, projected: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(Nq, Lq, Dq)`` tokens + ``(Nq, Lq)`` mask -> ``(Nq, H)`` by attention pooling.

        ``projected`` (Nq, Lq, H) replaces this branch's input projection (the ICCV wiring passes
        the inheritance projection's output, computed once for both branches).
        """
        x = self.query_input_proj(text_feat) if projected is None else projected
        x = self.query_encoder(self.query_pos_embed(x), text_mask)
        logits = mask_logits(self.modular_vector_mapping(x), text_mask.unsqueeze(2))  # (Nq, Lq, 1)
        weights = logits.softmax(dim=1)
        return (weights * x).sum(1)

    def encode_video(self, video_feat: torch.Tensor, video_mask: torch.Tensor) -> torch.Tensor:
        """``(B, L, Dv)`` frames + ``(B, L)`` mask -> ``(B, L, H)``; padded rows are computed, not masked."""
        x = self.frame_encoder(self.frame_pos_embed(self.frame_input_proj(video_feat)), video_mask)
        return self.mapping_linear(x)


class DLDKD(nn.Module):
    """The DL-DKD / DL-DKD++ student (the teacher has no parameters: its features are precomputed).

    Build with :func:`build_model` or ``DLDKD(DLDKDConfig(...))``. ``forward`` returns the branch
    embeddings; scores and losses are computed by :func:`frame_max_scores` and
    :class:`dldkd.losses.DLDKDLoss`.
    """

    def __init__(self, config: DLDKDConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        common = dict(
            query_input_size=c.query_input_size,
            visual_input_size=c.visual_input_size,
            n_heads=c.n_heads,
            max_desc_l=c.max_desc_l,
            max_ctx_l=c.max_ctx_l,
            input_drop=c.input_drop,
            drop=c.drop,
        )
        self.inheritance = FrameBranch(hidden_size=c.inheritance_hidden, **common)
        if c.double_branch:
            if c.share_query_input_proj and c.exploration_hidden != c.inheritance_hidden:
                raise ValueError(
                    "share_query_input_proj (the ICCV wiring) needs equal branch widths, got "
                    f"inheritance {c.inheritance_hidden} and exploration {c.exploration_hidden}"
                )
            self.exploration = FrameBranch(hidden_size=c.exploration_hidden, **common)
            if c.share_query_input_proj:
                # kept so ICCV checkpoints keep their 74 tensors, but never used: freezing it says
                # so to the optimizer and lets DDP run without find_unused_parameters
                self.exploration.query_input_proj.requires_grad_(False)
        self.reset_parameters()

    @property
    def branches(self) -> tuple[str, ...]:
        return BRANCHES if self.config.double_branch else BRANCHES[:1]

    def reset_parameters(self) -> None:
        """The original initialisation: Linear/Embedding N(0, initializer_range), biases 0, LayerNorm (1, 0)."""
        std = self.config.initializer_range
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=std)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def branch(self, name: str) -> FrameBranch:
        if name not in self.branches:
            raise KeyError(f"unknown or disabled branch {name!r}; this model has {self.branches}")
        return getattr(self, name)

    def encode_query(self, text_feat: torch.Tensor, text_mask: torch.Tensor, branch: str) -> torch.Tensor:
        """``(Nq, Lq, Dq)``, ``(Nq, Lq)`` -> ``(Nq, H)`` for ``branch``."""
        return self.encode_queries(text_feat, text_mask, branches=(branch,))[branch]

    def encode_queries(
        self, text_feat: torch.Tensor, text_mask: torch.Tensor, branches: tuple[str, ...] | None = None
    ) -> dict[str, torch.Tensor]:
        """``{branch: (Nq, H)}``; with the ICCV wiring the shared input projection runs once."""
        branches = self.branches if branches is None else branches
        shared = None
        if "exploration" in branches and self.config.share_query_input_proj:
            shared = self.inheritance.query_input_proj(text_feat)  # the ICCV wiring
        out = {}
        for name in branches:
            out[name] = self.branch(name).encode_query(text_feat, text_mask, projected=shared)
        return out

    def encode_video(self, video_feat: torch.Tensor, video_mask: torch.Tensor, branch: str) -> torch.Tensor:
        """``(B, L, Dv)``, ``(B, L)`` -> ``(B, L, H)`` for ``branch``."""
        return self.branch(branch).encode_video(video_feat, video_mask)

    def forward(
        self, video_feat: torch.Tensor, video_mask: torch.Tensor, text_feat: torch.Tensor, text_mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Encode a batch with every branch.

        Returns ``{"query_emb_<branch>": (Nq, H), "video_emb_<branch>": (B, L, H)}``.
        """
        _check_inputs(video_feat, video_mask, text_feat, text_mask, self.config)
        queries = self.encode_queries(text_feat, text_mask)
        out = {}
        for name in self.branches:
            out[f"query_emb_{name}"] = queries[name]
            out[f"video_emb_{name}"] = self.encode_video(video_feat, video_mask, name)
        return out

    def params_without_grad(self) -> list[str]:
        """Parameters that never receive a gradient (the ICCV exploration query projection)."""
        if self.config.double_branch and self.config.share_query_input_proj:
            return [
                f"exploration.query_input_proj.{k}" for k, _ in self.exploration.query_input_proj.named_parameters()
            ]
        return []


def _check_inputs(
    video_feat: torch.Tensor, video_mask: torch.Tensor, text_feat: torch.Tensor, text_mask: torch.Tensor, c: DLDKDConfig
) -> None:
    if video_feat.dim() != 3 or video_feat.shape[-1] != c.visual_input_size:
        raise ValueError(f"video features must be (B, L, {c.visual_input_size}), got {tuple(video_feat.shape)}")
    if video_mask.shape != video_feat.shape[:2]:
        raise ValueError(f"video mask must be (B, L) = {tuple(video_feat.shape[:2])}, got {tuple(video_mask.shape)}")
    if text_feat.dim() != 3 or text_feat.shape[-1] != c.query_input_size:
        raise ValueError(
            f"text features must be (Nq, Lq, {c.query_input_size}) (--q_feat_size), got {tuple(text_feat.shape)}"
        )
    if text_mask.shape != text_feat.shape[:2]:
        raise ValueError(f"text mask must be (Nq, Lq) = {tuple(text_feat.shape[:2])}, got {tuple(text_mask.shape)}")


def build_model(*, visual_input_size: int, query_input_size: int, **options: Any) -> DLDKD:
    """Keyword-only builder of :class:`DLDKD`; ``options`` are :class:`DLDKDConfig` fields (its defaults apply)."""
    return DLDKD(DLDKDConfig(visual_input_size=visual_input_size, query_input_size=query_input_size, **options))
