"""The frozen 2D teacher and the distillation terms (this package's design: the paper's own
distillation code is not public; it follows DistInit, Girdhar et al. 2019).

The teacher is a torchvision image network (ResNet-18/50 by default) that sees every
``frame_stride``-th frame of the student's clip. The student's pixels (``/ norm_value``, minus
the lineage mean, over the lineage std) are mapped back to [0, 1] and normalised with ImageNet
statistics, the teacher's per-frame outputs are averaged over time:

* ``logits`` ``(B, K)`` (its ``fc`` over the target classes), ``features`` ``(B, F)`` (the pooled
  vector fed to ``fc``), ``maps`` ``(B, C, T', h, w)`` (its last stage, for attention transfer).

Distillation terms (:class:`Distiller`), weighted as configured under ``kd``:

* ``logits``: ``(1 - alpha) CE(s, y) + alpha T^2 KL(softmax(t/T) || softmax(s/T))``.
* ``feature``: ``beta * MSE(P(f_s), f_t)`` with a learned linear projection ``P`` of the student's
  pooled feature (trained with the student).
* ``at_weight > 0``: attention transfer between the student's ``layer4`` and the teacher's last
  stage (time-averaged maps, resized to the student's grid).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from videokd.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from videokd.engine import load_weights
from videokd.errors import UserError
from videokd.losses import attention_transfer_loss, feature_matching_loss, kd_kl_div

__all__ = ["TeacherError", "Teacher2D", "build_teacher", "DistillStudent", "Distiller"]


class TeacherError(UserError, ValueError):
    """A teacher that cannot be built or loaded as configured."""


class Teacher2D(nn.Module):
    """A torchvision 2D classifier applied frame by frame; outputs averaged over time.

    ``forward(clip (B, 3, T, H, W) in the student's normalisation)`` ->
    ``{"logits": (B, K), "features": (B, F), "maps": (B, C, T', h, w)}``.
    """

    def __init__(
        self,
        net: nn.Module,
        *,
        student_mean: Sequence[float],
        student_std: Sequence[float],
        norm_value: float,
        frame_stride: int = 1,
    ) -> None:
        super().__init__()
        if not isinstance(getattr(net, "fc", None), nn.Linear):
            raise TeacherError(
                f"teacher {type(net).__name__} has no Linear 'fc' head (use a torchvision ResNet family)"
            )
        self.net = net
        self.frame_stride = max(1, int(frame_stride))
        # x_student = (p / nv - m) / s  ->  p / 255 = (x * s + m) * nv / 255
        scale = torch.tensor(student_std, dtype=torch.float32) * norm_value / 255.0
        shift = torch.tensor(student_mean, dtype=torch.float32) * norm_value / 255.0
        im_mean, im_std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        self.register_buffer("scale", (scale / im_std).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", ((shift - im_mean) / im_std).view(1, 3, 1, 1), persistent=False)

    @property
    def num_features(self) -> int:
        return self.net.fc.in_features

    def forward(self, clip: torch.Tensor) -> dict[str, torch.Tensor]:
        b, c, t = clip.shape[:3]
        frames = clip[:, :, :: self.frame_stride].transpose(1, 2)  # (B, T', 3, H, W)
        tt = frames.shape[1]
        x = frames.reshape(b * tt, c, *clip.shape[3:]) * self.scale + self.shift
        n = self.net
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        maps = n.layer4(n.layer3(n.layer2(n.layer1(x))))  # (B*T', C, h, w)
        feats = torch.flatten(n.avgpool(maps), 1)
        logits = n.fc(feats)
        return {
            "logits": logits.view(b, tt, -1).mean(1),
            "features": feats.view(b, tt, -1).mean(1),
            "maps": maps.view(b, tt, *maps.shape[1:]).transpose(1, 2),
        }


def build_teacher(
    cfg: Mapping[str, Any], *, n_classes: int, mean, std, norm_value: float, allow_random: bool = False
) -> Teacher2D:
    """The teacher of ``cfg["teacher"]``: ``arch`` from torchvision, weights from the ``weights``
    file (a state dict, or a checkpoint holding one; ``module.`` stripped) or torchvision's
    ``torchvision_weights`` (downloaded by torchvision once, for users with internet).
    ``allow_random`` permits a randomly initialised teacher (timing runs only)."""
    import torchvision

    from .opts import expand_root

    tc = dict(cfg["teacher"])
    tc["weights"] = expand_root(tc["weights"])
    k = tc["n_classes"] or n_classes
    try:
        if tc["torchvision_weights"]:
            net = torchvision.models.get_model(tc["arch"], weights=tc["torchvision_weights"])
            if net.fc.out_features != k:
                net.fc = nn.Linear(net.fc.in_features, k)
        else:
            net = torchvision.models.get_model(tc["arch"], num_classes=k)
    except (ValueError, KeyError) as err:
        raise TeacherError(f"teacher.arch={tc['arch']!r} / torchvision_weights: {err}") from None
    if tc["weights"]:
        if not os.path.isfile(tc["weights"]):
            raise TeacherError(
                f"teacher weights not found: {tc['weights']} (a state dict of torchvision {tc['arch']} "
                f"with a {k}-class fc; set teacher.weights, or teacher.torchvision_weights)"
            )
        load_weights(net, tc["weights"])
    elif not tc["torchvision_weights"] and not allow_random:
        raise TeacherError(
            f"kd.type={cfg['kd']['type']} (at_weight={cfg['kd']['at_weight']}) distils from the 2D teacher but no "
            "teacher weights are set: give teacher.weights (for logit KD a 2D network fine-tuned on frames of the "
            "target classes) or teacher.torchvision_weights"
        )
    return Teacher2D(net, student_mean=mean, student_std=std, norm_value=norm_value, frame_stride=tc["frame_stride"])


class DistillStudent(nn.Module):
    """The 3D student plus (for feature distillation) the projection of its pooled feature onto
    the teacher's. ``forward(clip)`` -> ``{"logits", "features", "layer4"?}``; the student's own
    state dict (``.net``) keeps the lineage's names."""

    def __init__(self, net: nn.Module, *, teacher_features: int = 0, with_maps: bool = False) -> None:
        super().__init__()
        self.net = net
        self.with_maps = with_maps
        self.proj = nn.Linear(net.num_features, teacher_features) if teacher_features else None

    def forward(self, clip: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.with_maps:
            feats, acts = self.net.forward_features(clip, stages=True)
        else:
            feats, acts = self.net.forward_features(clip), {}
        out = {"logits": self.net.fc(feats) if hasattr(self.net, "fc") else self.net.classifier(feats)}
        if self.proj is not None:
            out["features"] = self.proj(feats)
        if "layer4" in acts:
            out["layer4"] = acts["layer4"]
        return out


class Distiller:
    """The training loss: named terms and their weighted total under ``"loss"``."""

    def __init__(self, kd: Mapping[str, Any]) -> None:
        self.type = kd["type"]
        self.alpha, self.temperature, self.beta = float(kd["alpha"]), float(kd["temperature"]), float(kd["beta"])
        self.at_weight = float(kd["at_weight"])

    @property
    def uses_teacher(self) -> bool:
        return self.type != "none" or self.at_weight > 0

    def __call__(
        self, student: Mapping[str, torch.Tensor], target: torch.Tensor, teacher: Optional[Mapping[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        logits = student["logits"]
        terms = {"ce": F.cross_entropy(logits, target)}
        if self.type in ("logits", "both"):
            # hinton_kd_loss, with its KL term kept as a named term for the logs
            terms["kd_logits"] = kd_kl_div(logits, teacher["logits"].float(), temperature=self.temperature)
            total = (1.0 - self.alpha) * terms["ce"] + self.alpha * terms["kd_logits"]
        else:
            total = terms["ce"]
        if self.type in ("feature", "both"):
            terms["kd_feature"] = feature_matching_loss(student["features"], teacher["features"])
            total = total + self.beta * terms["kd_feature"]
        if self.at_weight > 0:
            s_map = student["layer4"]
            t_map = teacher["maps"].mean(2)  # (B, C, h, w)
            if t_map.shape[-2:] != s_map.shape[-2:]:
                t_map = F.adaptive_avg_pool2d(t_map, s_map.shape[-2:])
            terms["kd_at"] = attention_transfer_loss(s_map, t_map)
            total = total + self.at_weight * terms["kd_at"]
        terms["loss"] = total
        return terms
