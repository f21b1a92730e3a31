"""OpenAI CLIP for the videokd packages: one tokenizer, one model, one loader.

>>> from videokd import clip
>>> model, preprocess = clip.load("/path/to/ViT-B-16.pt")           # OpenAI archive or state dict
>>> text = clip.tokenize(["a video of a person juggling"])          # (1, 77) int64
>>> frames = preprocess(video_uint8)                                 # (T, 3, H, W) -> (T, 3, 224, 224)
>>> image_features = model.encode_image(frames)                      # (T, 512)
>>> text_features = model.encode_text(text)                          # (1, 512)

Building blocks for paper-specific towers: :class:`ResidualAttentionBlock` (override
``attention``), :class:`MultiheadAttention` (``in_projection`` / ``out_projection``),
:class:`Transformer` (``resblocks`` to iterate, ``return_intermediates`` for per-block tokens),
:class:`VisionTransformer` (``embed`` / ``forward_features`` / ``pool``) and
:class:`TextTransformer`. All token tensors are batch-first ``(N, L, D)``.
"""

from .loading import (
    MODEL_URLS,
    CheckpointMismatchError,
    available_models,
    build_model,
    default_download_root,
    load,
    load_state_dict_strict,
    model_sha256,
    model_url,
    read_state_dict,
)
from .model import (
    CLIP,
    MODEL_CONFIGS,
    CLIPConfig,
    LayerNorm,
    MultiheadAttention,
    QuickGELU,
    ResidualAttentionBlock,
    TextTransformer,
    Transformer,
    VisionTransformer,
    convert_weights,
    create_model,
    infer_config,
)
from .tokenizer import (
    EOT_TOKEN,
    SOT_TOKEN,
    VOCAB_PATH,
    VOCAB_SHA256,
    SimpleTokenizer,
    TextTooLongError,
    default_tokenizer,
    tokenize,
)
from .transform import CLIP_MEAN, CLIP_STD, Preprocess, normalize

__all__ = [
    "CLIP",
    "CLIPConfig",
    "CLIP_MEAN",
    "CLIP_STD",
    "CheckpointMismatchError",
    "EOT_TOKEN",
    "LayerNorm",
    "MODEL_CONFIGS",
    "MODEL_URLS",
    "MultiheadAttention",
    "Preprocess",
    "QuickGELU",
    "ResidualAttentionBlock",
    "SOT_TOKEN",
    "SimpleTokenizer",
    "TextTooLongError",
    "TextTransformer",
    "Transformer",
    "VOCAB_PATH",
    "VOCAB_SHA256",
    "VisionTransformer",
    "available_models",
    "build_model",
    "convert_weights",
    "create_model",
    "default_download_root",
    "default_tokenizer",
    "infer_config",
    "load",
    "load_state_dict_strict",
    "model_sha256",
    "model_url",
    "normalize",
    "read_state_dict",
    "tokenize",
]
