"""What a label model is fed: its own resize, crop and normalization, differentiable.

A classifier never sees the image as posted: it is cropped to a square and resized (with
the model's filter) to the size it was trained at. The perturbation has to work through
that path, so the objective applies each model's view to the full-resolution image; with
``generator`` given the crop's size and place and the output size are drawn at random
(input diversity), which keeps the perturbation from fitting one exact pixel grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LabelView:
    size: int                                  # the square side the model takes
    filter: str = "bicubic"                    # "bicubic" or "bilinear"
    crop: str = "center"                       # "center": a centred square crop; "pad": pad to square
    crop_fraction: float = 1.0                 # "center": the crop's side over the short side
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    pad_value: float = 1.0                     # "pad": the fill (WD14 taggers pad with white)
    fixed_size: bool = True                    # False: the model takes other sizes too (a CNN)

    def normalize(self, rgb01: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean, dtype=rgb01.dtype, device=rgb01.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=rgb01.dtype, device=rgb01.device).view(1, 3, 1, 1)
        return (rgb01 - mean) / std


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _resize(x: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    shrinking = min(x.shape[-2:]) > size
    out = F.interpolate(x, size=(size, size), mode=mode, align_corners=False, antialias=shrinking)
    return out.clamp(0, 1) if mode == "bicubic" else out


def apply_view(x: torch.Tensor, view: LabelView, generator: Optional[torch.Generator] = None,
               scale: tuple[float, float] = (0.8, 1.0), size_jitter: float = 0.1) -> torch.Tensor:
    """``x`` (N x 3 x H x W in [0, 1]) as the model sees it, in [0, 1] (normalize separately).
    Without ``generator``: the model's own deterministic view. With it: a random square crop
    of ``scale`` times the view's crop side at a random place, and (models that take other
    sizes) an output side within ``size_jitter`` of the model's."""
    h, w = x.shape[-2:]
    if view.crop == "pad":
        side = max(h, w)
        top, left = (side - h) // 2, (side - w) // 2
        x = F.pad(x, (left, side - w - left, top, side - h - top), value=view.pad_value)
        h = w = side
    side = min(h, w) * (view.crop_fraction if view.crop == "center" else 1.0)
    size = view.size
    if generator is None:
        crop = max(1, int(round(side)))
        top, left = (h - crop) // 2, (w - crop) // 2
    else:
        crop = max(1, int(round(side * _uniform(generator, *scale))))
        top = int(torch.randint(0, h - crop + 1, (), generator=generator))
        left = int(torch.randint(0, w - crop + 1, (), generator=generator))
        if not view.fixed_size:
            size = max(32, int(round(size * _uniform(generator, 1 - size_jitter, 1 + size_jitter))))
    return _resize(x[..., top:top + crop, left:left + crop], size, view.filter)
