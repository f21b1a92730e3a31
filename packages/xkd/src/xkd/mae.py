"""Masked autoencoder wrapper around a student backbone (``vid_ae`` / ``aud_ae``) and random masking."""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
import torch.nn as nn

from videokd.losses import masked_reconstruction_loss, normalize_patch_targets

from .vit import BlockStack, _ViTBase

__all__ = ["Masking", "random_masking", "MAEWrapper"]


class Masking(NamedTuple):
    """x_masked (B, K, D); mask (B, L) 1 = removed; ids_restore (B, L); ids_keep (B, K); len_keep K."""

    x_masked: torch.Tensor
    mask: torch.Tensor
    ids_restore: torch.Tensor
    ids_keep: torch.Tensor
    len_keep: int


def random_masking(x: torch.Tensor, mask_ratio: float, *, noise: Optional[torch.Tensor] = None) -> Masking:
    """Keep ``round(L * (1 - mask_ratio))`` tokens (Python ``round``, double precision) per sample:
    the lowest-noise ones, in noise order. ``x``: ``(B, L, D)``; ``noise``: ``(B, L)`` in [0, 1)
    (drawn with ``torch.rand`` when omitted)."""
    b, length, dim = x.shape
    len_keep = int(round(length * (1 - float(mask_ratio))))
    if noise is None:
        noise = torch.rand(b, length, device=x.device)
    if noise.shape != (b, length):
        raise ValueError(f"noise must be (B, L) = ({b}, {length}), got {tuple(noise.shape)}")
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :len_keep]
    x_masked = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, dim))
    mask = torch.ones(b, length, device=x.device, dtype=x.dtype)
    mask[:, :len_keep] = 0
    mask = torch.gather(mask, 1, ids_restore)
    return Masking(x_masked, mask, ids_restore, ids_keep, len_keep)


class MAEWrapper(nn.Module):
    """``dec_pos_embed, mask_token, encoder (the student backbone itself), decoder.blocks, mid_proj, out_proj``.

    The decoder has no final norm (unlike MAE). ``forward`` returns a dict: ``loss`` (norm-pix
    masked MSE), ``latent (B, 1+K, D)``, ``pred (B, N, P)``, ``target (B, N, P)``, ``mask``,
    ``ids_restore``.
    """

    def __init__(
        self, encoder: _ViTBase, *, num_patches: int, patch_dim: int, decoder_dim: int, decoder_depth: int,
        decoder_heads: int, norm_pix_loss: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        self.dec_pos_embed = nn.Parameter(torch.zeros(1, 1 + num_patches, decoder_dim))
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.encoder = encoder
        self.decoder = BlockStack(decoder_dim, decoder_depth, decoder_heads)
        # no projection between equal widths (the recorded full-size checkpoint layout has no mid_proj keys)
        self.mid_proj = nn.Linear(encoder.embed_dim, decoder_dim) if encoder.embed_dim != decoder_dim else nn.Identity()
        self.out_proj = nn.Linear(decoder_dim, patch_dim)
        self.norm_pix_loss = norm_pix_loss

    def forward_encoder(self, x: torch.Tensor, mask_ratio: float, noise: Optional[torch.Tensor] = None):
        patches, tokens, pos = self.encoder.embed(x)
        masking = random_masking(tokens, mask_ratio, noise=noise)
        latent = self.encoder.encode(self.encoder.add_cls(masking.x_masked, pos))
        return latent, masking, patches

    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        x = self.mid_proj(latent)
        b, n = ids_restore.shape
        mask_tokens = self.mask_token.expand(b, n + 1 - x.shape[1], -1)
        body = torch.cat((x[:, 1:], mask_tokens), dim=1)
        body = torch.gather(body, 1, ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[2]))
        x = torch.cat((x[:, :1], body), dim=1) + self.dec_pos_embed
        return self.out_proj(self.decoder(x))[:, 1:]

    def forward(
        self, x: torch.Tensor, mask_ratio: float, *, noise: Optional[torch.Tensor] = None
    ) -> dict[str, torch.Tensor]:
        latent, masking, target = self.forward_encoder(x, mask_ratio, noise)
        pred = self.forward_decoder(latent, masking.ids_restore)
        loss = masked_reconstruction_loss(pred, target, masking.mask, norm_pix=self.norm_pix_loss)
        return {
            "loss": loss,
            "latent": latent,
            "pred": pred,
            "target": target,
            "mask": masking.mask,
            "ids_restore": masking.ids_restore,
        }

    @staticmethod
    def normalized_target(target: torch.Tensor) -> torch.Tensor:
        return normalize_patch_targets(target)
