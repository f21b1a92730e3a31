"""Video and audio ViTs of XKD with the original parameter names.

Shapes: video clips ``(B, 3, T, H, W)`` (normalised), log-mel ``(B, 1, F, T)``, tokens
``(B, 1 + N, D)`` with the CLS token first.

* Patchifiers are one ``nn.Linear`` over flattened patches (:class:`VideoPatchEmbed`: tubelets
  ``(pt, ph, pw)``, time-major token order, ``(pt, ph, pw, c)`` patch vector; :class:`AudioPatchEmbed`:
  ``(pf, pt)`` patches, mel-band-major). The flattened patch is also the MAE reconstruction target.
* Blocks are pre-norm with a fused, bias-free ``qkv`` and can return the last layer's attention map.
* Position embeddings are learned ``(1, 1 + N, D)``; other input sizes interpolate them with scale
  factors (the "+0.1" rule): trilinear over ``(t, h, w)`` for video, bicubic over time only for audio.
* :class:`VideoViT` / :class:`AudioViT` are the pre-training backbones (``cls_token``,
  ``enc_pos_embed``, ``cuboid_embed`` / ``patch_embed``, ``encoder.blocks``, ``encoder_norm``);
  :class:`EvalVideoViT` / :class:`EvalAudioViT` the evaluation ones (``pos_embed``, ``patch_embed``,
  ``blocks``, ``norm``) that pre-training backbone files load into after :func:`xkd.checkpoint.remap_backbone_keys`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "ENCODER_SIZES",
    "DECODER_SIZES",
    "Attention",
    "Block",
    "BlockStack",
    "VideoPatchEmbed",
    "AudioPatchEmbed",
    "interpolate_video_pos_embed",
    "interpolate_audio_pos_embed",
    "VideoViT",
    "AudioViT",
    "EvalVideoViT",
    "EvalAudioViT",
    "init_xkd_weights",
]

# name -> (embed_dim, depth, num_heads): the original size tables, plus ``micro_*`` (this package's
# CPU test / demo size)
ENCODER_SIZES = {
    "micro_encoder": (32, 1, 2),
    "tiny_encoder": (192, 12, 3),
    "small_encoder": (384, 12, 6),
    "base_encoder": (768, 12, 12),
    "large_encoder": (1024, 24, 16),
}
DECODER_SIZES = {
    "micro_decoder": (16, 1, 2),
    "tiny_decoder": (96, 4, 3),
    "small_decoder": (192, 4, 6),
    "base_decoder": (384, 4, 12),
    "large_decoder": (512, 8, 16),
}


class Attention(nn.Module):
    """Multi-head self-attention with one fused bias-free ``qkv`` (rows q, k, v; head h = rows h*hd..)."""

    def __init__(self, dim: int, num_heads: int, *, qkv_bias: bool = False) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed dim {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, *, return_attn: bool = False):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if return_attn:
            attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)  # (B, heads, N, N), row = query
            out = attn @ v
        else:
            attn = None
            out = F.scaled_dot_product_attention(q, k, v)
        out = self.proj(out.transpose(1, 2).reshape(b, n, c))
        return (out, attn) if return_attn else out


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block (LayerNorm eps 1e-5, MLP ratio 4, exact GELU, no dropout)."""

    def __init__(self, dim: int, num_heads: int, *, mlp_ratio: float = 4.0, qkv_bias: bool = False) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, *, return_attn: bool = False):
        if return_attn:
            y, attn = self.attn(self.norm1(x), return_attn=True)
            x = x + y
            return x + self.mlp(self.norm2(x)), attn
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class BlockStack(nn.Module):
    """``blocks.{i}``: the module XKD-MAS / MATS share between the two modalities."""

    def __init__(self, dim: int, depth: int, num_heads: int, *, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim, num_heads, mlp_ratio=mlp_ratio) for _ in range(depth))

    def forward(self, x: torch.Tensor, *, return_attn: bool = False):
        attn = None
        for i, blk in enumerate(self.blocks):
            if return_attn and i == len(self.blocks) - 1:
                x, attn = blk(x, return_attn=True)
            else:
                x = blk(x)
        return (x, attn) if return_attn else x


class VideoPatchEmbed(nn.Module):
    """Tubelets ``(pt, ph, pw)`` -> ``Linear(pt*ph*pw*C -> D)``. Returns ``(patches (B,N,P), tokens (B,N,D))``."""

    def __init__(self, tubelet: Sequence[int], dim: int, in_channels: int = 3) -> None:
        super().__init__()
        self.tubelet = tuple(int(v) for v in tubelet)
        self.proj = nn.Linear(math.prod(self.tubelet) * in_channels, dim)

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        pt, ph, pw = self.tubelet
        if t % pt or h % ph or w % pw:
            raise ValueError(f"video {tuple(x.shape)} is not divisible into tubelets {self.tubelet}")
        x = x.reshape(b, c, t // pt, pt, h // ph, ph, w // pw, pw)
        # b c t pt h ph w pw -> b (t h w) (pt ph pw c)
        return x.permute(0, 2, 4, 6, 3, 5, 7, 1).reshape(b, (t // pt) * (h // ph) * (w // pw), pt * ph * pw * c)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        patches = self.patchify(x)
        return patches, self.proj(patches)


class AudioPatchEmbed(nn.Module):
    """Spectrogram patches ``(pf, pt)`` -> ``Linear(pf*pt*C -> D)``. Returns ``(patches, tokens)``."""

    def __init__(self, patch: Sequence[int], dim: int, in_channels: int = 1) -> None:
        super().__init__()
        self.patch = tuple(int(v) for v in patch)
        self.proj = nn.Linear(math.prod(self.patch) * in_channels, dim)

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        b, c, f, t = x.shape
        pf, pt = self.patch
        if f % pf or t % pt:
            raise ValueError(f"spectrogram {tuple(x.shape)} is not divisible into patches {self.patch}")
        x = x.reshape(b, c, f // pf, pf, t // pt, pt)
        # b c f pf t pt -> b (f t) (pf pt c)
        return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (f // pf) * (t // pt), pf * pt * c)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        patches = self.patchify(x)
        return patches, self.proj(patches)


def interpolate_video_pos_embed(
    pos: torch.Tensor, size: Sequence[int], tubelet: Sequence[int], num_frames: int
) -> torch.Tensor:
    """Position embedding ``(1, 1+N, D)`` for a clip of ``size = (T, H, W)``.

    Kept as is when the token count matches and ``H == W``; otherwise the ``(Nt, g, g)`` grid is
    resized trilinearly with scale factors ``((T//pt + 0.1)/Nt, (H//ph + 0.1)/g, (W//pw + 0.1)/g)``
    (never ``size=``: the factors define the sampling grid).
    """
    t, h, w = (int(v) for v in size)
    pt, ph, pw = tubelet
    n, dim = pos.shape[1] - 1, pos.shape[2]
    if (t // pt) * (h // ph) * (w // pw) == n and h == w:
        return pos
    nt = num_frames // pt
    g = int(round(math.sqrt(n / nt)))
    patch = pos[:, 1:].reshape(1, nt, g, g, dim).permute(0, 4, 1, 2, 3)
    patch = F.interpolate(
        patch,
        scale_factor=((t // pt + 0.1) / nt, (h // ph + 0.1) / g, (w // pw + 0.1) / g),
        mode="trilinear",
        align_corners=False,
    )
    if tuple(patch.shape[-3:]) != (t // pt, h // ph, w // pw):
        raise ValueError(f"position grid {tuple(patch.shape[-3:])} does not fit a {tuple(size)} clip")
    patch = patch.permute(0, 2, 3, 4, 1).reshape(1, -1, dim)
    return torch.cat((pos[:, :1], patch), dim=1)


def interpolate_audio_pos_embed(pos: torch.Tensor, size: Sequence[int], patch: Sequence[int]) -> torch.Tensor:
    """Position embedding for a spectrogram of ``size = (F, T)``: bicubic over time only, scale
    ``(1, (T//pt + 0.1)/Nt)``, when the token count differs (the mel height is fixed)."""
    f, t = (int(v) for v in size)
    pf, pt = patch
    n, dim = pos.shape[1] - 1, pos.shape[2]
    if (f // pf) * (t // pt) == n:
        return pos
    nf = f // pf
    if n % nf:
        raise ValueError(f"a {f}-bin spectrogram does not fit the position embedding of {n} tokens")
    nt = n // nf
    grid = pos[:, 1:].reshape(1, nf, nt, dim).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, scale_factor=(1.0, (t // pt + 0.1) / nt), mode="bicubic", align_corners=False)
    if tuple(grid.shape[-2:]) != (nf, t // pt):
        raise ValueError(f"position grid {tuple(grid.shape[-2:])} does not fit a {tuple(size)} spectrogram")
    return torch.cat((pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, -1, dim)), dim=1)


class _ViTBase(nn.Module):
    """Shared forward of the four backbones; subclasses name the parameters."""

    def _patch_embed(self) -> nn.Module:
        raise NotImplementedError

    def _pos(self) -> torch.Tensor:
        raise NotImplementedError

    def _blocks(self):
        raise NotImplementedError

    def _norm(self) -> nn.Module:
        raise NotImplementedError

    def pos_embed_for(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(patches (B,N,P), patch tokens + pos (B,N,D), pos (1,1+N,D))``."""
        patches, tokens = self._patch_embed()(x)
        pos = self.pos_embed_for(x)
        return patches, tokens + pos[:, 1:], pos

    def add_cls(self, tokens: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        cls = (self.cls_token + pos[:, :1]).expand(tokens.shape[0], -1, -1)
        return torch.cat((cls, tokens), dim=1)

    def tokens_in(self, x: torch.Tensor) -> torch.Tensor:
        _, tokens, pos = self.embed(x)
        return self.add_cls(tokens, pos)

    def encode(self, tokens: torch.Tensor, *, return_attn: bool = False):
        """Blocks + final norm over ``(B, 1+N, D)`` tokens; optionally the last block's attention."""
        if return_attn:
            x, attn = self._blocks()(tokens, return_attn=True)
            return self._norm()(x), attn
        return self._norm()(self._blocks()(tokens))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """All normed tokens ``(B, 1+N, D)``."""
        return self.encode(self.tokens_in(x))

    def forward_last_layer_attn(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(attention of the last block (B, heads, 1+N, 1+N), normed tokens (B, 1+N, D))``."""
        tokens, attn = self.encode(self.tokens_in(x), return_attn=True)
        return attn, tokens

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """``feat_op: pool``: mean of the normed patch tokens (CLS excluded), ``(B, D)``."""
        return self(x)[:, 1:].mean(dim=1)


class _VideoGeometry:
    def _video_init(
        self, frame_size: Sequence[int], num_frames: int, patch_spatial: Sequence[int], patch_temporal: int
    ):
        c, h, w = (int(v) for v in frame_size)
        # the original's tubelet: (vid_patch_temporal, patch_spatial[1], patch_spatial[0])
        self.tubelet = (int(patch_temporal), int(patch_spatial[1]), int(patch_spatial[0]))
        self.num_frames = int(num_frames)
        self.frame_size = (c, h, w)
        pt, ph, pw = self.tubelet
        return c, (num_frames // pt) * (h // ph) * (w // pw)

    def pos_embed_for(self, x: torch.Tensor) -> torch.Tensor:
        return interpolate_video_pos_embed(self._pos(), x.shape[-3:], self.tubelet, self.num_frames)


class _AudioGeometry:
    def _audio_init(self, spec_size: Sequence[int], patch_spatial: Sequence[int]):
        self.patch = (int(patch_spatial[0]), int(patch_spatial[1]))
        self.spec_size = (int(spec_size[0]), int(spec_size[1]))
        return (self.spec_size[0] // self.patch[0]) * (self.spec_size[1] // self.patch[1])

    def pos_embed_for(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] != self.spec_size[0]:
            raise ValueError(f"spectrogram has {x.shape[-2]} mel bins, the model was built for {self.spec_size[0]}")
        return interpolate_audio_pos_embed(self._pos(), x.shape[-2:], self.patch)


class _PretrainNames(_ViTBase):
    def _build(self, patch_embed_name: str, patch_embed: nn.Module, num_patches: int, dim: int, depth: int, heads: int):
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.enc_pos_embed = nn.Parameter(torch.zeros(1, 1 + num_patches, dim))
        setattr(self, patch_embed_name, patch_embed)
        self._pe_name = patch_embed_name
        self.encoder = BlockStack(dim, depth, heads)
        self.encoder_norm = nn.LayerNorm(dim)
        self.embed_dim = dim

    def _patch_embed(self):
        return getattr(self, self._pe_name)

    def _pos(self):
        return self.enc_pos_embed

    def _blocks(self):
        return self.encoder

    def _norm(self):
        return self.encoder_norm


class _EvalNames(_ViTBase):
    def _build(self, patch_embed: nn.Module, num_patches: int, dim: int, depth: int, heads: int):
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + num_patches, dim))
        # registration order = the original evaluation model's state-dict order
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.patch_embed = patch_embed
        self.norm = nn.LayerNorm(dim)
        self.embed_dim = dim

    def _patch_embed(self):
        return self.patch_embed

    def _pos(self):
        return self.pos_embed

    def _blocks(self):
        return self._run_blocks

    def _run_blocks(self, x: torch.Tensor, *, return_attn: bool = False):
        attn = None
        for i, blk in enumerate(self.blocks):
            if return_attn and i == len(self.blocks) - 1:
                x, attn = blk(x, return_attn=True)
            else:
                x = blk(x)
        return (x, attn) if return_attn else x

    def _norm(self):
        return self.norm


class VideoViT(_VideoGeometry, _PretrainNames):
    """Pre-training video backbone: ``cls_token, enc_pos_embed, cuboid_embed.proj, encoder.blocks, encoder_norm``."""

    def __init__(
        self,
        *,
        frame_size: Sequence[int],
        num_frames: int,
        patch_spatial: Sequence[int],
        patch_temporal: int,
        embed_dim: int,
        depth: int,
        num_heads: int,
    ) -> None:
        super().__init__()
        c, n = self._video_init(frame_size, num_frames, patch_spatial, patch_temporal)
        self._build("cuboid_embed", VideoPatchEmbed(self.tubelet, embed_dim, c), n, embed_dim, depth, num_heads)


class AudioViT(_AudioGeometry, _PretrainNames):
    """Pre-training audio backbone: ``cls_token, enc_pos_embed, patch_embed.proj, encoder.blocks, encoder_norm``."""

    def __init__(
        self, *, spec_size: Sequence[int], patch_spatial: Sequence[int], embed_dim: int, depth: int, num_heads: int
    ) -> None:
        super().__init__()
        n = self._audio_init(spec_size, patch_spatial)
        self._build("patch_embed", AudioPatchEmbed(self.patch, embed_dim, 1), n, embed_dim, depth, num_heads)


class EvalVideoViT(_VideoGeometry, _EvalNames):
    """Evaluation video backbone (``cls_token, pos_embed, patch_embed.proj, blocks, norm``)."""

    def __init__(
        self,
        *,
        frame_size: Sequence[int],
        num_frames: int,
        patch_spatial: Sequence[int],
        patch_temporal: int,
        embed_dim: int,
        depth: int,
        num_heads: int,
    ) -> None:
        super().__init__()
        c, n = self._video_init(frame_size, num_frames, patch_spatial, patch_temporal)
        self._build(VideoPatchEmbed(self.tubelet, embed_dim, c), n, embed_dim, depth, num_heads)


class EvalAudioViT(_AudioGeometry, _EvalNames):
    """Evaluation audio backbone (``cls_token, pos_embed, patch_embed.proj, blocks, norm``)."""

    def __init__(
        self, *, spec_size: Sequence[int], patch_spatial: Sequence[int], embed_dim: int, depth: int, num_heads: int
    ) -> None:
        super().__init__()
        n = self._audio_init(spec_size, patch_spatial)
        self._build(AudioPatchEmbed(self.patch, embed_dim, 1), n, embed_dim, depth, num_heads)


def init_xkd_weights(module: nn.Module, *, skip: Optional[set] = None) -> None:
    """The original init: xavier-uniform Linear weights (fused qkv as one matrix), zero biases,
    LayerNorm (1, 0); CLS / mask tokens N(0, 0.02^2) and position embeddings trunc-normal 0.02."""
    for name, m in module.named_modules():
        if skip and any(name.startswith(s) for s in skip):
            continue
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm) and m.elementwise_affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for name, p in module.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in ("cls_token", "mask_token"):
            nn.init.normal_(p, std=0.02)
        elif leaf in ("enc_pos_embed", "pos_embed", "dec_pos_embed"):
            nn.init.trunc_normal_(p, std=0.02)
