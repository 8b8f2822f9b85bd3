"""A latent by what a generator learns from it first: each channel's statistics (the
concept's colours, tones and texture energy), its coarse layout, then every cell.

A diffusion or flow model fits the coarse structure of its training latents at high noise
levels and the fine detail last (and JPEG removes most of what lives only there), so the
optimizer weighs these bands separately, and the reports measure the statistics band on
its own: the "concept ratio" below does not depend on which target the optimizer chose.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

COARSE_GRID = 4        # the coarse layout: the latent averaged to 4 x 4 cells
BANDS = ("stats", "coarse", "full")


def channel_stats(z: torch.Tensor) -> torch.Tensor:
    """N x C x H x W -> N x 2C: each channel's mean and standard deviation."""
    flat = z.float().flatten(2)
    return torch.cat([flat.mean(2), flat.std(2)], dim=1)


def coarse(z: torch.Tensor, grid: int = COARSE_GRID) -> torch.Tensor:
    return F.adaptive_avg_pool2d(z.float(), grid)


def band_terms(latent: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The mean squared distance of ``latent`` to ``target`` in each band (``BANDS``): a 3-vector."""
    return torch.stack([
        (channel_stats(latent) - channel_stats(target)).pow(2).mean(),
        (coarse(latent) - coarse(target)).pow(2).mean(),
        (latent.float() - target.float()).pow(2).mean(),
    ])


def concept_distance(latent: torch.Tensor, concept: torch.Tensor) -> torch.Tensor:
    """How far ``latent``'s channel statistics are from ``concept``'s (the anchor's or the
    style's latent), per sample: a distance a layout cannot contribute to."""
    return (channel_stats(latent) - channel_stats(concept)).norm(dim=1)
