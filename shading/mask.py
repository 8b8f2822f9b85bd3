"""Where the perturbation may go: a per-pixel budget in [floor, 1].

The eye notices changes on flat colours and along isolated lines (line art) and
forgives them inside texture. The busyness of a neighbourhood is measured as the
fraction of its pixels with a noticeable luminance gradient: flat areas score ~0,
a thin line on paper scores low (few active pixels per window), fur, foliage and
brush strokes score high.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


def _box(x: torch.Tensor, k: int) -> torch.Tensor:
    """Separable box mean with reflect padding (cheap even on large images)."""
    pad = k // 2
    x = F.pad(x, (pad, pad, 0, 0), mode="reflect")
    x = F.avg_pool2d(x, (1, k), stride=1)
    x = F.pad(x, (0, 0, pad, pad), mode="reflect")
    return F.avg_pool2d(x, (k, 1), stride=1)


def busyness(rgb: torch.Tensor, window: int = 9, threshold: float = 3 / 255) -> torch.Tensor:
    """Fraction (0..1) of pixels around each pixel whose luminance gradient exceeds ``threshold``."""
    y = (rgb * _LUMA.to(rgb)).sum(1, keepdim=True)
    gx = F.pad(y[..., :, 1:] - y[..., :, :-1], (0, 1, 0, 0))
    gy = F.pad(y[..., 1:, :] - y[..., :-1, :], (0, 0, 0, 1))
    grad = torch.sqrt(gx * gx + gy * gy)
    active = torch.sigmoid((grad - threshold) / (threshold / 4))
    return _box(active, window)


def budget_map(rgb: torch.Tensor, floor: float, window: int = 9,
               low: float = 0.25, high: float = 0.6) -> torch.Tensor:
    """1 x 1 x H x W budget: ``floor`` where busyness <= ``low``, 1 where it >= ``high``."""
    busy = busyness(rgb, window)
    ramp = ((busy - low) / (high - low)).clamp(0, 1)
    ramp = _box(ramp, 3)                      # no hard seams at the mask's edges
    return floor + (1 - floor) * ramp


def window_for(height: int, width: int, view_short: int) -> int:
    """Scale the 9-pixel window (at the view) to another resolution; odd, at least 3."""
    k = int(round(9 * min(height, width) / view_short))
    return max(3, k | 1)
