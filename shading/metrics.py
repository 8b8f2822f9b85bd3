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

from .mask import smooth_and_textured
from .perceptual import lowpass_rms_255, score_arrays
from .views import to_tensor, trainer_crop, view_shape


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def _gauss(x: torch.Tensor, sigma: float = 1.5, radius: int = 5) -> torch.Tensor:
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-t * t / (2 * sigma * sigma))
    k = (k / k.sum()).view(1, 1, 1, -1)
    x = F.conv2d(x, k)
    return F.conv2d(x, k.transpose(-1, -2))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM on luminance with the usual 11x11 Gaussian window (sigma 1.5)."""
    def luma(u: np.ndarray) -> torch.Tensor:
        u = u.astype(np.float64)
        y = 0.299 * u[..., 0] + 0.587 * u[..., 1] + 0.114 * u[..., 2] if u.ndim == 3 else u
        return torch.from_numpy(y)[None, None]
    x, y = luma(a), luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _gauss(x), _gauss(y)
    sxx, syy, sxy = _gauss(x * x) - mx * mx, _gauss(y * y) - my * my, _gauss(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(s.mean())


def linf_255(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


def visibility(original: np.ndarray, shaded: np.ndarray) -> dict[str, float]:
    """SSIMULACRA2, the energy on smooth and on textured regions (mean squared change, in
    (/255)^2) and their ratio, and the RMS (/255) of the change blurred at 2 px over the
    smooth regions; for H x W x 3 uint8 arrays of the same size."""
    smooth, textured = (m.numpy() for m in smooth_and_textured(to_tensor(original)))
    delta = shaded.astype(np.float64) - original.astype(np.float64)
    d2 = (delta ** 2).mean(-1)
    e_smooth = float(d2[smooth].mean()) if smooth.any() else float("nan")
    e_tex = float(d2[textured].mean()) if textured.any() else float("nan")
    return {"ssimulacra2": round(score_arrays(original, shaded), 3),
            "energy_smooth": round(e_smooth, 5), "energy_textured": round(e_tex, 5),
            "smooth_textured_ratio": round(e_smooth / e_tex, 5) if e_tex > 0 else float("nan"),
            "lowpass_smooth_255": round(lowpass_rms_255(delta, smooth), 4),
            "smooth_fraction": round(float(smooth.mean()), 4),
            "textured_fraction": round(float(textured.mean()), 4)}


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
        crop = self._crop(original)
        with torch.no_grad():
            self.z_target = [targets.crop_latent(enc, crop, view_shape(*original.shape[:2], view_size))
                             for enc in encoders]

    def _crop(self, rgb: np.ndarray) -> torch.Tensor:
        h, w = rgb.shape[:2]
        vh, vw = view_shape(h, w, self.view_size)
        resized = np.asarray(Image.fromarray(rgb).resize((vw, vh), Image.Resampling.BICUBIC))
        x = trainer_crop(to_tensor(resized), self.view_size)
        return x.to(self.device).contiguous(memory_format=torch.channels_last)

    @torch.no_grad()
    def ratios(self, shaded: np.ndarray, attack: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> list[float]:
        o, s = (self.original, shaded) if attack is None else (attack(self.original), attack(shaded))
        xo, xs = self._crop(o), self._crop(s)
        out = []
        for enc, zt in zip(self.encoders, self.z_target):
            out.append(float((enc(xs) - zt).norm() / (enc(xo) - zt).norm().clamp_min(1e-8)))
        return out
