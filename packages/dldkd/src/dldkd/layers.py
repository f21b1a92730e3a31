"""Building blocks of the DL-DKD encoders (the MS-SL lineage "model_components").

Every sub-module keeps the attribute names of the original code (``LayerNorm``, ``net.1``,
``self.query``, ``output.dense``, ``position_embeddings``) so original checkpoints map onto these
modules by prefix only, and so the BertAdam "no weight decay on bias / LayerNorm" rule, which
matches on parameter names, works on them unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LinearLayer", "TrainablePositionalEncoding", "BertAttention", "mask_logits", "MASK_FILL"]

# The original fills masked logits with ``x*m + (1-m)*(-1e10)``; kept so frame-level scores and
# pooling logits match it where they are compared (valid positions are unaffected either way).
MASK_FILL = -1e10


def mask_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``logits*mask + (1-mask)*(-1e10)``: padded positions can never win a max or a softmax."""
    mask = mask.to(logits.dtype)
    return logits * mask + (1.0 - mask) * MASK_FILL


class LinearLayer(nn.Module):
    """LayerNorm(in) -> Dropout -> Linear(in, out) [-> ReLU], the input projection of each encoder.

    The Linear sits at index 1 of ``net`` (a Dropout + Linear ``Sequential``), as in the original.
    """

    def __init__(
        self, in_hsz: int, out_hsz: int, *, layer_norm: bool = True, dropout: float = 0.1, relu: bool = True
    ) -> None:
        super().__init__()
        self.relu = relu
        self.layer_norm = layer_norm
        if layer_norm:
            self.LayerNorm = nn.LayerNorm(in_hsz)
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_hsz, out_hsz))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, L, in) -> (N, L, out)``."""
        if self.layer_norm:
            x = self.LayerNorm(x)
        x = self.net(x)
        return F.relu(x) if self.relu else x


class TrainablePositionalEncoding(nn.Module):
    """Adds learned position rows ``0..L-1`` then LayerNorm and Dropout."""

    def __init__(self, max_position_embeddings: int, hidden_size: int, *, dropout: float = 0.1) -> None:
        super().__init__()
        self.position_embeddings = nn.Embedding(max_position_embeddings, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, L, H) -> (N, L, H)``; ``L`` must not exceed the number of position rows."""
        length = x.shape[1]
        n_rows = self.position_embeddings.num_embeddings
        if length > n_rows:
            raise ValueError(
                f"sequence length {length} exceeds the {n_rows} learned positions "
                f"(max_ctx_l / max_desc_l); sample or truncate inputs to at most {n_rows}"
            )
        x = x + self.position_embeddings.weight[:length].unsqueeze(0)
        return self.dropout(self.LayerNorm(x))


class _SelfAttention(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int) -> None:
        super().__init__()
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)


class _SelfOutput(nn.Module):
    def __init__(self, hidden_size: int, dropout: float) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size)
        self.dropout = nn.Dropout(dropout)


class BertAttention(nn.Module):
    """One multi-head self-attention block with residual + LayerNorm and no feed-forward sub-layer.

    Heads are contiguous slices of width ``H / num_heads``; padded **keys** get ``-10000`` added to
    their logits (the original's additive mask), which ``scaled_dot_product_attention`` takes as a
    float mask. Keys: ``self.{query,key,value}``, ``output.{dense,LayerNorm}``.
    """

    def __init__(self, hidden_size: int, num_attention_heads: int, *, dropout: float = 0.1) -> None:
        super().__init__()
        if hidden_size % num_attention_heads:
            raise ValueError(f"hidden size {hidden_size} is not a multiple of n_heads {num_attention_heads}")
        self.num_heads = num_attention_heads
        self.head_dim = hidden_size // num_attention_heads
        self.attn_dropout = dropout
        self.self = _SelfAttention(hidden_size, num_attention_heads)
        self.output = _SelfOutput(hidden_size, dropout)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``x`` (N, L, H), ``attention_mask`` (N, L) with 1 = valid key -> (N, L, H)."""
        n, length, hidden = x.shape
        if attention_mask.shape != (n, length):
            raise ValueError(
                f"attention mask shape {tuple(attention_mask.shape)} does not match input {tuple(x.shape[:2])}"
            )

        def heads(t: torch.Tensor) -> torch.Tensor:  # (N, L, H) -> (N, heads, L, head_dim)
            return t.view(n, length, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.self.query(x)), heads(self.self.key(x)), heads(self.self.value(x))
        bias = ((1.0 - attention_mask.to(x.dtype)) * -10000.0)[:, None, None, :]
        ctx = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=bias,
            dropout_p=self.attn_dropout if self.training else 0.0,
            scale=1.0 / math.sqrt(self.head_dim),
        )
        ctx = ctx.transpose(1, 2).reshape(n, length, hidden)
        out = self.output.dropout(self.output.dense(ctx))
        return self.output.LayerNorm(out + x)
