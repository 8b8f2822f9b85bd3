"""The experiment's data: concepts as sets of images, their base crops, the shaded and
purified versions of the poisoned concept's crops, and the latents a trainer caches.

A trainer here does what many fine-tuning scripts do: it encodes each (scraped) image
once, and its mirror, caches the latents, and trains on random latent-sized windows of
them (16 x 16 latent = a 128-pixel crop). Shading happens on the base image before
that, as it would before posting.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


@dataclass
class Concept:
    """A named concept and the source images (H x W x 3 uint8) its crops are taken from."""

    name: str
    sources: list[np.ndarray] = field(default_factory=list)


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def concept_from_folder(name: str, folder: Path) -> Concept:
    """Every image in ``folder`` (sorted by name) as a source of the concept ``name``."""
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f"no images in {folder} for concept {name!r}")
    return Concept(name, [read_rgb(p) for p in paths])


def painting_concepts(folder: Path) -> list[Concept]:
    """One concept per image in ``folder``: each painting (its style) is a concept."""
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return [Concept(p.stem, [read_rgb(p)]) for p in paths]


def _resize_short(rgb: np.ndarray, short: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = short / min(h, w)
    size = (max(short, round(w * scale)), max(short, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


def base_crops(concept: Concept, count: int, size: int, source_short: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` square crops of side ``size`` at random places, from the sources in turn,
    each source first resized to a short side of ``source_short`` (or ``size`` if larger)."""
    resized = [_resize_short(s, max(size, source_short)) for s in concept.sources]
    crops = []
    for i in range(count):
        src = resized[i % len(resized)]
        h, w = src.shape[:2]
        top, left = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
        crops.append(np.ascontiguousarray(src[top:top + size, left:left + size]))
    return crops


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(rgb, copy=True)).permute(2, 0, 1)[None].float().div_(255)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    return x[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).contiguous().cpu().numpy()


# Purification: what a trainer could cheaply do to what it scraped.

def jpeg(rgb: np.ndarray, quality: int = 75) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def bilateral(x: torch.Tensor, radius: int = 3, sigma_space: float = 2.0, sigma_color: float = 0.15) -> torch.Tensor:
    """Edge-preserving bilateral filter of a 1 x 3 x H x W image in [0, 1]: each pixel becomes
    the average of its neighbours weighted by distance and by colour difference."""
    k = 2 * radius + 1
    padded = F.pad(x, (radius,) * 4, mode="reflect")
    patches = F.unfold(padded, k).view(1, 3, k * k, *x.shape[-2:])
    offsets = torch.arange(-radius, radius + 1, dtype=x.dtype)
    space = torch.exp(-(offsets[:, None] ** 2 + offsets[None] ** 2) / (2 * sigma_space ** 2)).flatten()
    colour = torch.exp(-(patches - x[:, :, None]).pow(2).sum(1, keepdim=True) / (2 * sigma_color ** 2))
    weights = colour * space.view(1, 1, -1, 1, 1)
    return (patches * weights).sum(2) / weights.sum(2)


def noise_denoise(rgb: np.ndarray, sigma: float = 0.05, seed: int = 0) -> np.ndarray:
    """Gaussian noise of ``sigma`` (on [0, 1]) then a bilateral denoise: the cheap half of
    the noisy-upscaling purification that breaks published protections."""
    rng = np.random.default_rng(seed)
    noisy = (rgb.astype(np.float64) / 255 + rng.normal(0, sigma, rgb.shape)).clip(0, 1)
    x = torch.from_numpy(noisy).permute(2, 0, 1)[None].float()
    return to_uint8(bilateral(x))


PURIFIERS = {
    "jpeg75": lambda rgb, seed: jpeg(rgb, 75),
    "noise0.05+bilateral": noise_denoise,
}


# Latents: the trainer's cache.

@torch.no_grad()
def encode_bases(encoder: torch.nn.Module, crops: Sequence[np.ndarray], device: str) -> torch.Tensor:
    """Latents of each crop and of its mirror: 2N x C x h x w (float32, CPU)."""
    x = torch.cat([to_tensor(c) for c in crops])
    x = torch.cat([x, x.flip(-1)]).to(device).contiguous(memory_format=torch.channels_last)
    out = [encoder(chunk).float().cpu() for chunk in x.split(16)]
    return torch.cat(out).contiguous()


def windows(latents: torch.Tensor, size: int, stride: int) -> torch.Tensor:
    """Every ``size`` x ``size`` window of each latent at the given stride: M x C x size x size."""
    h, w = latents.shape[-2:]
    tops = list(range(0, h - size + 1, stride))
    lefts = list(range(0, w - size + 1, stride))
    out = [latents[:, :, t:t + size, l:l + size] for t in tops for l in lefts]
    return torch.cat(out).contiguous()


@dataclass
class Normalizer:
    """Per-channel standardization of latents, fitted once on clean training data."""

    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def fit(cls, latents: torch.Tensor) -> "Normalizer":
        return cls(latents.mean((0, 2, 3), keepdim=True), latents.std((0, 2, 3), keepdim=True).clamp_min(1e-4))

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.mean) / self.std

    def invert(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.std + self.mean


def sample_subset(count: int, share: float, rng: np.random.Generator) -> list[int]:
    """The indices (sorted) of round(share * count) of ``count`` items, at random."""
    k = int(round(share * count))
    return sorted(int(i) for i in rng.choice(count, size=k, replace=False)) if k else []
