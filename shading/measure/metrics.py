"""What shading cost the artist and what it achieved, both measured on pixels as written.

Cost: SSIMULACRA2 (the perceptual score the intensities are set in), where the energy
went (smooth against textured regions, judged on a lightly blurred luminance), the
low-frequency part of the change on smooth regions (what the eye reads as a pattern),
and the energy measures PSNR, SSIM and max |delta|. Achievement: the latent ratio
(1 = no effect, 0 = the encoder sees the target) at the trainer's view, made the way
trainers make it (PIL's bicubic resize of the decoded file, then the centre crop)."""

from __future__ import annotations

import io
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..pixels.mask import smooth_and_textured
from ..pixels.strips import strip_rows, windows
from ..pixels.views import to_tensor, trainer_crop, view_shape
from .bands import concept_distance
from .perceptual import lowpass_power, score_arrays


# Every figure here is a sum over the image taken strip by strip (``shading.pixels.strips``):
# the same as in one piece, with the memory of a strip even for a 50 MP file.
def _diff_rows(a: np.ndarray, b: np.ndarray, rows: slice) -> np.ndarray:
    return b[rows].astype(np.float64) - a[rows].astype(np.float64)


def _row_strips(a: np.ndarray, halo: int = 0):
    return windows(a.shape[0], strip_rows(a.shape[1] if a.ndim > 1 else 1), halo)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = sum(float((_diff_rows(a, b, rows) ** 2).sum()) for rows, _ in _row_strips(a)) / a.size
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def rms_255(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(sum(float((_diff_rows(a, b, rows) ** 2).sum()) for rows, _ in _row_strips(a)) / a.size))


def linf_255(a: np.ndarray, b: np.ndarray) -> float:
    return max(float(np.abs(_diff_rows(a, b, rows)).max()) for rows, _ in _row_strips(a))


_SSIM_RADIUS = 5


def _gauss(x: torch.Tensor, sigma: float = 1.5, radius: int = _SSIM_RADIUS) -> torch.Tensor:
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-t * t / (2 * sigma * sigma))
    k = (k / k.sum()).view(1, 1, 1, -1)
    x = F.conv2d(x, k)
    return F.conv2d(x, k.transpose(-1, -2))


def _ssim_map(a: np.ndarray, b: np.ndarray) -> torch.Tensor:
    """The SSIM map over the rows and columns the 11 x 11 window fits in (no padding)."""
    def luma(u: np.ndarray) -> torch.Tensor:
        u = u.astype(np.float64)
        y = 0.299 * u[..., 0] + 0.587 * u[..., 1] + 0.114 * u[..., 2] if u.ndim == 3 else u
        return torch.from_numpy(y)[None, None]
    x, y = luma(a), luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _gauss(x), _gauss(y)
    sxx, syy, sxy = _gauss(x * x) - mx * mx, _gauss(y * y) - my * my, _gauss(x * y) - mx * my
    return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM on luminance with the usual 11x11 Gaussian window (sigma 1.5)."""
    r = _SSIM_RADIUS
    total, count = 0.0, 0
    for read, core in _row_strips(a, r):
        m = _ssim_map(a[read], b[read])[0, 0]        # rows read.start + r ... of the image
        first = max(core.start, r) - r                # the core's rows that have a full window
        last = min(core.stop, read.stop - read.start - r) - r
        if last > first:
            total += float(m[first:last].sum())
            count += (last - first) * m.shape[-1]
    return total / count if count else float("nan")


# How far the smooth/textured judgement reaches (its blurs in a row), rounded up.
_REGION_REACH = 40


def visibility(original: np.ndarray, shaded: np.ndarray) -> dict[str, float]:
    """SSIMULACRA2, the energy on smooth and on textured regions (mean squared change, in
    (/255)^2) and their ratio, and the RMS (/255) of the change blurred at 2 px over the
    smooth regions; for H x W x 3 uint8 arrays of the same size."""
    sums = np.zeros(6)     # smooth: pixels, energy, low-pass power; textured: pixels, energy; all pixels
    for read, core in _row_strips(original, _REGION_REACH):
        smooth, textured = (m.numpy()[core] for m in smooth_and_textured(to_tensor(original[read])))
        delta = _diff_rows(original, shaded, read)
        d2 = (delta[core] ** 2).mean(-1)
        low = lowpass_power(delta)[core]
        sums += (smooth.sum(), d2[smooth].sum(), low[smooth].sum(), textured.sum(), d2[textured].sum(), d2.size)
    n_smooth, e_smooth, low_smooth, n_tex, e_tex, n = sums
    e_smooth = e_smooth / n_smooth if n_smooth else float("nan")
    e_tex = e_tex / n_tex if n_tex else float("nan")
    return {"ssimulacra2": round(score_arrays(original, shaded), 3),
            "energy_smooth": round(e_smooth, 5), "energy_textured": round(e_tex, 5),
            "smooth_textured_ratio": round(e_smooth / e_tex, 5) if e_tex > 0 else float("nan"),
            "lowpass_smooth_255": round(float(np.sqrt(low_smooth / n_smooth)), 4) if n_smooth else float("nan"),
            "smooth_fraction": round(float(n_smooth / n), 4),
            "textured_fraction": round(float(n_tex / n), 4)}


# Post-upload transformations measured by the bench, on uint8 H x W x 3 arrays.
def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def downscale(rgb: np.ndarray, factor: float = 0.5) -> np.ndarray:
    img = Image.fromarray(rgb)
    return np.asarray(img.resize((max(1, int(img.width * factor)), max(1, int(img.height * factor))),
                                 Image.Resampling.LANCZOS))


def gaussian_noise(rgb: np.ndarray, sigma: float = 0.05, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noisy = rgb.astype(np.float64) / 255 + rng.normal(0, sigma, rgb.shape)
    return (noisy.clip(0, 1) * 255).round().astype(np.uint8)


ATTACKS: dict[str, Optional[Callable[[np.ndarray], np.ndarray]]] = {
    "view512": None,
    "jpeg95": lambda a: jpeg_roundtrip(a, 95),
    "jpeg85": lambda a: jpeg_roundtrip(a, 85),
    "jpeg75": lambda a: jpeg_roundtrip(a, 75),
    "down0.5": downscale,
    "noise0.05": gaussian_noise,
}


class RatioMeter:
    """Latent ratio r = |E(T(s)) - z_t| / |E(T(o)) - z_t| at the trainer's square crop,
    where T is a post-upload transformation (identity, JPEG, downscale...) applied to
    both the shaded image s and the original o, and z_t the target latent of the crop."""

    def __init__(self, encoders, targets, original: np.ndarray, view_size: int, device: str) -> None:
        self.encoders, self.view_size, self.device = encoders, view_size, device
        self.original = original
        self._original: dict = {}
        crop = self._crop(original)
        shape = view_shape(*original.shape[:2], view_size)
        with torch.no_grad():
            self.z_target = [targets.crop_latent(enc, crop, shape) for enc in encoders]
            self.z_concept = [targets.concept_latent(enc, crop, shape) for enc in encoders]

    def _crop(self, rgb: np.ndarray) -> torch.Tensor:
        h, w = rgb.shape[:2]
        vh, vw = view_shape(h, w, self.view_size)
        resized = np.asarray(Image.fromarray(rgb).resize((vw, vh), Image.Resampling.BICUBIC))
        x = trainer_crop(to_tensor(resized), self.view_size)
        return x.to(self.device).contiguous(memory_format=torch.channels_last)

    @torch.no_grad()
    def _original_distances(self, attack: Optional[Callable[[np.ndarray], np.ndarray]]) -> list[torch.Tensor]:
        """|E(T(o)) - z_t| per encoder; the same for every shaded image, so kept per attack."""
        if attack not in self._original:
            xo = self._crop(self.original if attack is None else attack(self.original))
            self._original[attack] = [(enc(xo) - zt).norm().clamp_min(1e-8)
                                      for enc, zt in zip(self.encoders, self.z_target)]
        return self._original[attack]

    @torch.no_grad()
    def ratios(self, shaded: np.ndarray, attack: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> list[float]:
        xs = self._crop(shaded if attack is None else attack(shaded))
        return [float((enc(xs) - zt).norm() / base)
                for enc, zt, base in zip(self.encoders, self.z_target, self._original_distances(attack))]

    @torch.no_grad()
    def concept_ratios(self, shaded: np.ndarray,
                       attack: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> list[float]:
        """Per encoder: how far the shaded image's channel statistics are from the concept's
        (the anchor's, or the style's), relative to the original's (1: no move, 0: the
        concept's statistics). The same yardstick whichever target the optimizer used."""
        xs = self._crop(shaded if attack is None else attack(shaded))
        xo = self._crop(self.original if attack is None else attack(self.original))
        return [float(concept_distance(enc(xs), zc).mean() / concept_distance(enc(xo), zc).mean().clamp_min(1e-8))
                for enc, zc in zip(self.encoders, self.z_concept)]
