"""3D students of the 3D-ResNets (CVPR 2018) lineage, with the lineage's state-dict names.

Families (``model`` / ``model_depth``): ``resnet`` 10-200, ``preresnet`` 18-200, ``wideresnet`` 50
(``wide_resnet_k``), ``resnext`` 50/101/152 (``resnext_cardinality``), ``densenet`` 121/169/201/264.
Input clips are ``(B, 3, T, H, W)``; :meth:`ResNet3D.forward` returns logits ``(B, n_classes)``.

Behaviour choices (each lineage behaviour behind a switch):

* ``pooling="adaptive"`` (default): global average pooling, any ``(T, S)`` works. ``"fixed"``: the
  lineage's ``AvgPool3d((ceil(T0/16), ceil(S0/32), ceil(S0/32)), stride 1)`` built for
  ``sample_duration``/``sample_size`` (the net then accepts only inputs with the same ceilings).
* ``detach_shortcut_a=False`` (default): the type-A shortcut (stride subsampling + zero channels)
  carries gradient. ``True``: the lineage, which rebuilt it from ``x.data`` (no gradient).
* ResNeXt's ``fc`` width is the real feature width (the lineage used ``cardinality * 32 * 2``,
  which only works for cardinality 32).
* DenseNet constructs on current torch: the dotted sub-module names (``norm.1``) of its
  checkpoints are kept, and the final norm is a 3D batch norm (the lineage's 2D one rejects 5-D).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from videokd.errors import UserError

__all__ = [
    "ModelConfigError",
    "ResNet3D",
    "DenseNet3D",
    "build_model",
    "arch_name",
    "accepts_input_size",
    "lineage_state_dict",
    "RESNET_DEPTHS",
    "DENSENET_DEPTHS",
]


class ModelConfigError(UserError, ValueError):
    """An unknown model family / depth / shortcut."""


def conv3x3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1) -> nn.Conv3d:
    return nn.Conv3d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv3d:
    return nn.Conv3d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class ShortcutA(nn.Module):
    """Type-A shortcut: every ``stride``-th element along T, H, W, then zero channels up to ``planes``."""

    def __init__(self, planes: int, stride: int, detach: bool = False) -> None:
        super().__init__()
        self.planes, self.stride, self.detach = planes, stride, detach

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride
        out = x[:, :, ::s, ::s, ::s]
        if self.detach:  # the lineage: Variable(torch.cat([out.data, zeros]))
            out = out.detach()
        return F.pad(out, (0, 0, 0, 0, 0, 0, 0, self.planes - out.shape[1]))


# ----------------------------------------------------------------------------------- blocks
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.conv1 = conv3x3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm3d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3x3(planes, planes)
        self.bn2 = nn.BatchNorm3d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None, **_: int
    ) -> None:
        super().__init__()
        mid = self._mid(planes)
        self.conv1 = conv1x1x1(inplanes, mid)
        self.bn1 = nn.BatchNorm3d(mid)
        self.conv2 = conv3x3x3(mid, mid, stride, groups=self._groups())
        self.bn2 = nn.BatchNorm3d(mid)
        self.conv3 = conv1x1x1(mid, planes * self.expansion)
        self.bn3 = nn.BatchNorm3d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def _mid(self, planes: int) -> int:
        return planes

    def _groups(self) -> int:
        return 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + residual)


class WideBottleneck(Bottleneck):
    expansion = 2


class ResNeXtBottleneck(Bottleneck):
    expansion = 2

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None, *, cardinality: int = 32) -> None:
        self.cardinality = cardinality
        super().__init__(inplanes, planes, stride, downsample)

    def _mid(self, planes: int) -> int:
        return self.cardinality * (planes // 32)

    def _groups(self) -> int:
        return self.cardinality


class PreActBasicBlock(nn.Module):
    """BN-ReLU-conv twice, plus the shortcut of the block input; no ReLU after the sum."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm3d(inplanes)
        self.conv1 = conv3x3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv2 = conv3x3x3(planes, planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.conv1(self.relu(self.bn1(x)))
        out = self.conv2(self.relu(self.bn2(out)))
        return out + residual


class PreActBottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm3d(inplanes)
        self.conv1 = conv1x1x1(inplanes, planes)
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv2 = conv3x3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm3d(planes)
        self.conv3 = conv1x1x1(planes, planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.conv1(self.relu(self.bn1(x)))
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return out + residual


# ----------------------------------------------------------------------------------- networks
RESNET_DEPTHS: dict[int, tuple[str, list[int]]] = {
    10: ("basic", [1, 1, 1, 1]),
    18: ("basic", [2, 2, 2, 2]),
    34: ("basic", [3, 4, 6, 3]),
    50: ("bottleneck", [3, 4, 6, 3]),
    101: ("bottleneck", [3, 4, 23, 3]),
    152: ("bottleneck", [3, 8, 36, 3]),
    200: ("bottleneck", [3, 24, 36, 3]),
}
DENSENET_DEPTHS: dict[int, tuple[int, ...]] = {
    121: (6, 12, 24, 16),
    169: (6, 12, 32, 32),
    201: (6, 12, 48, 32),
    264: (6, 12, 64, 48),
}
_FAMILY_DEPTHS = {
    "resnet": (10, 18, 34, 50, 101, 152, 200),
    "preresnet": (18, 34, 50, 101, 152, 200),
    "wideresnet": (50,),
    "resnext": (50, 101, 152),
    "densenet": tuple(DENSENET_DEPTHS),
}


def arch_name(model: str, depth: int) -> str:
    """The string the lineage stores in checkpoints: ``"<model>-<depth>"``."""
    return f"{model}-{depth}"


def accepts_input_size(t: int, s: int, *, sample_duration: int, sample_size: int, pooling: str = "fixed") -> bool:
    """Whether a network built for ``(sample_duration, sample_size)`` runs on ``T x S x S`` clips.

    Adaptive pooling takes any size; the lineage's fixed pooling needs the final ``(T/16, S/32)``
    grid (ceil at every stride-2 stage) to equal its kernel: ``ceil(T/16) == ceil(T0/16)`` and
    ``ceil(S/32) == ceil(S0/32)``.
    """
    if pooling == "adaptive":
        return True
    return math.ceil(t / 16) == math.ceil(sample_duration / 16) and math.ceil(s / 32) == math.ceil(sample_size / 32)


def _init_weights(model: nn.Module) -> None:
    """Kaiming-normal (fan_out) convolutions, BN weight 1 / bias 0, as the lineage (skipped on the
    meta device, where only shapes exist)."""
    if next(model.parameters()).is_meta:
        return
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class _Head(nn.Module):
    """Pooling before ``fc``: global (adaptive) or the lineage's fixed kernel."""

    def __init__(self, pooling: str, kernel: tuple[int, int, int]) -> None:
        super().__init__()
        if pooling not in ("adaptive", "fixed"):
            raise ModelConfigError(f"pooling must be 'adaptive' or 'fixed', got {pooling!r}")
        self.pooling, self.kernel = pooling, kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pooling == "adaptive":
            return x.mean(dim=(2, 3, 4))
        return F.avg_pool3d(x, self.kernel, stride=1).flatten(1)


class ResNet3D(nn.Module):
    """ResNet / pre-activation / wide / ResNeXt 3D network (the lineage's ``ResNet`` classes).

    ``forward(clip (B, 3, T, H, W)) -> logits (B, n_classes)``; :meth:`forward_features` returns
    the pooled feature ``(B, F)`` and, with ``stages=True``, the stem and stage outputs.
    """

    def __init__(
        self,
        block: type,
        layers: list[int],
        *,
        sample_size: int = 112,
        sample_duration: int = 16,
        shortcut: str = "B",
        n_classes: int = 400,
        widen: int = 1,
        cardinality: Optional[int] = None,
        stage_planes: tuple[int, int, int, int] = (64, 128, 256, 512),
        pooling: str = "adaptive",
        detach_shortcut_a: bool = False,
        base_width: int = 64,
    ) -> None:
        super().__init__()
        if shortcut not in ("A", "B"):
            raise ModelConfigError(f"resnet_shortcut must be 'A' or 'B', got {shortcut!r}")
        self.inplanes = base_width
        self.shortcut, self.detach_shortcut_a, self.cardinality = shortcut, detach_shortcut_a, cardinality
        self.conv1 = nn.Conv3d(3, base_width, kernel_size=7, stride=(1, 2, 2), padding=(3, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(base_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(kernel_size=3, stride=2, padding=1)
        planes = [p * widen * base_width // 64 for p in stage_planes]
        self.layer1 = self._make_layer(block, planes[0], layers[0])
        self.layer2 = self._make_layer(block, planes[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, planes[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, planes[3], layers[3], stride=2)
        self.head = _Head(
            pooling, (math.ceil(sample_duration / 16), math.ceil(sample_size / 32), math.ceil(sample_size / 32))
        )
        self.num_features = planes[3] * block.expansion
        self.fc = nn.Linear(self.num_features, n_classes)
        _init_weights(self)

    def _make_layer(self, block: type, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        out_planes = planes * block.expansion
        downsample: Optional[nn.Module] = None
        if stride != 1 or self.inplanes != out_planes:
            if self.shortcut == "A":
                downsample = ShortcutA(out_planes, stride, detach=self.detach_shortcut_a)
            else:
                downsample = nn.Sequential(conv1x1x1(self.inplanes, out_planes, stride), nn.BatchNorm3d(out_planes))
        extra = {"cardinality": self.cardinality} if self.cardinality is not None else {}
        layers = [block(self.inplanes, planes, stride, downsample, **extra)]
        self.inplanes = out_planes
        layers += [block(self.inplanes, planes, **extra) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def set_detach_shortcut_a(self, detach: bool) -> None:
        """Switch the lineage's gradient cut of the type-A shortcut on or off."""
        self.detach_shortcut_a = detach
        for m in self.modules():
            if isinstance(m, ShortcutA):
                m.detach = detach

    def forward_features(self, x: torch.Tensor, *, stages: bool = False):
        """``(B, 3, T, H, W)`` -> pooled features ``(B, F)`` (and ``{"stem", "layer1".."layer4"}``)."""
        acts = {}
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        acts["stem"] = x
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(self, name)(x)
            acts[name] = x
        feats = self.head(x)
        return (feats, acts) if stages else feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(x))


class _DenseLayer(nn.Module):
    """BN-ReLU-conv1x1 / BN-ReLU-conv3x3, concatenated to the input. Sub-modules keep the
    lineage's dotted checkpoint names (``norm.1``, ``conv.1``, ...), stored directly in
    ``_modules`` (``add_module`` refuses dots) so state-dict keys and order are the lineage's."""

    def __init__(self, in_features: int, growth_rate: int, bn_size: int) -> None:
        super().__init__()
        mods = [
            ("norm.1", nn.BatchNorm3d(in_features)),
            ("relu.1", nn.ReLU(inplace=True)),
            ("conv.1", conv1x1x1(in_features, bn_size * growth_rate)),
            ("norm.2", nn.BatchNorm3d(bn_size * growth_rate)),
            ("relu.2", nn.ReLU(inplace=True)),
            ("conv.2", conv3x3x3(bn_size * growth_rate, growth_rate)),
        ]
        for name, mod in mods:
            self._modules[name] = mod

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for mod in self._modules.values():
            out = mod(out)
        return torch.cat([x, out], 1)


class DenseNet3D(nn.Module):
    """The lineage's 3D DenseNet (growth 32, bn_size 4, 64 initial features), with ``features.*``
    and ``classifier.*`` names. Fixed pooling uses ``floor(S/32)`` as the lineage did."""

    def __init__(
        self,
        block_config: tuple[int, ...],
        *,
        sample_size: int = 112,
        sample_duration: int = 16,
        n_classes: int = 400,
        growth_rate: int = 32,
        bn_size: int = 4,
        num_init_features: int = 64,
        pooling: str = "adaptive",
    ) -> None:
        super().__init__()
        feats = OrderedDict(
            [
                ("conv0", nn.Conv3d(3, num_init_features, kernel_size=7, stride=(1, 2, 2), padding=3, bias=False)),
                ("norm0", nn.BatchNorm3d(num_init_features)),
                ("relu0", nn.ReLU(inplace=True)),
                ("pool0", nn.MaxPool3d(kernel_size=3, stride=2, padding=1)),
            ]
        )
        n = num_init_features
        for i, n_layers in enumerate(block_config):
            block = nn.Sequential(
                OrderedDict(
                    (f"denselayer{j + 1}", _DenseLayer(n + j * growth_rate, growth_rate, bn_size))
                    for j in range(n_layers)
                )
            )
            feats[f"denseblock{i + 1}"] = block
            n += n_layers * growth_rate
            if i != len(block_config) - 1:
                feats[f"transition{i + 1}"] = nn.Sequential(
                    OrderedDict(
                        [
                            ("norm", nn.BatchNorm3d(n)),
                            ("relu", nn.ReLU(inplace=True)),
                            ("conv", conv1x1x1(n, n // 2)),
                            ("pool", nn.AvgPool3d(kernel_size=2, stride=2)),
                        ]
                    )
                )
                n //= 2
        feats["norm5"] = nn.BatchNorm3d(n)
        self.features = nn.Sequential(feats)
        kernel = (math.ceil(sample_duration / 16), sample_size // 32, sample_size // 32)
        self.head = _Head(pooling, kernel)
        self.num_features = n
        self.classifier = nn.Linear(n, n_classes)
        _init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.relu(self.features(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_features(x))


def build_model(
    *,
    model: str = "resnet",
    model_depth: int = 18,
    n_classes: int = 400,
    sample_size: int = 112,
    sample_duration: int = 16,
    resnet_shortcut: str = "B",
    wide_resnet_k: int = 2,
    resnext_cardinality: int = 32,
    pooling: str = "adaptive",
    detach_shortcut_a: bool = False,
    base_width: int = 64,
) -> nn.Module:
    """The lineage's model factory (``opts`` names as keywords). ``base_width`` (stem width; the
    stages scale with it) is 64 in every lineage network; smaller values make tiny test variants."""
    if model not in _FAMILY_DEPTHS:
        raise ModelConfigError(f"model must be one of {sorted(_FAMILY_DEPTHS)}, got {model!r}")
    if model_depth not in _FAMILY_DEPTHS[model]:
        raise ModelConfigError(
            f"model_depth for {model} must be one of {list(_FAMILY_DEPTHS[model])}, got {model_depth}"
        )
    size = dict(sample_size=sample_size, sample_duration=sample_duration, n_classes=n_classes, pooling=pooling)
    if model == "densenet":
        if base_width != 64:
            raise ModelConfigError("base_width applies to the ResNet families only (DenseNet keeps its lineage widths)")
        return DenseNet3D(DENSENET_DEPTHS[model_depth], **size)
    kind, layers = RESNET_DEPTHS[model_depth]
    common = dict(size, shortcut=resnet_shortcut, detach_shortcut_a=detach_shortcut_a, base_width=base_width)
    if model == "resnet":
        return ResNet3D(BasicBlock if kind == "basic" else Bottleneck, layers, **common)
    if model == "preresnet":
        return ResNet3D(PreActBasicBlock if kind == "basic" else PreActBottleneck, layers, **common)
    if model == "wideresnet":
        return ResNet3D(WideBottleneck, layers, widen=wide_resnet_k, **common)
    return ResNet3D(
        ResNeXtBottleneck,
        layers,
        cardinality=resnext_cardinality,
        stage_planes=(128, 256, 512, 1024),
        **common,
    )


def lineage_state_dict(state: Mapping[str, torch.Tensor], model: Optional[nn.Module] = None) -> dict:
    """A lineage state dict made loadable: the ``module.`` prefix of DataParallel checkpoints
    stripped, and (given ``model``) missing ``num_batches_tracked`` entries (2017/2018 torch)
    filled with the model's own."""
    out = {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state.items()}
    if model is not None:
        for k in model.state_dict():
            if k.endswith("num_batches_tracked") and k not in out:
                out[k] = torch.zeros((), dtype=torch.long)
    return out


def state_dict_layout(model: nn.Module) -> list[list]:
    """``[[key, shape, dtype], ...]`` in state-dict order (``dtype`` as ``"float32"``)."""
    return [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in model.state_dict().items()]


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def param_names(model: nn.Module) -> Iterable[str]:
    return [n for n, _ in model.named_parameters()]
