"""The XKD pre-training graph (``XKD_Net``) and its MAS / MATS variants.

Module tree (original state-dict names): ``vid_teacher``, ``vid_student`` (``backbone`` + ``head``),
``vid_ae`` (MAE whose ``encoder`` IS ``vid_student.backbone``), the same three for audio, and the
two DINO centres ``vt2as_ce_loss.center`` / ``at2vs_ce_loss.center``. XKD-MAS shares the students'
block stack (``*.backbone.encoder``) between the modalities, XKD-MATS the teachers' too.

One forward (:meth:`XKDNet.forward`) computes, for ``frames = [global, local_1, ...]`` ``(B,3,T,H,W)``
and ``specs = [global, local_1, ...]`` ``(B,1,F,T)``:

1. masked reconstruction of the global views (video and audio MAE);
2. the teachers (no grad) on the first LOCAL view, their last-layer CLS attention re-weighting the
   patch tokens (:func:`refine`) before the teacher head;
3. the students: global = head(mean of the MAE latent's visible tokens), locals unmasked;
4. domain alignment: MMD between the students' outputs (and, gradient-free, the teachers');
5. cross-modal DINO distillation (video teacher -> audio student and vice versa), centres updated
   after the loss;
6. ``loss = (align_coeff * align + cmkd_coeff * kd + recon_coeff * recon) / sum(coeffs)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

import torch
import torch.nn as nn

from videokd.losses import DINOLoss, mmd_loss

from .head import DINOHead, Wrapper, parse_projector_cfg
from .mae import MAEWrapper
from .vit import DECODER_SIZES, ENCODER_SIZES, AudioViT, VideoViT, init_xkd_weights

__all__ = ["VARIANTS", "XKDNet", "refine", "build_model", "resolve_size"]

VARIANTS = ("XKD", "XKD_MAS", "XKD_MATS")


def resolve_size(name: Any, table: Mapping[str, Any], kind: str) -> tuple[int, int, int]:
    """``(embed_dim, depth, num_heads)`` from a size name, a dict or a triple."""
    if isinstance(name, Mapping):
        return int(name["embed_dim"]), int(name["depth"]), int(name["num_heads"])
    if isinstance(name, (list, tuple)):
        return tuple(int(v) for v in name)  # type: ignore[return-value]
    if name in table:
        v = table[name]
        return resolve_size(v, table, kind) if isinstance(v, Mapping) else tuple(v)
    raise ValueError(f"unknown {kind} size {name!r}; known: {sorted(table)}")


def refine(
    attn: torch.Tensor, tokens: torch.Tensor, other_attn: torch.Tensor, *, mode: str = "mean"
) -> dict[str, torch.Tensor]:
    """Cross-modal attention refinement of one teacher's patch tokens.

    Args:
        attn: ``(B, H, 1+N, 1+N)`` this teacher's last-layer attention (rows softmaxed).
        tokens: ``(B, 1+N, D)`` its normed tokens.
        other_attn: ``(B, H, 1+M, 1+M)`` the other modality's teacher attention.
        mode: ``"mean"`` (XKD): ``a * mean_p(a_other) / mean_p(a)``; ``"softmax"``:
            ``softmax_p(a * mean_p(a_other))``.
    Returns ``cls_attn (B,H,N)``, ``cm_attn (B,H,N)``, ``refined (B,N,D)`` (``sqrt(E0/E1) * w * f``
    with ``w`` the head-mean of ``cm_attn``, ``E0 = |mean_p f|^2``, ``E1 = |mean_p (w f)|^2``) and
    ``refined_mean (B, D)``.
    """
    cls_attn = attn[:, :, 0, 1:]
    other = other_attn[:, :, 0, 1:].mean(dim=-1, keepdim=True)
    if mode == "mean":
        cm = cls_attn * other / cls_attn.mean(dim=-1, keepdim=True)
    elif mode == "softmax":
        cm = (cls_attn * other).softmax(dim=-1)
    else:
        raise ValueError(f"cm_attn_mode must be 'mean' or 'softmax', got {mode!r}")
    feats = tokens[:, 1:]
    w = cm.mean(dim=1).unsqueeze(-1)  # (B, N, 1)
    weighted = w * feats
    e0 = feats.mean(dim=1).pow(2).sum(dim=-1)
    e1 = weighted.mean(dim=1).pow(2).sum(dim=-1)
    refined = (e0 / e1).sqrt()[:, None, None] * weighted
    return {"cls_attn": cls_attn, "cm_attn": cm, "refined": refined, "refined_mean": refined.mean(dim=1)}


class XKDNet(nn.Module):
    """XKD / XKD-MAS / XKD-MATS (``variant``). Sizes: ``(embed_dim, depth, heads)`` triples.

    ``original_student_temp``: the original feeds ``student_temp['audio']`` to the video student too
    (harmless at the released 0.1 / 0.1); ``False`` uses ``student_temp['video']``.
    ``teacher_view``: ``"first_local"`` (the original code) or ``"global"`` (the paper figure).
    """

    def __init__(
        self,
        *,
        variant: str = "XKD",
        frame_size: Sequence[int] = (3, 112, 112),
        num_frames: int = 32,
        vid_patch_spatial: Sequence[int] = (16, 16),
        vid_patch_temporal: int = 4,
        spec_size: Sequence[int] = (80, 448),
        spec_patch_spatial: Sequence[int] = (4, 16),
        encoder: Sequence[int] = ENCODER_SIZES["base_encoder"],
        decoder: Sequence[int] = DECODER_SIZES["base_decoder"],
        projector: Any = "2048-gelu-3-256-8192-norm3",
        center_momentum: Sequence[float] = (0.9, 0.9),
        norm_pix_loss: bool = True,
        original_student_temp: bool = False,
        teacher_view: str = "first_local",
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"model.name must be one of {VARIANTS}, got {variant!r}")
        if teacher_view not in ("first_local", "global"):
            raise ValueError(f"teacher_view must be 'first_local' or 'global', got {teacher_view!r}")
        self.variant = variant
        self.original_student_temp = original_student_temp
        self.teacher_view = teacher_view
        dim, depth, heads = encoder
        ddim, ddepth, dheads = decoder
        proj = parse_projector_cfg(projector)
        self.out_dim = int(proj["out_dim"])

        def video_vit():
            return VideoViT(
                frame_size=frame_size,
                num_frames=num_frames,
                patch_spatial=vid_patch_spatial,
                patch_temporal=vid_patch_temporal,
                embed_dim=dim,
                depth=depth,
                num_heads=heads,
            )

        def audio_vit():
            return AudioViT(
                spec_size=spec_size, patch_spatial=spec_patch_spatial, embed_dim=dim, depth=depth, num_heads=heads
            )

        def head():
            return DINOHead(dim, **proj)

        self.vid_teacher = Wrapper(video_vit(), head())
        self.vid_student = Wrapper(video_vit(), head())
        vs = self.vid_student.backbone
        self.vid_ae = MAEWrapper(
            vs,
            num_patches=vs.enc_pos_embed.shape[1] - 1,
            patch_dim=vs.cuboid_embed.proj.in_features,
            decoder_dim=ddim,
            decoder_depth=ddepth,
            decoder_heads=dheads,
            norm_pix_loss=norm_pix_loss,
        )
        self.aud_teacher = Wrapper(audio_vit(), head())
        self.aud_student = Wrapper(audio_vit(), head())
        aus = self.aud_student.backbone
        self.aud_ae = MAEWrapper(
            aus,
            num_patches=aus.enc_pos_embed.shape[1] - 1,
            patch_dim=aus.patch_embed.proj.in_features,
            decoder_dim=ddim,
            decoder_depth=ddepth,
            decoder_heads=dheads,
            norm_pix_loss=norm_pix_loss,
        )
        if variant in ("XKD_MAS", "XKD_MATS"):
            self.aud_student.backbone.encoder = self.vid_student.backbone.encoder
        if variant == "XKD_MATS":
            self.aud_teacher.backbone.encoder = self.vid_teacher.backbone.encoder
        self.vt2as_ce_loss = DINOLoss(self.out_dim, center_momentum=float(center_momentum[0]))
        self.at2vs_ce_loss = DINOLoss(self.out_dim, center_momentum=float(center_momentum[1]))

        # the MAE wrappers re-initialise themselves, the shared student encoder included
        init_xkd_weights(self.vid_ae)
        init_xkd_weights(self.aud_ae)
        self.init_teachers()

    # ------------------------------------------------------------------ structure
    @property
    def students(self) -> tuple[Wrapper, Wrapper]:
        return self.vid_student, self.aud_student

    @property
    def teachers(self) -> tuple[Wrapper, Wrapper]:
        return self.vid_teacher, self.aud_teacher

    @torch.no_grad()
    def init_teachers(self) -> None:
        """Copy each student into its teacher and freeze the teachers (and every ``weight_g``)."""
        for teacher, student in ((self.vid_teacher, self.vid_student), (self.aud_teacher, self.aud_student)):
            teacher.load_state_dict(student.state_dict(), strict=False)
            teacher.requires_grad_(False)
        for name, p in self.named_parameters():
            if name.endswith("last_layer.weight_g"):
                p.requires_grad_(False)

    def student_named_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """Trainable tensors of ``vid_student`` then ``aud_student`` (own paths), each tensor once."""
        out, seen = [], set()
        for prefix, wrapper in (("vid_student", self.vid_student), ("aud_student", self.aud_student)):
            for name, p in wrapper.named_parameters():
                if p.requires_grad and id(p) not in seen:
                    seen.add(id(p))
                    out.append((f"{prefix}.{name}", p))
        return out

    def last_layer_parameters(self) -> list[nn.Parameter]:
        return [w.head.last_layer.weight_v for w in self.students]

    @torch.no_grad()
    def update_teachers(self, vid_momentum: float, aud_momentum: float, *, shared_twice: bool = False) -> None:
        """EMA ``theta_t <- m theta_t + (1 - m) theta_s`` per modality, pairing tensors by path.

        In XKD-MATS the original visits the shared teacher blocks in both updates (``shared_twice=True``:
        effective momentum ``m_v * m_a``); the default moves every distinct tensor once (with ``m_v``
        for the shared blocks).
        """
        done: set[int] = set()
        for teacher, student, m in (
            (self.vid_teacher, self.vid_student, vid_momentum),
            (self.aud_teacher, self.aud_student, aud_momentum),
        ):
            s_params = dict(student.named_parameters(remove_duplicate=False))
            t_list, s_list = [], []
            for name, t in teacher.named_parameters():
                if not shared_twice and id(t) in done:
                    continue
                done.add(id(t))
                t_list.append(t)
                s_list.append(s_params[name].detach())
            torch._foreach_mul_(t_list, m)
            torch._foreach_add_(t_list, s_list, alpha=1.0 - m)

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        frames: Sequence[torch.Tensor],
        specs: Sequence[torch.Tensor],
        *,
        teacher_temp: Mapping[str, float],
        student_temp: Mapping[str, float],
        global_views_number: int = 1,
        vid_mask_ratio: float = 0.85,
        aud_mask_ratio: float = 0.8,
        cm_attn_mode: str = "mean",
        align_coeff: float = 1.0,
        cmkd_coeff: float = 1.0,
        recon_coeff: float = 5.0,
        align_mode: Any = None,  # accepted for config compatibility; the original ignores it too
        vid_mask_noise: Optional[torch.Tensor] = None,
        aud_mask_noise: Optional[torch.Tensor] = None,
        return_details: bool = False,
    ) -> dict[str, torch.Tensor]:
        g = int(global_views_number)
        if len(frames) <= g or len(specs) <= g:
            raise ValueError(
                f"XKD needs {g} global view(s) and at least one local view per modality; got {len(frames)} video "
                f"and {len(specs)} audio views"
            )
        out: dict[str, torch.Tensor] = {}
        # 1. masked reconstruction of the global views
        vid_mae = self.vid_ae(torch.cat(list(frames[:g])), vid_mask_ratio, noise=vid_mask_noise)
        aud_mae = self.aud_ae(torch.cat(list(specs[:g])), aud_mask_ratio, noise=aud_mask_noise)

        # 2. teachers on the first local view (or the global one), refined by cross-modal attention
        t_idx = g if self.teacher_view == "first_local" else 0
        with torch.no_grad():
            v_attn, v_tok = self.vid_teacher.backbone.forward_last_layer_attn(frames[t_idx])
            a_attn, a_tok = self.aud_teacher.backbone.forward_last_layer_attn(specs[t_idx])
            v_ref = refine(v_attn, v_tok, a_attn, mode=cm_attn_mode)
            a_ref = refine(a_attn, a_tok, v_attn, mode=cm_attn_mode)
            vid_teacher_out = self.vid_teacher.head(v_ref["refined_mean"])
            aud_teacher_out = self.aud_teacher.head(a_ref["refined_mean"])

        # 3. students: global from the MAE latent's visible tokens, locals unmasked
        v_global_in = vid_mae["latent"][:, 1:].mean(dim=1)
        a_global_in = aud_mae["latent"][:, 1:].mean(dim=1)
        v_local_in, v_local_out = self.vid_student(torch.cat(list(frames[g:])))
        a_local_in, a_local_out = self.aud_student(torch.cat(list(specs[g:])))
        vid_student_out = torch.cat((self.vid_student.head(v_global_in), v_local_out))
        aud_student_out = torch.cat((self.aud_student.head(a_global_in), a_local_out))

        # 4. domain alignment, in float32 even under autocast
        with torch.autocast(device_type=vid_student_out.device.type, enabled=False):
            as2vs = mmd_loss(vid_student_out.float(), aud_student_out.float())
            with torch.no_grad():
                vt2at = mmd_loss(vid_teacher_out.float(), aud_teacher_out.float())
        alignment = (as2vs + vt2at) / 2

        # 5. cross-modal distillation (centres move after the loss)
        s_temp_video = student_temp["audio"] if self.original_student_temp else student_temp["video"]
        vt2as = self.vt2as_ce_loss(
            aud_student_out.float(),
            vid_teacher_out.float(),
            student_temp=float(student_temp["audio"]),
            teacher_temp=float(teacher_temp["video"]),
            num_student_views=len(specs),
            num_teacher_views=g,
        )
        at2vs = self.at2vs_ce_loss(
            vid_student_out.float(),
            aud_teacher_out.float(),
            student_temp=float(s_temp_video),
            teacher_temp=float(teacher_temp["audio"]),
            num_student_views=len(frames),
            num_teacher_views=g,
        )
        cmkd = (vt2as + at2vs) / 2
        recon = (vid_mae["loss"] + aud_mae["loss"]) / 2
        total = (align_coeff * alignment + cmkd_coeff * cmkd + recon_coeff * recon) / (
            align_coeff + cmkd_coeff + recon_coeff
        )
        out.update(
            vid_recon_loss=vid_mae["loss"],
            aud_recon_loss=aud_mae["loss"],
            as2vs_align_loss=as2vs,
            vt2at_align_loss=vt2at,
            vt2as_kd_loss=vt2as,
            at2vs_kd_loss=at2vs,
            recon_loss=recon,
            cmkd_loss=cmkd,
            alignment_loss=alignment,
            loss=total,
        )
        if return_details:
            out.update(
                vid_mae_latent=vid_mae["latent"],
                vid_mask=vid_mae["mask"],
                vid_ids_restore=vid_mae["ids_restore"],
                vid_mae_pred=vid_mae["pred"],
                aud_mae_latent=aud_mae["latent"],
                aud_mask=aud_mae["mask"],
                aud_ids_restore=aud_mae["ids_restore"],
                aud_mae_pred=aud_mae["pred"],
                vid_teacher_attn=v_attn,
                vid_teacher_tokens=v_tok,
                aud_teacher_attn=a_attn,
                aud_teacher_tokens=a_tok,
                vid_cls_attn=v_ref["cls_attn"],
                aud_cls_attn=a_ref["cls_attn"],
                vid_cm_attn=v_ref["cm_attn"],
                aud_cm_attn=a_ref["cm_attn"],
                vid_teacher_refined=v_ref["refined"],
                aud_teacher_refined=a_ref["refined"],
                vid_teacher_head_in=v_ref["refined_mean"],
                vid_teacher_out=vid_teacher_out,
                aud_teacher_head_in=a_ref["refined_mean"],
                aud_teacher_out=aud_teacher_out,
                vid_student_local_head_in=v_local_in,
                vid_student_global_head_in=v_global_in,
                aud_student_local_head_in=a_local_in,
                aud_student_global_head_in=a_global_in,
                vid_student_out=vid_student_out,
                aud_student_out=aud_student_out,
                vt2as_center_after=self.vt2as_ce_loss.center.clone(),
                at2vs_center_after=self.at2vs_ce_loss.center.clone(),
            )
        return out


def build_model(
    model_cfg: Mapping[str, Any], *, sizes: Optional[Mapping[str, Mapping[str, Any]]] = None, **overrides: Any
) -> XKDNet:
    """An :class:`XKDNet` from the yaml's ``model`` section (``name`` + ``kwargs``).

    ``sizes``: extra size tables ``{"encoder": {...}, "decoder": {...}, "projector": {...}}`` (name ->
    ``{embed_dim, depth, num_heads}`` / projector dict), added to the built-in ones.
    """
    kw = dict(model_cfg.get("kwargs", {}))
    sizes = sizes or {}
    enc_table = {**ENCODER_SIZES, **sizes.get("encoder", {})}
    dec_table = {**DECODER_SIZES, **sizes.get("decoder", {})}
    proj_table = dict(sizes.get("projector", {}))
    student = kw.pop("student_cfg", "base_encoder")
    teacher = kw.pop("teacher_cfg", student)
    if resolve_size(teacher, enc_table, "teacher") != resolve_size(student, enc_table, "student"):
        raise ValueError(f"teacher_cfg {teacher!r} and student_cfg {student!r} must be the same size (EMA teachers)")
    projector = kw.pop("projector_cfg", "2048-gelu-3-256-8192-norm3")
    masking_fn = kw.pop("masking_fn", "random_masking")
    if masking_fn != "random_masking":
        raise ValueError(f"model.kwargs.masking_fn: only 'random_masking' exists, got {masking_fn!r}")
    align = kw.pop("align_loss", "mmd")
    if align != "mmd":
        raise ValueError(f"model.kwargs.align_loss: only 'mmd' is implemented, got {align!r}")
    if not kw.pop("apply_cls_token", True):
        raise ValueError("model.kwargs.apply_cls_token: false is not supported (XKD always uses a CLS token)")
    args = dict(
        variant=model_cfg.get("name", "XKD"),
        encoder=resolve_size(student, enc_table, "encoder"),
        decoder=resolve_size(kw.pop("decoder_cfg", "base_decoder"), dec_table, "decoder"),
        projector=proj_table.get(projector, projector) if isinstance(projector, str) else projector,
    )
    for key in (
        "frame_size",
        "num_frames",
        "vid_patch_spatial",
        "vid_patch_temporal",
        "spec_size",
        "spec_patch_spatial",
        "center_momentum",
        "norm_pix_loss",
        "original_student_temp",
        "teacher_view",
    ):
        if key in kw:
            args[key] = kw.pop(key)
    if kw:
        raise ValueError(f"unknown model.kwargs {sorted(kw)}")
    args.update(overrides)
    return XKDNet(**args)
