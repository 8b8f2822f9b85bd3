"""Full-size work in strips of rows, so a 50 MP image never exists as float tensors.

Every step that touches the image at its own size (the masking map, rendering the
pattern, the measurements) is local: a pixel depends on rows within some reach of it.
Such a step runs strip by strip, each strip read with a halo of that reach, and keeps
only its core rows; the result is that of the whole image in one piece.
"""

from __future__ import annotations

from typing import Iterator, Optional

import numpy as np
import torch

# Pixels per strip (its core): about 12 MB per float32 RGB map.
STRIP_PIXELS = 1 << 20


def strip_rows(width: int, budget: Optional[int] = None) -> int:
    """Core rows per strip for an image ``width`` pixels wide (``budget``: pixels per strip,
    ``STRIP_PIXELS`` when not given)."""
    return max(64, (budget or STRIP_PIXELS) // max(1, width))


def windows(height: int, rows: int, halo: int) -> Iterator[tuple[slice, slice]]:
    """(the rows a strip reads, its core within them) for strips of ``rows`` core rows, each
    read with ``halo`` rows beyond its core where the image has them. A strip narrower than
    the image needs a halo at least the step's reach."""
    for start in range(0, height, rows):
        stop = min(start + rows, height)
        w0, w1 = max(0, start - halo), min(height, stop + halo)
        yield slice(w0, w1), slice(start - w0, stop - w0)


def rows_tensor(rgb: np.ndarray, rows: slice) -> torch.Tensor:
    """Rows of an H x W x 3 uint8 array as 1 x 3 x h x W float32 in [0, 1]."""
    part = torch.from_numpy(np.array(rgb[rows]))
    return part.permute(2, 0, 1)[None].float().div_(255)


def lerp_positions(size_in: int, size_out: int, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For output indices [start, stop) of a linear resize from ``size_in`` to ``size_out``
    (half-pixel centres, as ``F.interpolate(..., align_corners=False)``): the two source
    indices and the weight of the second."""
    scale = size_in / size_out
    src = ((torch.arange(start, stop, dtype=torch.float64) + 0.5) * scale - 0.5).clamp_min(0)
    i0 = src.floor().long().clamp_max(size_in - 1)
    i1 = (i0 + 1).clamp_max(size_in - 1)
    return i0, i1, (src - i0).float()


def upsample_rows(x: torch.Tensor, shape: tuple[int, int], rows: slice) -> torch.Tensor:
    """Rows ``rows`` of ``x`` (N x C x h x w) bilinearly enlarged to ``shape`` (each side at
    least ``x``'s), without making the rest."""
    i0, i1, wy = lerp_positions(x.shape[-2], shape[0], rows.start, rows.stop)
    part = torch.lerp(x[..., i0, :], x[..., i1, :], wy.view(-1, 1))
    j0, j1, wx = lerp_positions(x.shape[-1], shape[1], 0, shape[1])
    return torch.lerp(part[..., j0], part[..., j1], wx)
