"""The KICLIP model: a CLIP student with knowledge injection, a frozen CLIP teacher and FROSTER's residual heads.

Parameter names are the original wrapper's, so original checkpoints load:

* ``model.*``: the student CLIP (OpenAI names); its visual tower has temporal blocks
  (``model.visual.transformer.resblocks``) and the frozen per-frame copy used for injection
  (``model.visual.transformer.resblocks_f``);
* ``raw_model.*``: the frozen teacher CLIP (present when ``keep_teacher``);
* ``projector_v`` / ``projector_t``: ``Linear(E,E,bias=False) -> GELU -> Linear(E,E,bias=False)``,
  the second layer zero-initialised;
* ``res_classifier``: the optional auxiliary head ``E -> 768 -> 1000 -> C`` (its loss weight is 0
  in the released code).

Forward, for ``video (B, 3, T, R, R)``:

* frames go clip-major ``(B*T, 3, R, R)``; ``f`` = L2-normalised student features;
* the classifier ``W`` is the mean over prompt sets of the **unnormalised** text features, then L2
  (training: one drawn template set + the bare description; eval: all 29 sets);
* ``pred = mean_T(exp(logit_scale) f W^T)`` (logits are averaged over frames, not features);
* training with a teacher also returns ``f' = f + 0.1 P_v(f)``, ``W' = W + 0.1 P_t(W)`` (applied after
  the logits, not renormalised), the teacher's normalised frame features ``g`` and classifier
  ``W_T`` built from the same prompt sets, and the aux head's logits on ``mean_T(f')``.

The template of a training step is drawn inside the forward with ``random.randint(0, 27)`` from
``template_rng`` (Python's global ``random`` by default, as upstream).

Checkpoints written from this module leave out what the CLIP file rebuilds (``raw_model.*`` and
``resblocks_f``, set ``save_frozen`` to keep them); :meth:`load_state_dict` fills those back in.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from videokd.clip import CLIP, CLIPConfig
from videokd.errors import UserError

from .layers import KIVisionTransformer
from .prompts import TEMPLATES, draw_template, tokenize_prompt_sets

__all__ = [
    "KICLIP",
    "AuxInitError",
    "residual_head",
    "aux_classifier",
    "encode_prompt_sets",
    "read_aux_init",
    "FROZEN_PREFIXES",
]

#: state-dict prefixes that the CLIP file rebuilds (left out of checkpoints by default)
FROZEN_PREFIXES = ("raw_model.", "model.visual.transformer.resblocks_f.")


def residual_head(dim: int) -> nn.Sequential:
    """FROSTER's residual projection: Kaiming-normal first layer, exact GELU, zero-initialised second layer."""
    head = nn.Sequential(nn.Linear(dim, dim, bias=False), nn.GELU(), nn.Linear(dim, dim, bias=False))
    nn.init.kaiming_normal_(head[0].weight)
    nn.init.zeros_(head[2].weight)
    return head


def aux_classifier(dim: int, num_classes: int, *, hidden: Sequence[int] = (768, 1000)) -> nn.Sequential:
    """The auxiliary classifier ``Linear(E,768) -> GELU -> Linear(768,1000) -> GELU -> Linear(1000,C)``.

    Upstream copies the middle layer from torchvision's ImageNet ViT-B/16 head; load it with
    :meth:`KICLIP.load_aux_init` when wanted (never downloaded here).
    """
    a, b = hidden
    return nn.Sequential(nn.Linear(dim, a), nn.GELU(), nn.Linear(a, b), nn.GELU(), nn.Linear(b, num_classes))


class AuxInitError(UserError, ValueError):
    """An aux-head initialisation file that cannot be used (names the file and what was expected)."""


#: torchvision's ViT-B/16 ImageNet-1k head, the layer upstream copies into the aux classifier
TORCHVISION_HEAD = ("heads.head.weight", "heads.head.bias")


def read_aux_init(path: str | os.PathLike, *, in_features: int = 768, out_features: int = 1000) -> dict:
    """``{"weight": (out, in), "bias": (out,)}`` from a LOCAL file (nothing is downloaded).

    Accepted: torchvision's ViT-B/16 state dict (``vit_b_16-c867db91.pth`` from ``~/.cache/torch/hub/checkpoints``
    or ``torch.save(vit_b_16(weights="IMAGENET1K_V1").state_dict(), path)``; the keys ``heads.head.weight`` /
    ``heads.head.bias``), optionally under ``"state_dict"`` / ``"model"``, or just ``{"weight", "bias"}``.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            2,
            "aux head initialisation file not found (KICLIP.AUX_INIT; a local copy of torchvision's ViT-B/16 "
            "ImageNet weights, never downloaded here)",
            str(path),
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same user error
        raise AuxInitError(f"{path}: not a readable torch state dict ({type(err).__name__}: {err})") from None
    for key in ("state_dict", "model"):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
    if not isinstance(state, Mapping):
        raise AuxInitError(f"{path}: expected a state dict, got {type(state).__name__}")
    keys = TORCHVISION_HEAD if TORCHVISION_HEAD[0] in state else ("weight", "bias")
    if keys[0] not in state or keys[1] not in state:
        raise AuxInitError(
            f"{path}: no ImageNet head found: expected torchvision ViT-B/16's {TORCHVISION_HEAD[0]!r} / "
            f"{TORCHVISION_HEAD[1]!r} (or 'weight' / 'bias'); keys start {sorted(state)[:5]}"
        )
    weight, bias = state[keys[0]], state[keys[1]]
    want = ((out_features, in_features), (out_features,))
    if not torch.is_tensor(weight) or not torch.is_tensor(bias) or (tuple(weight.shape), tuple(bias.shape)) != want:
        got = tuple(getattr(weight, "shape", ())), tuple(getattr(bias, "shape", ()))
        raise AuxInitError(f"{path}: {keys[0]} / {keys[1]} have shapes {got}, expected {want}")
    return {"weight": weight.float(), "bias": bias.float()}


def encode_prompt_sets(clip_model: nn.Module, tokens: torch.Tensor, *, chunk: int = 4096) -> torch.Tensor:
    """Raw text features of prompt sets: tokens ``(S, C, L)`` -> ``(S, C, E)`` (one batched pass, chunked)."""
    s, c, length = tokens.shape
    flat = tokens.reshape(s * c, length)
    feats = torch.cat([clip_model.encode_text(flat[i : i + chunk]) for i in range(0, flat.shape[0], chunk)])
    return feats.view(s, c, -1)


def classifier_from_sets(features: torch.Tensor) -> torch.Tensor:
    """``(S, C, E)`` -> ``(C, E)``: mean of the unnormalised per-set features, then L2."""
    return F.normalize(features.mean(0), dim=-1)


class KICLIP(nn.Module):
    """KICLIP on the core CLIP; see the module docstring for names and outputs."""

    def __init__(
        self,
        config: CLIPConfig,
        *,
        num_frames: int,
        class_texts: Sequence[str],
        templates: Sequence[str] = TEMPLATES,
        keep_teacher: bool = True,
        injection: bool = True,
        residual_alpha: float = 0.1,
        aux_head: bool = False,
        num_classes: Optional[int] = None,
        share_frozen: bool = True,
        template_rng: Any = None,
    ):
        super().__init__()
        self.config = config
        self.num_frames = num_frames
        visual = KIVisionTransformer(
            input_resolution=config.image_resolution,
            patch_size=config.vision_patch_size,
            width=config.vision_width,
            layers=config.vision_layers,
            heads=config.vision_heads,
            output_dim=config.embed_dim,
            num_frames=num_frames,
            injection=injection,
        )
        self.model = CLIP(config, visual=visual)
        self.raw_model: Optional[CLIP] = None
        if keep_teacher:
            self.raw_model = CLIP(config).requires_grad_(False)
            if share_frozen and injection:
                # resblocks_f holds the teacher's visual block weights: share them (85 M parameters at ViT-B/16)
                self.model.visual.transformer.resblocks_f = self.raw_model.visual.transformer.resblocks
        self.projector_v = residual_head(config.embed_dim)
        self.projector_t = residual_head(config.embed_dim)
        self.residual_alpha = residual_alpha
        self.templates = tuple(templates)
        self.template_rng = template_rng if template_rng is not None else random
        self.res_classifier: Optional[nn.Sequential] = None
        if aux_head:
            self.res_classifier = aux_classifier(config.embed_dim, num_classes or len(class_texts))
        self.save_frozen = False
        self._register_state_dict_hook(KICLIP._drop_frozen_keys)
        self.set_classes(class_texts)

    # ------------------------------------------------------------------ classes and prompts

    def set_classes(self, class_texts: Sequence[str]) -> None:
        """Use these class texts (``"Name: description"``); tokenised once here, not at every forward."""
        self.class_texts = list(class_texts)
        tokens = tokenize_prompt_sets(self.class_texts, self.templates, context_length=self.config.context_length)
        device = self.model.logit_scale.device
        self.register_buffer("prompt_tokens", tokens.to(device), persistent=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_texts)

    def draw_template(self) -> int:
        """The training step's template set, ``randint(0, 27)`` from ``template_rng`` (upstream: global ``random``)."""
        return draw_template(self.template_rng, len(self.templates))

    def train_token_sets(self, template_index: int) -> torch.Tensor:
        """``(2, C, L)``: the drawn set, then the bare-description set."""
        return self.prompt_tokens[[template_index, len(self.templates) - 1]]

    @torch.no_grad()
    def text_classifier(self) -> torch.Tensor:
        """The evaluation classifier ``(C, E)`` from all prompt sets (compute once per evaluation)."""
        return classifier_from_sets(encode_prompt_sets(self.model, self.prompt_tokens))

    # ------------------------------------------------------------------ forward

    def frames(self, video: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T, R, R) -> (B*T, 3, R, R)``, clip-major."""
        if video.dim() != 5 or video.shape[1] != 3:
            raise ValueError(f"expected video (B, 3, T, H, W), got shape {tuple(video.shape)}")
        b, c, t, h, w = video.shape
        if t != self.num_frames:
            raise ValueError(f"video has {t} frames, the model was built for T={self.num_frames}")
        return video.transpose(1, 2).reshape(b * t, c, h, w)

    def forward(
        self,
        video: torch.Tensor,
        *,
        template_index: Optional[int] = None,
        classifier: Optional[torch.Tensor] = None,
        details: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Outputs as a dict (``pred (B, C)`` always; the distillation terms in training with a teacher).

        ``classifier``: a precomputed eval classifier ``(C, E)`` (:meth:`text_classifier`).
        ``template_index``: force the training template instead of drawing it.
        """
        b = video.shape[0]
        frames = self.frames(video)
        img, cls = self.model.visual.forward_with_cls(frames)
        f = F.normalize(img, dim=-1)
        out: dict[str, Any] = {}
        if self.training:
            k = self.draw_template() if template_index is None else int(template_index)
            token_sets = self.train_token_sets(k)
            per_set = encode_prompt_sets(self.model, token_sets)
            w = classifier_from_sets(per_set)
            out["template_index"] = k
        else:
            per_set = None
            w = self.text_classifier() if classifier is None else classifier
        frame_logits = (self.model.logit_scale.exp() * f @ w.t()).view(b, self.num_frames, -1)
        out["pred"] = frame_logits.mean(1)
        if details:
            out.update(
                img_encode_raw=img,
                img_encode_norm=f,
                cls_ln_post=cls,
                text_classifier=w,
                frame_logits=frame_logits,
            )
            if per_set is not None:
                out["text_features_per_set"] = per_set
        if not self.training or self.raw_model is None:
            return out
        with torch.no_grad():
            raw = self.raw_model.encode_image(frames)
            raw_sets = encode_prompt_sets(self.raw_model, token_sets)
        p_v, p_t = self.projector_v(f), self.projector_t(w)
        f_proj = f + self.residual_alpha * p_v
        w_proj = w + self.residual_alpha * p_t
        out.update(
            img_encode_proj=f_proj,
            text_classifier_proj=w_proj,
            raw_img_encode=F.normalize(raw, dim=-1),
            raw_text_classifier=classifier_from_sets(raw_sets),
        )
        if self.res_classifier is not None:
            pooled = f_proj.view(b, self.num_frames, -1).mean(1)
            out["res_clf"] = self.res_classifier(pooled)
            if details:
                out["res_classifier_input"] = pooled
        if details:
            out.update(
                raw_img_encode_unnormalised=raw,
                raw_text_features_per_set=raw_sets,
                projector_v_out=p_v,
                projector_t_out=p_t,
            )
        return out

    # ------------------------------------------------------------------ weights

    @torch.no_grad()
    def load_aux_init(self, source: str | os.PathLike | Mapping[str, torch.Tensor]) -> None:
        """Initialise the aux classifier's ``Linear(768, 1000)`` from a local ImageNet ViT-B/16 file
        (:func:`read_aux_init`) or its result, as upstream did by downloading torchvision's weights."""
        if self.res_classifier is None:
            raise AuxInitError(f"{source}: the model has no aux classifier (set KICLIP.AUX_HEAD True)")
        layer = self.res_classifier[2]
        if isinstance(source, Mapping):
            head = source
        else:
            head = read_aux_init(source, in_features=layer.in_features, out_features=layer.out_features)
        if head["weight"].shape != layer.weight.shape or head["bias"].shape != layer.bias.shape:
            raise AuxInitError(
                f"aux head init: shapes {tuple(head['weight'].shape)} / {tuple(head['bias'].shape)}, "
                f"expected {tuple(layer.weight.shape)} / {tuple(layer.bias.shape)}"
            )
        layer.weight.copy_(head["weight"])
        layer.bias.copy_(head["bias"])

    def frozen_modules(self) -> list[nn.Module]:
        """Modules to keep frozen and in eval mode (the Trainer's ``frozen=``)."""
        mods: list[nn.Module] = []
        if self.raw_model is not None:
            mods.append(self.raw_model)
        if self.model.visual.transformer.resblocks_f is not None:
            mods.append(self.model.visual.transformer.resblocks_f)
        return mods

    @torch.no_grad()
    def init_from_clip(self, clip_state: Mapping[str, torch.Tensor]) -> None:
        """Load OpenAI CLIP weights into the student, the teacher and the frozen injection blocks (fp32)."""
        state = {k: (v.to_dense() if v.layout != torch.strided else v).float() for k, v in clip_state.items()}
        for key in ("input_resolution", "context_length", "vocab_size"):
            state.pop(key, None)
        student = dict(state)
        frozen_prefix = "visual.transformer.resblocks_f."
        if self.model.visual.transformer.resblocks_f is not None:
            for k, v in state.items():
                if k.startswith("visual.transformer.resblocks."):
                    student[frozen_prefix + k[len("visual.transformer.resblocks.") :]] = v
        _load_exact(self.model, student, "the CLIP file (student)")
        if self.raw_model is not None:
            _load_exact(self.raw_model, state, "the CLIP file (teacher)")

    @staticmethod
    def _drop_frozen_keys(module: KICLIP, state: dict, prefix: str, local_metadata: Any) -> None:
        if module.save_frozen:
            return
        for key in [k for k in state if k.startswith(tuple(prefix + p for p in FROZEN_PREFIXES))]:
            del state[key]

    def full_state_dict(self) -> dict[str, torch.Tensor]:
        """The state dict including the teacher and ``resblocks_f`` (the original layout)."""
        keep, self.save_frozen = self.save_frozen, True
        try:
            return self.state_dict()
        finally:
            self.save_frozen = keep

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False):
        """Like ``nn.Module.load_state_dict``; keys the CLIP file rebuilds may be absent (kept as they are)."""
        state = dict(state_dict)
        for key, value in self.full_state_dict().items():
            if key.startswith(FROZEN_PREFIXES) and key not in state:
                state[key] = value
        return super().load_state_dict(state, strict=strict, assign=assign)


def _load_exact(module: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    from videokd.clip import load_state_dict_strict

    load_state_dict_strict(module, state, source=source)
