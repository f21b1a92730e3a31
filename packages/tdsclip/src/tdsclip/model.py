"""TDS-CLIP: a trainable side network (Side4Video) on a frozen CLIP ViT, with the TD- and SME-Adapters.

Parameter and buffer names, and their registration order, are the original ``VideoCLIP``'s
(``visual.*`` + ``fc.*``), so the original checkpoints (675 keys for ViT-B/16) load strictly and
original optimizer state dicts line up index by index.

Shapes (B videos, T segments, 5 frames per segment window, C side width, W CLIP width, g grid,
N = g*g patches). Inside this package token tensors are **batch-first** ``(B*T, L, D)`` (the core
CLIP's layout); the original is sequence-first ``(L, B*T, D)``.

* training input ``(B*T*5, 3, H, W)`` (rows ``(b*T + t)*5 + m``, m = window frame) or
  test input ``(B*V*T, 15, H, W)`` (channels ``3*m + rgb``): both are the same bytes;
* SME stem: frame differences ``(B, 12, T, H, W)`` -> Conv3d + BN3d -> ``(B, C, T, g, g)``;
  RGB stem on the centre frame; side state ``s0 = rgb + 0.5 * sme``;
* frozen CLIP on the centre frame; after every block ``l``: ``p = side_linears[l](side_lns[l](h_l))``,
  ``s = 0.5*s + 0.5*p[:, 1:]``, ``s = side_transformer[l](s, p[:, :1], pos)``;
* head: ``side_post_bn`` (BN3d) -> mean over (T, g, g) -> dropout -> ``fc``.

Differences from the original (none changes the numbers): the frozen trunk runs under
``torch.no_grad()`` one block at a time (only the current block's tokens are alive), attention is
SDPA, and the unused text towers are never built.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from videokd import clip

__all__ = [
    "TDSConfig",
    "TDAdapter",
    "SideBlock",
    "SideStems",
    "side_stems",
    "SideTransformer",
    "SideVisionTransformer",
    "VideoCLIP",
    "to_frame_windows",
    "is_trainable_name",
]

#: frames per segment window (the original's ``num_diff``; the SME stem's 12 = 4 differences x RGB)
WINDOW = 5


@dataclass(frozen=True)
class TDSConfig:
    """Sizes of a TDS-CLIP model. ``vision_*`` / ``image_resolution`` are the CLIP trunk's."""

    image_resolution: int
    vision_patch_size: int
    vision_width: int
    vision_layers: int
    side_dim: int
    num_classes: int
    num_segments: int
    vision_heads: Optional[int] = None
    side_heads: Optional[int] = None
    td_reduction: int = 16
    mlp_ratio: float = 4.0
    drop_fc: float = 0.0
    num_diff: int = WINDOW

    def __post_init__(self) -> None:
        if self.vision_heads is None:
            object.__setattr__(self, "vision_heads", max(1, self.vision_width // 64))
        if self.side_heads is None:
            object.__setattr__(self, "side_heads", max(1, self.side_dim // 64))
        if self.num_diff != WINDOW:
            raise ValueError(
                f"num_diff={self.num_diff}: the TDS-CLIP SME stem takes exactly {WINDOW} frames per segment "
                "(4 RGB differences = 12 input channels); set data.num_diff: 5"
            )
        if self.side_dim % self.td_reduction:
            raise ValueError(f"side_dim {self.side_dim} is not divisible by td_reduction {self.td_reduction}")

    @property
    def grid(self) -> int:
        return self.image_resolution // self.vision_patch_size

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _bn_hw(bn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A BatchNorm2d applied per frame to a 5-D map ``(B, C, T, H, W)`` (same statistics as BN3d)."""
    b, c, t, h, w = x.shape
    y = bn(x.transpose(1, 2).reshape(b * t, c, h, w))
    return y.reshape(b, t, c, h, w).transpose(1, 2)


def _conv_hw(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    b, c, t, h, w = x.shape
    y = conv(x.transpose(1, 2).reshape(b * t, c, h, w))
    return y.reshape(b, t, -1, h, w).transpose(1, 2)


class TDAdapter(nn.Module):
    """Temporal-difference excitation (the original ``SAModule``, ``mse`` in every side block).

    ``u (B, C, T, H, W) -> u * (1 + sigmoid(bn2(conv2(y))) - 0.5)`` where ``b = bn1(conv1(u))``
    (per frame, ``C -> C/r``), ``d = b - maxpool_t(b)`` over ``{t-1, t, t+1}`` (padding -inf),
    ``y = 0.5*d + 0.5*mean_c(d)``.
    """

    def __init__(self, channel: int, reduction: int = 16):
        super().__init__()
        mid = channel // reduction
        self.conv1 = nn.Conv2d(channel, mid, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, channel, kernel_size=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channel)

    def forward(self, u: torch.Tensor, taps: Optional[dict] = None) -> torch.Tensor:
        """``(B, C, T, H, W) -> (B, C, T, H, W)``; ``taps`` collects the intermediates when given."""
        b = _bn_hw(self.bn1, _conv_hw(self.conv1, u))
        m = F.max_pool3d(b, kernel_size=(3, 1, 1), stride=1, padding=(1, 0, 0))  # pads with -inf
        d = b - m
        y = 0.5 * d + 0.5 * d.mean(dim=1, keepdim=True)
        s = torch.sigmoid(_bn_hw(self.bn2, _conv_hw(self.conv2, y)))
        if taps is not None:
            taps.update(bottleneck=b, temporal_max=m, mixed=y, excite_sigmoid=s)
        return u + u * (s - 0.5)


class SideMlp(nn.Module):
    """``fc2(GELU(fc1(x)))`` (exact GELU), the original ``CMlp`` on tokens."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def shift_cls_token(cls: torch.Tensor, num_segments: int) -> torch.Tensor:
    """Temporal shift of the projected CLS token ``(B*T, 1, C)``.

    The first ``C // 2`` channels take frame ``t+1``'s value (zero at the last frame), the rest
    frame ``t-1``'s (zero at the first frame).
    """
    bt, one, c = cls.shape
    x = cls.reshape(bt // num_segments, num_segments, c)
    half = c // 2
    out = torch.zeros_like(x)
    out[:, :-1, :half] = x[:, 1:, :half]
    out[:, 1:, half:] = x[:, :-1, half:]
    return out.reshape(bt, one, c)


class SideBlock(nn.Module):
    """One side block (the original ``AttnCBlock``): temporal conv + TD-Adapter, CLS-shifted attention, MLP.

    ``x (B*T, N, C)`` side tokens, ``cls (B*T, 1, C)`` the projected CLIP class token,
    ``pos (N, C)`` the shared side position embedding -> ``(B*T, N, C)``.
    """

    def __init__(self, dim: int, heads: int, num_segments: int, *, mlp_ratio: float = 4.0, td_reduction: int = 16):
        super().__init__()
        self.num_segments = num_segments
        # registration order = the original's state-dict order
        self.bn_1 = nn.BatchNorm3d(dim)
        self.conv = nn.Sequential(
            nn.Conv3d(dim, dim, kernel_size=1),
            nn.Conv3d(dim, dim, kernel_size=(3, 1, 1), padding=(1, 0, 0), groups=dim),
            nn.Conv3d(dim, dim, kernel_size=1),
        )
        self.bn_2 = nn.BatchNorm3d(dim)
        self.mlp = SideMlp(dim, int(dim * mlp_ratio))
        self.attn = clip.MultiheadAttention(dim, heads)
        self.ln_1 = clip.LayerNorm(dim)
        self.mse = TDAdapter(dim, td_reduction)

    def _to_5d(self, x: torch.Tensor) -> torch.Tensor:
        bt, n, c = x.shape
        g = int(round(n**0.5))
        t = self.num_segments
        return x.reshape(bt // t, t, g, g, c).permute(0, 4, 1, 2, 3)

    @staticmethod
    def _to_tokens(x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        return x.permute(0, 2, 3, 4, 1).reshape(b * t, h * w, c)

    def forward(
        self, x: torch.Tensor, cls: torch.Tensor, pos: torch.Tensor, taps: Optional[dict] = None
    ) -> torch.Tensor:
        u = self.bn_1(self._to_5d(x))
        conv = self.conv(u)
        td_taps = {} if taps is not None else None
        td = self.mse(conv, td_taps)
        x = x + self._to_tokens(td)
        shifted = shift_cls_token(cls, self.num_segments)
        z = self.ln_1(torch.cat([shifted, x + pos.to(x.dtype)], dim=1))
        attn = self.attn(z[:, 1:], z)
        x = x + attn
        bn2 = self.bn_2(self._to_5d(x))
        mlp = self.mlp(self._to_tokens(bn2))
        x = x + mlp
        if taps is not None:
            taps.update(
                bn1_out=u,
                temporal_conv_out=conv,
                td_out=td,
                shifted_cls=shifted,
                ln1_out=z,
                attn_out=attn,
                bn2_out=bn2,
                mlp_out=mlp,
                td=td_taps,
            )
        return x


def _add_stems(owner: nn.Module, side_dim: int, patch: int) -> None:
    # kernel (3, P, P), stride (1, P, P), padding (1, 1, 1): the spatial padding of 1 shifts the side
    # patches by one pixel against CLIP's (the last pixel row/column is never seen); kept as trained
    stem = dict(kernel_size=(3, patch, patch), stride=(1, patch, patch), padding=(1, 1, 1))
    owner.side_conv1 = nn.Conv3d(3, side_dim, **stem)
    owner.side_pre_bn3d = nn.BatchNorm3d(side_dim)
    owner.side_conv1_c5 = nn.Conv3d(3 * (WINDOW - 1), side_dim, **stem)
    owner.side_pre_bn3d_c5 = nn.BatchNorm3d(side_dim)


def side_stems(owner: nn.Module, x5: torch.Tensor, num_segments: int, taps: Optional[dict] = None) -> torch.Tensor:
    """The RGB stem plus half the SME-Adapter (motion stem), as initial side tokens.

    ``x5 (B*T, 5, 3, H, W)``: the SME stem sees the 4 frame differences ``f[m+1] - f[m]``
    ``(B, 12, T, H, W)``, the RGB stem the centre frame ``(B, 3, T, H, W)``; both give
    ``(B, C, T, g, g)`` and ``s0 = rgb + 0.5 * sme`` is returned as tokens ``(B*T, N, C)``.
    ``owner`` holds ``side_conv1``, ``side_pre_bn3d``, ``side_conv1_c5``, ``side_pre_bn3d_c5``.
    """
    bt, m, _, h, w = x5.shape
    t = num_segments
    v = x5.reshape(bt // t, t, m, 3, h, w)
    diff = (v[:, :, 1:] - v[:, :, :-1]).reshape(bt // t, t, 3 * (m - 1), h, w).transpose(1, 2)
    sme_conv = owner.side_conv1_c5(diff)
    sme = owner.side_pre_bn3d_c5(sme_conv)
    rgb = v[:, :, m // 2].transpose(1, 2)
    rgb_conv = owner.side_conv1(rgb)
    rgb_out = owner.side_pre_bn3d(rgb_conv)
    s0 = rgb_out + 0.5 * sme
    if taps is not None:
        taps.update(
            frame_diff=diff, sme_conv_out=sme_conv, sme_out=sme, rgb_frames=rgb, rgb_conv_out=rgb_conv, rgb_out=rgb_out
        )
    return SideBlock._to_tokens(s0)


class SideStems(nn.Module):
    """The side network's two Conv3d stems on their own (same keys as under ``visual.``)."""

    def __init__(self, side_dim: int, patch_size: int, num_segments: int):
        super().__init__()
        self.num_segments = num_segments
        _add_stems(self, side_dim, patch_size)

    def forward(self, x5: torch.Tensor, taps: Optional[dict] = None) -> torch.Tensor:
        return side_stems(self, x5, self.num_segments, taps)


class SideTransformer(clip.Transformer):
    """The CLIP trunk's ``transformer`` (``resblocks``) plus the side network's per-layer modules.

    Keys: ``side_spatial_position_embeddings (N, C)``, ``side_lns.{i}`` (LayerNorm W),
    ``resblocks.{i}`` (frozen CLIP), ``side_linears.{i}`` (W -> C), ``side_transformer.{i}``.
    """

    def __init__(self, width: int, layers: int, heads: int, *, side_dim: int, side_heads: int, num_patches: int,
                 num_segments: int, mlp_ratio: float = 4.0, td_reduction: int = 16):  # fmt: skip
        super().__init__(width, layers, heads)
        resblocks = self._modules.pop("resblocks")  # re-registered below, in the original's order
        self.side_spatial_position_embeddings = nn.Parameter(0.01 * torch.randn(num_patches, side_dim))
        self.side_lns = nn.ModuleList([clip.LayerNorm(width) for _ in range(layers)])
        self.resblocks = resblocks
        self.side_linears = nn.ModuleList([nn.Linear(width, side_dim) for _ in range(layers)])
        self.side_transformer = nn.ModuleList(
            [
                SideBlock(side_dim, side_heads, num_segments, mlp_ratio=mlp_ratio, td_reduction=td_reduction)
                for _ in range(layers)
            ]
        )
        self.side_init_(side_dim)

    def side_init_(self, dim: int) -> None:
        """The original ``AttnCBlock`` init (its depth constant 24 is hard-coded even for L/14)."""
        for blk in self.side_transformer:
            nn.init.normal_(blk.mlp.fc1.weight, std=(2 * dim) ** -0.5)
            nn.init.normal_(blk.mlp.fc2.weight, std=dim**-0.5 * 24**-0.5)
            nn.init.normal_(blk.attn.out_proj.weight, std=dim**-0.5 * 24**-0.5)
            nn.init.normal_(blk.attn.in_proj_weight, std=dim**-0.5)


class SideVisionTransformer(clip.VisionTransformer):
    """The frozen CLIP ViT (no head) with the side network; the original ``VisualTransformer``.

    ``forward(x5)`` takes windows ``(B*T, 5, 3, H, W)`` and returns the pooled side features ``(B, C)``.
    """

    def __init__(self, cfg: TDSConfig):
        super().__init__(
            input_resolution=cfg.image_resolution,
            patch_size=cfg.vision_patch_size,
            width=cfg.vision_width,
            layers=cfg.vision_layers,
            heads=cfg.vision_heads,
            output_dim=None,
        )
        self.num_segments = cfg.num_segments
        c, p = cfg.side_dim, cfg.vision_patch_size
        self.transformer = SideTransformer(
            cfg.vision_width,
            cfg.vision_layers,
            cfg.vision_heads,
            side_dim=c,
            side_heads=cfg.side_heads,
            num_patches=cfg.grid**2,
            num_segments=cfg.num_segments,
            mlp_ratio=cfg.mlp_ratio,
            td_reduction=cfg.td_reduction,
        )
        self.side_post_bn = nn.BatchNorm3d(c)
        _add_stems(self, c, p)
        # the trunk runs without autograd (its weights are frozen); False = let autograd see it
        # (benchmarks, full fine-tuning)
        self.trunk_no_grad = True

    def stems(self, x5: torch.Tensor, taps: Optional[dict] = None) -> torch.Tensor:
        """Windows ``(B*T, 5, 3, H, W)`` -> initial side tokens ``(B*T, N, C)``."""
        return side_stems(self, x5, self.num_segments, taps)

    def head_features(self, s: torch.Tensor, taps: Optional[dict] = None) -> torch.Tensor:
        """Side tokens ``(B*T, N, C)`` -> post-BN map -> pooled ``(B, C)``."""
        bt, n, c = s.shape
        g = int(round(n**0.5))
        t = self.num_segments
        post = self.side_post_bn(s.reshape(bt // t, t, g, g, c).permute(0, 4, 1, 2, 3))
        if taps is not None:
            taps["post_bn_out"] = post
        return post.mean(dim=(2, 3, 4))

    def forward(self, x5: torch.Tensor, taps: Optional[dict] = None) -> torch.Tensor:
        """Windows ``(B*T, 5, 3, H, W)`` -> pooled side features ``(B, C)``; ``taps`` collects intermediates."""
        s = self.stems(x5, taps)
        if taps is not None:
            taps["side_init"] = s
        centre = x5[:, x5.shape[1] // 2]
        tr = self.transformer
        pos = tr.side_spatial_position_embeddings
        ctx = torch.no_grad() if self.trunk_no_grad else torch.enable_grad()
        with ctx:
            h = self.embed(centre)
        if taps is not None:
            taps["clip_tokens_after_ln_pre"] = h
        for i, blk in enumerate(tr.resblocks):
            with ctx:
                h = blk(h)
            p = tr.side_linears[i](tr.side_lns[i](h))
            s = 0.5 * s + 0.5 * p[:, 1:]
            block_in = s
            s = tr.side_transformer[i](s, p[:, :1], pos)
            if taps is not None:
                taps.update({f"clip_block_out.{i}": h, f"side_proj.{i}": p, f"side_block_in.{i}": block_in})
                taps[f"side_block_out.{i}"] = s
        return self.head_features(s, taps)


def to_frame_windows(x: torch.Tensor) -> torch.Tensor:
    """Either input layout -> windows ``(B*T, 5, 3, H, W)``.

    ``(B*T*5, 3, H, W)`` (training loader, flattened) or ``(B*V*T, 15, H, W)`` (test loader) or
    loader batches ``(B, T*5*3, H, W)``; all hold the same bytes in the same order.
    """
    h, w = x.shape[-2:]
    frames = x.numel() // (3 * h * w)
    if x.dim() in (4, 5) and x.shape[-3] % 3 == 0 and frames % WINDOW == 0:
        return x.reshape(-1, WINDOW, 3, h, w)
    raise ValueError(f"expected frames (B*T*5, 3, H, W), (B*V*T, 15, H, W) or (B, T*15, H, W); got {tuple(x.shape)}")


def is_trainable_name(name: str) -> bool:
    """The original ``my_fix_clip`` rule: everything under ``visual.`` is frozen except ``side`` modules."""
    return not name.startswith("visual.") or "side" in name


class VideoCLIP(nn.Module):
    """The original ``VideoCLIP``: ``visual`` (CLIP trunk + side network) and a linear ``fc``.

    ``forward(x)`` takes any layout :func:`to_frame_windows` accepts and returns logits
    ``(B, K)`` (``B`` counting views at test time).
    """

    def __init__(self, cfg: TDSConfig):
        super().__init__()
        self.config = cfg
        self.visual = SideVisionTransformer(cfg)
        self.dropout = nn.Dropout(cfg.drop_fc) if cfg.drop_fc > 0 else nn.Identity()
        self.fc = nn.Linear(cfg.side_dim, cfg.num_classes)
        self.freeze_trunk()

    def freeze_trunk(self) -> None:
        """``requires_grad=False`` on the CLIP weights (everything under ``visual.`` without ``side``)."""
        for name, p in self.named_parameters():
            p.requires_grad_(is_trainable_name(name))

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The state of everything trained (side network, its BN buffers, ``fc``): what checkpoints hold."""
        return OrderedDict((k, v) for k, v in self.state_dict().items() if is_trainable_name(k))

    def forward_features(self, x: torch.Tensor, taps: Optional[dict] = None) -> torch.Tensor:
        """Pooled side features ``(B, C)``."""
        return self.visual(to_frame_windows(x), taps)

    def forward(self, x: torch.Tensor, taps: Optional[dict] = None) -> torch.Tensor:
        pooled = self.forward_features(x, taps)
        if taps is not None:
            taps["pooled"] = pooled
        return self.fc(self.dropout(pooled))
