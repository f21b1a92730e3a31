"""OpenAI CLIP (ViT image tower + causal text transformer) with the original parameter names.

Every parameter keeps its name from OpenAI's ``clip/model.py`` so that the published checkpoints
(and the KICLIP / TDS-CLIP checkpoints built on them) load with ``strict=True``:

* image tower ``visual.``: ``conv1`` (no bias), ``class_embedding``, ``positional_embedding``,
  ``ln_pre``, ``transformer.resblocks.{i}``, ``ln_post``, ``proj``;
* text tower (top level): ``token_embedding``, ``positional_embedding``,
  ``transformer.resblocks.{i}``, ``ln_final``, ``text_projection``; and ``logit_scale``;
* block ``{i}``: ``ln_1``, ``attn.in_proj_weight`` / ``attn.in_proj_bias`` (q, k, v stacked on
  dim 0, PyTorch MHA convention), ``attn.out_proj``, ``ln_2``, ``mlp.c_fc``, ``mlp.c_proj``.

Differences from the original, none of which changes the numbers beyond float rounding:

* attention runs through :func:`torch.nn.functional.scaled_dot_product_attention` (flash /
  memory-efficient kernels on GPUs) instead of ``nn.MultiheadAttention``;
* token tensors are **batch-first** ``(N, L, D)`` inside the towers (the original is
  sequence-first ``(L, N, D)``), which is SDPA's layout and saves two transposes per block;
* the text tower uses SDPA's ``is_causal`` instead of a stored ``-inf`` mask;
* LayerNorm casts its weights as well as its input to fp32, so it also works after ``model.half()``.

Hooks for the papers: :meth:`Transformer.forward` can return every block's output (TDS-CLIP's side
network reads all of them), ``Transformer.resblocks`` is a plain ``ModuleList`` to run blocks one at
a time (KICLIP interleaves a frozen and a trained stream), :class:`ResidualAttentionBlock.attention`
is the single method to override for another attention pattern, and :class:`MultiheadAttention`
exposes its projections for attention variants that build their own keys and values.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Callable, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

__all__ = [
    "CLIPConfig",
    "MODEL_CONFIGS",
    "LayerNorm",
    "QuickGELU",
    "MultiheadAttention",
    "ResidualAttentionBlock",
    "Transformer",
    "VisionTransformer",
    "TextTransformer",
    "CLIP",
    "convert_weights",
    "infer_config",
    "create_model",
]


# --------------------------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class CLIPConfig:
    """Sizes of a ViT CLIP, named like the original ``CLIP.__init__`` arguments.

    ``vision_heads`` / ``transformer_heads`` default to CLIP's rule ``width // 64``; the module-level
    parity fixtures use other head counts, so both can be given explicitly.
    """

    embed_dim: int
    image_resolution: int
    vision_layers: int
    vision_width: int
    vision_patch_size: int
    context_length: int = 77
    vocab_size: int = 49408
    transformer_width: int = 512
    transformer_heads: Optional[int] = None
    transformer_layers: int = 12
    vision_heads: Optional[int] = None

    def __post_init__(self) -> None:
        for name in ("vision_width", "transformer_width"):
            width = getattr(self, name)
            heads_name = "vision_heads" if name == "vision_width" else "transformer_heads"
            heads = getattr(self, heads_name)
            if heads is None:
                if width < 64:
                    raise ValueError(
                        f"{name}={width} < 64: CLIP's rule heads = width // 64 gives 0 heads; set {heads_name}"
                    )
                object.__setattr__(self, heads_name, width // 64)
            elif width % heads:
                raise ValueError(f"{name}={width} is not divisible by {heads_name}={heads}")
        if self.image_resolution % self.vision_patch_size:
            raise ValueError(
                f"image_resolution={self.image_resolution} is not a multiple of vision_patch_size={self.vision_patch_size}"
            )

    @property
    def grid(self) -> int:
        """Patches per image side."""
        return self.image_resolution // self.vision_patch_size

    def to_dict(self) -> dict:
        return asdict(self)


# The four ViT models OpenAI released (ResNet CLIPs are not supported).
MODEL_CONFIGS: dict[str, CLIPConfig] = {
    "ViT-B/32": CLIPConfig(
        embed_dim=512,
        image_resolution=224,
        vision_layers=12,
        vision_width=768,
        vision_patch_size=32,
        transformer_width=512,
        transformer_heads=8,
        transformer_layers=12,
    ),
    "ViT-B/16": CLIPConfig(
        embed_dim=512,
        image_resolution=224,
        vision_layers=12,
        vision_width=768,
        vision_patch_size=16,
        transformer_width=512,
        transformer_heads=8,
        transformer_layers=12,
    ),
    "ViT-L/14": CLIPConfig(
        embed_dim=768,
        image_resolution=224,
        vision_layers=24,
        vision_width=1024,
        vision_patch_size=14,
        transformer_width=768,
        transformer_heads=12,
        transformer_layers=12,
    ),
    "ViT-L/14@336px": CLIPConfig(
        embed_dim=768,
        image_resolution=336,
        vision_layers=24,
        vision_width=1024,
        vision_patch_size=14,
        transformer_width=768,
        transformer_heads=12,
        transformer_layers=12,
    ),
}


# --------------------------------------------------------------------------------------------
# layers


class LayerNorm(nn.LayerNorm):
    """LayerNorm computed in fp32 and returned in the input dtype (as in OpenAI CLIP).

    fp16 LayerNorm loses too much precision in the variance; the weights are cast as well so the
    module keeps working after ``model.half()`` and under autocast.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.float() if self.weight is not None else None
        bias = self.bias.float() if self.bias is not None else None
        return F.layer_norm(x.float(), self.normalized_shape, weight, bias, self.eps).to(x.dtype)


class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 x)``, the GELU approximation CLIP was trained with."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


AttnMask = Optional[torch.Tensor]


class MultiheadAttention(nn.Module):
    """Multi-head attention with ``nn.MultiheadAttention``'s parameter names, computed by SDPA.

    Inputs are batch-first ``(N, L, D)``. ``in_proj_weight`` is ``(3D, D)`` with q, k, v stacked in
    that order; ``out_proj`` is an ``nn.Linear(D, D)``. ``attn_mask`` follows SDPA: a bool tensor
    (True = may attend) or a float tensor added to the scores (OpenAI's ``-inf`` masks work as is),
    broadcastable to ``(N, H, Lq, Lk)``. No dropout (CLIP uses none).
    """

    def __init__(self, embed_dim: int, num_heads: int):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # nn.MultiheadAttention's defaults (the original visual tower keeps them)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def _split_heads(self, x: torch.Tensor, n: int) -> torch.Tensor:
        # (N, L, n*D) -> n x (N, H, L, d); views only, last dim stays contiguous for SDPA
        b, length, _ = x.shape
        x = x.view(b, length, n, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return x

    def in_projection(
        self, x: torch.Tensor, kv: Optional[torch.Tensor] = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Project to heads: q from ``x`` ``(N, Lq, D)``, k and v from ``kv`` (default ``x``) ``(N, Lk, D)``.

        Returns ``q (N, H, Lq, d)``, ``k (N, H, Lk, d)``, ``v (N, H, Lk, d)``.
        """
        if kv is None:
            q, k, v = self._split_heads(F.linear(x, self.in_proj_weight, self.in_proj_bias), 3).unbind(0)
            return q, k, v
        d = self.embed_dim
        q = self._split_heads(F.linear(x, self.in_proj_weight[:d], self.in_proj_bias[:d]), 1)[0]
        k, v = self._split_heads(F.linear(kv, self.in_proj_weight[d:], self.in_proj_bias[d:]), 2).unbind(0)
        return q, k, v

    def out_projection(self, o: torch.Tensor) -> torch.Tensor:
        """Merge heads ``(N, H, L, d) -> (N, L, D)`` and apply ``out_proj``."""
        b, _, length, _ = o.shape
        return self.out_proj(o.transpose(1, 2).reshape(b, length, self.embed_dim))

    def forward(
        self,
        x: torch.Tensor,
        kv: Optional[torch.Tensor] = None,
        *,
        attn_mask: AttnMask = None,
        is_causal: bool = False,
    ) -> torch.Tensor:
        """``softmax(q k^T / sqrt(d) + mask) v`` then ``out_proj``; ``(N, Lq, D) -> (N, Lq, D)``."""
        q, k, v = self.in_projection(x, kv)
        if attn_mask is not None and attn_mask.dtype != torch.bool:
            attn_mask = attn_mask.to(q.dtype)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal)
        return self.out_projection(o)


class ResidualAttentionBlock(nn.Module):
    """Pre-LN transformer block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``.

    ``mlp`` is ``c_fc (D -> 4D)``, QuickGELU, ``c_proj (4D -> D)``. Subclasses that need another
    attention pattern (e.g. KICLIP's neighbour-frame attention) override :meth:`attention` only.
    """

    def __init__(
        self,
        d_model: int,
        n_head: int,
        *,
        mlp_ratio: float = 4.0,
        act_layer: Callable[[], nn.Module] = QuickGELU,
    ):
        super().__init__()
        hidden = int(d_model * mlp_ratio)
        self.attn = MultiheadAttention(d_model, n_head)
        self.ln_1 = LayerNorm(d_model)
        self.mlp = nn.Sequential(
            OrderedDict(
                [("c_fc", nn.Linear(d_model, hidden)), ("gelu", act_layer()), ("c_proj", nn.Linear(hidden, d_model))]
            )
        )
        self.ln_2 = LayerNorm(d_model)

    def attention(self, x: torch.Tensor, attn_mask: AttnMask = None, is_causal: bool = False) -> torch.Tensor:
        """Attention on the already layer-normed tokens ``(N, L, D)``."""
        return self.attn(x, attn_mask=attn_mask, is_causal=is_causal)

    def forward(self, x: torch.Tensor, attn_mask: AttnMask = None, is_causal: bool = False) -> torch.Tensor:
        """``(N, L, D) -> (N, L, D)``."""
        x = x + self.attention(self.ln_1(x), attn_mask, is_causal)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """A stack of :class:`ResidualAttentionBlock` named ``resblocks.{i}`` (a ``ModuleList``).

    Run blocks one at a time with ``for blk in t.resblocks: x = blk(x)``.
    """

    def __init__(self, width: int, layers: int, heads: int, *, mlp_ratio: float = 4.0):
        super().__init__()
        self.width = width
        self.layers = layers
        self.heads = heads
        self.resblocks = nn.ModuleList(
            [ResidualAttentionBlock(width, heads, mlp_ratio=mlp_ratio) for _ in range(layers)]
        )
        # activation checkpointing per block, trading compute for memory when training
        self.grad_checkpointing = False

    def forward(
        self,
        x: torch.Tensor,
        attn_mask: AttnMask = None,
        *,
        is_causal: bool = False,
        return_intermediates: bool = False,
    ) -> Union[torch.Tensor, tuple[torch.Tensor, list[torch.Tensor]]]:
        """``(N, L, D) -> (N, L, D)``; with ``return_intermediates`` also the list of every block's output."""
        outputs: list[torch.Tensor] = []
        for blk in self.resblocks:
            if self.grad_checkpointing and torch.is_grad_enabled() and not torch.jit.is_scripting():
                x = checkpoint(blk, x, attn_mask, is_causal, use_reentrant=False)
            else:
                x = blk(x, attn_mask, is_causal)
            if return_intermediates:
                outputs.append(x)
        return (x, outputs) if return_intermediates else x


# --------------------------------------------------------------------------------------------
# towers


class VisionTransformer(nn.Module):
    """CLIP's ViT image tower. Images ``(N, 3, R, R)`` -> embeddings ``(N, output_dim)``.

    Video frames go in flattened, ``(B*T, 3, R, R)``, or as ``(B, T, 3, R, R)`` which returns
    ``(B, T, output_dim)``. With ``output_dim=None`` the head (``ln_post``, ``proj``) is not built
    (TDS-CLIP's frozen trunk) and :meth:`forward` returns the final tokens ``(N, L, W)``.
    """

    def __init__(
        self,
        *,
        input_resolution: int,
        patch_size: int,
        width: int,
        layers: int,
        heads: int,
        output_dim: Optional[int],
    ):
        super().__init__()
        if input_resolution % patch_size:
            raise ValueError(f"input_resolution {input_resolution} is not a multiple of patch_size {patch_size}")
        self.input_resolution = input_resolution
        self.patch_size = patch_size
        self.grid = input_resolution // patch_size
        self.width = width
        self.output_dim = output_dim
        scale = width**-0.5
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(self.grid**2 + 1, width))
        self.ln_pre = LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        if output_dim is not None:
            self.ln_post = LayerNorm(width)
            self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Stem: patch conv, class token, positional embedding, ``ln_pre``. ``(N, 3, R, R) -> (N, 1+g*g, W)``."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images (N, 3, H, W), got shape {tuple(x.shape)}")
        if x.shape[-2] != self.input_resolution or x.shape[-1] != self.input_resolution:
            raise ValueError(
                f"image size {tuple(x.shape[-2:])} does not match the model's input_resolution "
                f"{self.input_resolution} (its positional embedding has {self.grid}x{self.grid}+1 rows)"
            )
        x = self.conv1(x.to(self.conv1.weight.dtype))  # (N, W, g, g)
        x = x.flatten(2).transpose(1, 2)  # (N, g*g, W), patches in row-major order
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        return self.ln_pre(x)

    def forward_features(
        self, x: torch.Tensor, *, return_intermediates: bool = False
    ) -> Union[torch.Tensor, tuple[torch.Tensor, list[torch.Tensor]]]:
        """Tokens after the last block ``(N, L, W)`` (and optionally every block's output)."""
        return self.transformer(self.embed(x), return_intermediates=return_intermediates)

    def pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """Head on the class token: ``ln_post(tokens[:, 0]) @ proj``. ``(N, L, W) -> (N, E)``."""
        if self.output_dim is None:
            raise RuntimeError("this VisionTransformer was built without a head (output_dim=None)")
        return self.ln_post(tokens[:, 0, :]) @ self.proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, R, R) -> (N, E)`` or ``(B, T, 3, R, R) -> (B, T, E)`` (tokens if there is no head)."""
        lead = x.shape[:-3]
        tokens = self.forward_features(x.reshape(-1, *x.shape[-3:]))
        out = tokens if self.output_dim is None else self.pool(tokens)
        return out.reshape(*lead, *out.shape[1:])


class _TextTower(nn.Module):
    """Builds the text tower under OpenAI's top-level names and provides :meth:`encode_text`.

    Shared by :class:`TextTransformer` (the tower alone) and :class:`CLIP` (which must keep these
    names at its top level so that OpenAI state dicts load strictly).
    """

    def _build_text_tower(
        self, *, embed_dim: int, context_length: int, vocab_size: int, width: int, heads: int, layers: int
    ) -> None:
        self.context_length = context_length
        self.vocab_size = vocab_size
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, width))
        self.transformer = Transformer(width, layers, heads)
        self.ln_final = LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, embed_dim))
        self._init_text_tower()

    def _init_text_tower(self) -> None:
        # the original CLIP.initialize_parameters (text side)
        t = self.transformer
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        proj_std = (t.width**-0.5) * ((2 * t.layers) ** -0.5)
        attn_std = t.width**-0.5
        fc_std = (2 * t.width) ** -0.5
        for blk in t.resblocks:
            nn.init.normal_(blk.attn.in_proj_weight, std=attn_std)
            nn.init.normal_(blk.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(blk.mlp.c_fc.weight, std=fc_std)
            nn.init.normal_(blk.mlp.c_proj.weight, std=proj_std)
        nn.init.normal_(self.text_projection, std=t.width**-0.5)

    def encode_text(self, text: torch.Tensor) -> torch.Tensor:
        """Token ids ``(N, L)`` (``L <= context_length``) -> text embeddings ``(N, E)``.

        Token + positional embedding, causal transformer, ``ln_final``, the row at the end-of-text
        token (the largest id in each row), ``@ text_projection``.
        """
        if text.dim() != 2:
            raise ValueError(f"expected token ids (N, L), got shape {tuple(text.shape)}")
        length = text.shape[1]
        if length > self.context_length:
            raise ValueError(f"{length} tokens per text exceed the model's context_length {self.context_length}")
        dtype = self.text_projection.dtype
        x = self.token_embedding(text).to(dtype) + self.positional_embedding[:length].to(dtype)
        x = self.transformer(x, is_causal=True)
        x = self.ln_final(x)
        eot = x[torch.arange(x.shape[0], device=x.device), text.argmax(dim=-1)]
        return eot @ self.text_projection


class TextTransformer(_TextTower):
    """CLIP's text tower alone, with the original (unprefixed) names. ``(N, L)`` ids -> ``(N, E)``."""

    def __init__(
        self,
        *,
        embed_dim: int,
        context_length: int = 77,
        vocab_size: int = 49408,
        width: int = 512,
        heads: Optional[int] = None,
        layers: int = 12,
    ):
        super().__init__()
        self._build_text_tower(
            embed_dim=embed_dim,
            context_length=context_length,
            vocab_size=vocab_size,
            width=width,
            heads=heads if heads is not None else width // 64,
            layers=layers,
        )

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return self.encode_text(text)


class CLIP(_TextTower):
    """ViT CLIP: ``visual`` (a :class:`VisionTransformer`), the text tower and ``logit_scale``.

    ``visual`` replaces the image tower built from ``config`` (e.g. a subclass with temporal
    attention); it must map images to ``(N, embed_dim)`` and should keep the original names.
    """

    def __init__(self, config: CLIPConfig, *, visual: Optional[nn.Module] = None):
        super().__init__()
        self.config = config
        if visual is None:
            visual = VisionTransformer(
                input_resolution=config.image_resolution,
                patch_size=config.vision_patch_size,
                width=config.vision_width,
                layers=config.vision_layers,
                heads=config.vision_heads,  # type: ignore[arg-type]
                output_dim=config.embed_dim,
            )
        self.visual = visual
        self._build_text_tower(
            embed_dim=config.embed_dim,
            context_length=config.context_length,
            vocab_size=config.vocab_size,
            width=config.transformer_width,
            heads=config.transformer_heads,  # type: ignore[arg-type]
            layers=config.transformer_layers,
        )
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    @property
    def dtype(self) -> torch.dtype:
        return self.visual.conv1.weight.dtype

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.visual.transformer.grad_checkpointing = enable
        self.transformer.grad_checkpointing = enable

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """``(N, 3, R, R) -> (N, E)``; video frames as ``(B*T, 3, R, R)`` or ``(B, T, 3, R, R) -> (B, T, E)``."""
        return self.visual(image)

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scaled cosine similarities: ``logits_per_image (N_img, N_txt)`` and its transpose."""
        image_features = F.normalize(self.encode_image(image), dim=-1)
        text_features = F.normalize(self.encode_text(text), dim=-1)
        logits_per_image = self.logit_scale.exp() * image_features @ text_features.t()
        return logits_per_image, logits_per_image.t()


# --------------------------------------------------------------------------------------------
# builders and dtype conversion


def convert_weights(model: nn.Module, dtype: torch.dtype = torch.float16) -> nn.Module:
    """Cast the matmul weights to ``dtype`` in place, as the original ``convert_weights`` does.

    Converted: Conv/Linear weights and biases, attention ``in_proj_*``, ``text_projection`` and
    ``proj``. Left in fp32: LayerNorm parameters, embeddings, ``class_embedding``,
    ``positional_embedding``, ``logit_scale`` (the forward casts them to the activation dtype).
    """

    def _convert(module: nn.Module) -> None:
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            module.weight.data = module.weight.data.to(dtype)
            if module.bias is not None:
                module.bias.data = module.bias.data.to(dtype)
        if isinstance(module, (MultiheadAttention, nn.MultiheadAttention)):
            for name in (
                "in_proj_weight",
                "q_proj_weight",
                "k_proj_weight",
                "v_proj_weight",
                "in_proj_bias",
                "bias_k",
                "bias_v",
            ):
                tensor = getattr(module, name, None)
                if tensor is not None:
                    tensor.data = tensor.data.to(dtype)
        for name in ("text_projection", "proj"):
            param = getattr(module, name, None)
            if isinstance(param, torch.Tensor):
                param.data = param.data.to(dtype)

    model.apply(_convert)
    return model


def _count_blocks(keys: list[str], prefix: str) -> int:
    return len({k[len(prefix) :].split(".", 1)[0] for k in keys if k.startswith(prefix)})


def infer_config(
    state_dict: Mapping[str, torch.Tensor],
    *,
    vision_heads: Optional[int] = None,
    transformer_heads: Optional[int] = None,
) -> CLIPConfig:
    """The sizes of the ViT CLIP that ``state_dict`` (OpenAI names) belongs to, as the original ``build_model`` infers them.

    vision width = ``conv1`` output channels, layers = number of ``visual.*attn.in_proj_weight``,
    patch = conv kernel, grid = sqrt(positional rows - 1), resolution = patch * grid; embed dim =
    ``text_projection`` columns; text context / vocab / width from ``positional_embedding``,
    ``token_embedding`` and ``ln_final``; heads = width // 64 unless given.
    """
    keys = list(state_dict)
    required = [
        "visual.conv1.weight",
        "visual.positional_embedding",
        "visual.proj",
        "text_projection",
        "positional_embedding",
        "token_embedding.weight",
        "ln_final.weight",
    ]
    missing = [k for k in required if k not in state_dict]
    if missing:
        hint = ""
        if "visual.layer1.0.conv1.weight" in state_dict or "visual.attnpool.c_proj.weight" in state_dict:
            hint = " It looks like a ResNet CLIP, which is not supported (ViT models only)."
        sample = ", ".join(keys[:8]) + (", ..." if len(keys) > 8 else "")
        raise ValueError(
            f"not an OpenAI ViT CLIP state dict: missing {missing}.{hint} "
            f"It has {len(keys)} keys, e.g. {sample or '<none>'}"
        )
    conv = state_dict["visual.conv1.weight"]
    pos = state_dict["visual.positional_embedding"]
    patch = int(conv.shape[-1])
    grid = int(round((pos.shape[0] - 1) ** 0.5))
    if grid * grid + 1 != pos.shape[0]:
        raise ValueError(f"visual.positional_embedding has {pos.shape[0]} rows, not 1 + a square number of patches")
    return CLIPConfig(
        embed_dim=int(state_dict["text_projection"].shape[1]),
        image_resolution=patch * grid,
        vision_layers=sum(1 for k in keys if k.startswith("visual.") and k.endswith(".attn.in_proj_weight")),
        vision_width=int(conv.shape[0]),
        vision_patch_size=patch,
        context_length=int(state_dict["positional_embedding"].shape[0]),
        vocab_size=int(state_dict["token_embedding.weight"].shape[0]),
        transformer_width=int(state_dict["ln_final.weight"].shape[0]),
        transformer_heads=transformer_heads,
        transformer_layers=_count_blocks(keys, "transformer.resblocks."),
        vision_heads=vision_heads,
    )


def create_model(config: Union[str, CLIPConfig], *, device: Union[str, torch.device, None] = None) -> CLIP:
    """A randomly initialised CLIP from a name in :data:`MODEL_CONFIGS` or a :class:`CLIPConfig`.

    ``device="meta"`` builds the structure without allocating weights (shape checks).
    """
    if isinstance(config, str):
        if config not in MODEL_CONFIGS:
            raise ValueError(f"unknown CLIP model {config!r}; known: {sorted(MODEL_CONFIGS)}")
        config = MODEL_CONFIGS[config]
    if device is None:
        return CLIP(config)
    with torch.device(device):
        return CLIP(config)
