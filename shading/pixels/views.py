"""How a trainer looks at an image: short side resized to the view size, centre crop.

Shading optimizes on the whole resized image (so the sides of a wide picture are
protected too); the measurements use the trainer's square centre crop.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """H x W x 3 uint8 -> 1 x 3 x H x W float in [0, 1]."""
    return torch.from_numpy(np.array(rgb, copy=True)).permute(2, 0, 1)[None].float().div_(255)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """1 x 3 x H x W in [0, 1] -> H x W x 3 uint8 (rounded)."""
    return x[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).contiguous().cpu().numpy()


def view_shape(height: int, width: int, short: int) -> tuple[int, int]:
    """The resized shape with the short side = ``short``, both sides multiples of 8."""
    scale = short / min(height, width)
    h = max(8, int(round(height * scale / 8)) * 8)
    w = max(8, int(round(width * scale / 8)) * 8)
    return h, w


def resize(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Differentiable bilinear resize, antialiased when shrinking (as PIL/torchvision do)."""
    if tuple(x.shape[-2:]) == tuple(shape):
        return x
    shrinking = shape[0] < x.shape[-2] or shape[1] < x.shape[-1]
    return F.interpolate(x, size=shape, mode="bilinear", align_corners=False, antialias=shrinking)


def to_view(x: torch.Tensor, short: int) -> torch.Tensor:
    return resize(x, view_shape(x.shape[-2], x.shape[-1], short))


def cover(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """``x`` scaled to cover ``shape`` (keeping its aspect) and centre-cropped to it.

    The crop is taken first, in ``x``'s own pixels, and only that part is resized: memory
    follows what is kept. (Resizing whole first would build, for a square anchor and a
    32:1 strip-shaped view, an image 32 times the view's area.)"""
    h, w = x.shape[-2:]
    scale = max(shape[0] / h, shape[1] / w)
    crop = (min(h, max(1, int(round(shape[0] / scale)))), min(w, max(1, int(round(shape[1] / scale)))))
    return resize(center_crop(x, crop), shape)


def center_crop(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    h, w = x.shape[-2:]
    top, left = (h - shape[0]) // 2, (w - shape[1]) // 2
    return x[..., top:top + shape[0], left:left + shape[1]]


def trainer_crop(x_view: torch.Tensor, short: int) -> torch.Tensor:
    """The square centre crop a trainer takes from the resized image."""
    return center_crop(x_view, (short, short))
