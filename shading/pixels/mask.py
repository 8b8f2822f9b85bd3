"""Where the perturbation may go: a per-pixel masking map in [0, 1].

The eye forgives a change inside texture and sees it on skies, gradients, skin, flat
colour and line art on paper. Texture is judged on the luminance blurred at ``2 px``
(of the full-size image), a scale at which JPEG noise, film grain and dithering are
gone, so they are not taken for texture. Two things must hold for a pixel to mask:

- contrast: the local spread of that blurred luminance. The visibility threshold
  grows with the masker's contrast roughly as contrast^0.6 (Legge & Foley), so the
  map follows that power between a floor (no masking) and a ceiling (full masking);
- density: most of the neighbourhood carries a gradient. A lone edge (a roof line on
  the sky, a stroke of ink on paper) has contrast but masks little: changes beside it
  read as fringes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_LUMA = (0.299, 0.587, 0.114)


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """Rec. 601 luminance, N x 1 x H x W."""
    w = torch.tensor(_LUMA, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb * w).sum(1, keepdim=True)


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of every channel, mirrored at the borders.

    Each pass is a weighted sum of shifted slices rather than a depthwise convolution:
    on CPUs PyTorch's grouped convolution with a 1-D kernel (and its backward) runs 2-4x
    slower than these memory-bound sums, and the optimizer blurs its pattern several
    times a step."""
    if sigma <= 0:
        return x
    radius = max(1, int(math.ceil(3 * sigma)))
    radius = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    if radius < 1:
        return x
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-t * t / (2 * sigma * sigma))
    weights = (k / k.sum()).tolist()
    h, w = x.shape[-2:]
    padded = F.pad(x, (radius, radius, 0, 0), mode="reflect")
    x = _weighted_shifts(weights, [padded[..., i:i + w] for i in range(len(weights))])
    padded = F.pad(x, (0, 0, radius, radius), mode="reflect")
    return _weighted_shifts(weights, [padded[..., i:i + h, :] for i in range(len(weights))])


def _weighted_shifts(weights: list[float], shifted: list[torch.Tensor]) -> torch.Tensor:
    out = shifted[0] * weights[0]
    for weight, part in zip(weights[1:], shifted[1:]):
        out = out.add(part, alpha=weight)
    return out


def local_contrast(rgb: torch.Tensor, px: float = 1.0) -> torch.Tensor:
    """Local contrast ([0, 1] units) of the luminance blurred at 2 px, in the band the
    perturbation lives in: the RMS, over a ~4 px Gaussian neighbourhood, of what differs
    from its 4 px blur. A smooth gradient (a sky) has none; ``px`` is the size of a
    full-image pixel in this tensor's pixels."""
    y = blur(luma(rgb), 2.0 * px)
    band = y - blur(y, 4.0 * px)
    return blur(band * band, 4.0 * px).sqrt()


def texture_density(rgb: torch.Tensor, px: float = 1.0, threshold: float = 2 / 255) -> torch.Tensor:
    """Share (0..1) of a ~4 px neighbourhood whose luminance, blurred at 1 px (which keeps
    an ink line thin and still quiets JPEG noise), has a gradient above ``threshold``."""
    y = blur(luma(rgb), 1.0 * px)
    gx = F.pad(y[..., :, 1:] - y[..., :, :-1], (0, 1, 0, 0))
    gy = F.pad(y[..., 1:, :] - y[..., :-1, :], (0, 0, 0, 1))
    grad = torch.sqrt(gx * gx + gy * gy) * px          # per full-image pixel
    active = torch.sigmoid((grad - threshold) / (threshold / 4))
    return blur(active, 4.0 * px)


def masking_map(rgb: torch.Tensor, px: float = 1.0, contrast_floor: float = 1.2 / 255,
                contrast_full: float = 14 / 255, density_low: float = 0.4,
                density_high: float = 0.85, floor: float = 0.3, smooth_below: float = 1.0 / 255,
                smooth_above: float = 2.5 / 255) -> torch.Tensor:
    """1 x 1 x H x W map: 0 on smooth regions (local contrast under ``smooth_below``), at
    least ``floor`` wherever there is some texture (above ``smooth_above``; SSIMULACRA2 and
    the eye forgive a change spread thinly over texture more than one piled into its
    busiest parts), 1 in dense, contrasted texture."""
    c = local_contrast(rgb, px)
    contrast = ((c - contrast_floor) / (contrast_full - contrast_floor)).clamp(0, 1).pow(0.6)
    d = texture_density(rgb, px)
    density = ((d - density_low) / (density_high - density_low)).clamp(0, 1)
    textured = ((c - smooth_below) / (smooth_above - smooth_below)).clamp(0, 1)
    textured = textured * ((d - 0.15) / 0.2).clamp(0, 1)        # a lone edge is not texture
    return blur(torch.maximum(contrast * density, floor * textured), 1.5 * px)       # no seams at the edges


def smooth_and_textured(rgb: torch.Tensor, smooth_below: float = 1.0 / 255,
                        textured_above: float = 3.5 / 255) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean H x W masks of the smooth and the textured regions of a full-size image, by
    the local contrast of its lightly blurred luminance (used to report, not to shade)."""
    c = local_contrast(rgb)[0, 0]
    return c < smooth_below, c > textured_above
