"""Differentiable stand-ins for what happens to an image after it is posted.

Platforms recompress (JPEG), resize, and trainers crop; removers add noise or blur.
Optimizing through randomly sampled versions of these ("expectation over
transformations") keeps the perturbation working after the trip. JPEG here is the
real pipeline (YCbCr, 4:2:0 chroma, 8x8 DCT, the IJG quantization tables at the
chosen quality) with a rounding whose gradient is not zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

# IJG reference quantization tables (JPEG standard, Annex K).
_Y_TABLE = torch.tensor([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
], dtype=torch.float32).view(8, 8)
_C_TABLE = torch.tensor([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
], dtype=torch.float32).view(8, 8)


def _dct_matrix() -> torch.Tensor:
    k = torch.arange(8, dtype=torch.float32).view(8, 1)
    i = torch.arange(8, dtype=torch.float32).view(1, 8)
    m = torch.cos((2 * i + 1) * k * math.pi / 16) * math.sqrt(2 / 8)
    m[0] /= math.sqrt(2)
    return m


_DCT = _dct_matrix()


def quant_table(base: torch.Tensor, quality: float) -> torch.Tensor:
    quality = min(max(quality, 1.0), 100.0)
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return ((base * scale + 50) / 100).floor().clamp(1, 255)


def soft_round(x: torch.Tensor) -> torch.Tensor:
    """Rounds exactly in the forward pass' value, with a cubic term that passes gradients."""
    r = torch.round(x)
    return r + (x - r) ** 3


def _blocks(plane: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    n, c, h, w = plane.shape
    blocks = plane.reshape(n, c, h // 8, 8, w // 8, 8).permute(0, 1, 2, 4, 3, 5)
    dct = _DCT.to(plane)
    coeffs = dct @ blocks @ dct.T
    table = table.to(plane)
    coeffs = soft_round(coeffs / table) * table
    out = dct.T @ coeffs @ dct
    return out.permute(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)


def jpeg(x: torch.Tensor, quality: float, subsampled: bool = True) -> torch.Tensor:
    """JPEG round trip of an N x 3 x H x W image in [0, 1], differentiable; ``subsampled``:
    4:2:0 chroma (else full-resolution chroma, 4:4:4)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % 16, (-w) % 16
    x = F.pad(x, (0, pw, 0, ph), mode="replicate") * 255
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b
    y = _blocks(y - 128, quant_table(_Y_TABLE, quality)) + 128
    chroma = torch.cat([cb, cr], 1)
    if subsampled:
        chroma = F.avg_pool2d(chroma, 2)
    chroma = _blocks(chroma, quant_table(_C_TABLE, quality))
    if subsampled:
        chroma = F.interpolate(chroma, scale_factor=2, mode="bilinear", align_corners=False)
    cb, cr = chroma[:, 0:1], chroma[:, 1:2]
    rgb = torch.cat([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], 1) / 255
    return rgb[..., :h, :w].clamp(0, 1)


def rescale(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Shrink by ``factor`` (antialiased) and bring back to the original size."""
    h, w = x.shape[-2:]
    small = F.interpolate(x, size=(max(8, int(h * factor)), max(8, int(w * factor))),
                          mode="bilinear", align_corners=False, antialias=True)
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(math.ceil(2.5 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-t * t / (2 * sigma * sigma))
    k = (k / k.sum()).view(1, 1, 1, -1).repeat(3, 1, 1, 1)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), k, groups=3)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), k.transpose(-1, -2), groups=3)


Shift = Callable[[torch.Tensor, torch.Tensor], "tuple[torch.Tensor, torch.Tensor]"]


@dataclass(frozen=True)
class Posting:
    """One sampled trip through a platform: ``op`` acts on the uploaded image at its own
    resolution (before any trainer resizes it, as platforms recompress what they were
    sent), ``shift`` moves a trainer's crop and its target latent together."""

    op: Callable[[torch.Tensor], torch.Tensor]
    shift: Shift


class PostingSimulator:
    """Samples one post-upload transformation per optimization step."""

    def __init__(self, generator: torch.Generator, max_shift_cells: int = 2) -> None:
        self.generator = generator
        self.max_shift_cells = max_shift_cells

    def _uniform(self, low: float, high: float) -> float:
        return low + (high - low) * torch.rand((), generator=self.generator).item()

    def _pixel_op(self) -> Callable[[torch.Tensor], torch.Tensor]:
        pick = self._uniform(0, 1)
        if pick < 0.2:
            return lambda x: x
        if pick < 0.55:
            q = self._uniform(70, 95)
            return lambda x: jpeg(x, q)
        if pick < 0.7:
            f = self._uniform(0.45, 0.9)
            return lambda x: rescale(x, f)
        if pick < 0.8:
            f, q = self._uniform(0.5, 0.9), self._uniform(70, 95)
            return lambda x: jpeg(rescale(x, f), q)
        if pick < 0.9:
            s = self._uniform(0.01, 0.06)
            seed = int(self._uniform(0, 1) * 1e6)

            def add_noise(x: torch.Tensor) -> torch.Tensor:
                g = torch.Generator(device="cpu").manual_seed(seed)
                return (x + s * torch.randn(x.shape, generator=g).to(x)).clamp(0, 1)
            return add_noise
        sigma = self._uniform(0.4, 1.2)
        return lambda x: gaussian_blur(x, sigma)

    def sample(self) -> Posting:
        op = self._pixel_op()
        cells = self.max_shift_cells
        dy, dx = (int(torch.randint(0, cells + 1, (2,), generator=self.generator)[i]) for i in range(2))

        def shift(x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            hc, wc = z.shape[-2] - cells, z.shape[-1] - cells
            return x[..., dy * 8:(dy + hc) * 8, dx * 8:(dx + wc) * 8], z[..., dy:dy + hc, dx:dx + wc]
        return Posting(op, shift)
