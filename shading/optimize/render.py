"""The optimized pattern at the image's own size, written as the output file will be.

The optimizer works at a working size (at most twice the largest view); the result is
the full-size original plus the pattern enlarged to it, under the full-size masking map,
encoded as the output is written, with its strength fitted so that the *written file*
keeps the visibility target. All of it goes in strips of rows (``shading.pixels.strips``), so
a 50 MP image costs a few hundred MB on top of its own bytes.
"""

from __future__ import annotations

from typing import Callable, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..io.imageio import LoadedImage, as_written_rgb, compose, decode_rgb, encode, lossless
from ..measure.perceptual import fit_scale, score_arrays
from ..pixels.mask import masking_map
from ..pixels.strips import rows_tensor, strip_rows, upsample_rows, windows
from ..pixels.views import resize, to_tensor, to_uint8
from .attack import perturbation

# How far the masking map reaches (its blurs' radii in a row, full-size pixels), rounded up.
MASK_REACH = 48


def work_image(rgb: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
    """The H x W x 3 uint8 image as a 1 x 3 x h x w float tensor of ``shape``: the same
    antialiased resize as ``views.resize``, done across the width strip by strip and then
    down the height, so the full size is never held as floats."""
    height, width = rgb.shape[:2]
    if (height, width) == tuple(shape):
        return to_tensor(rgb)
    rows = strip_rows(width)
    narrow = torch.cat([F.interpolate(rows_tensor(rgb, slice(a, min(a + rows, height))),
                                      size=(min(a + rows, height) - a, shape[1]), mode="bilinear",
                                      align_corners=False, antialias=shape[1] < width)
                        for a in range(0, height, rows)], -2)
    return resize(narrow, shape)


def full_mask(rgb: np.ndarray) -> torch.Tensor:
    """``masking_map`` of the full-size image (1 x 1 x H x W), strip by strip, held in
    float16 (a weight map: its 3 significant digits change no pixel's rounding that matters,
    and it halves the largest array a 50 MP image needs)."""
    height, width = rgb.shape[:2]
    if height <= 2 * MASK_REACH or width <= 2 * MASK_REACH:
        return masking_map(to_tensor(rgb)).half()
    out = torch.empty(1, 1, height, width, dtype=torch.float16)
    rows = strip_rows(width)
    for read, core in windows(height, rows, MASK_REACH):
        m = masking_map(rows_tensor(rgb, read))
        out[..., read.start + core.start:read.start + core.stop, :] = m[..., core, :]
    return out


class FullRender:
    """``at(scale)`` gives the encoded bytes and the decoded pixels of the image shaded with a
    perturbation of RMS ``scale`` (at the working size); ``fit`` finds the largest scale whose
    written file keeps the visibility target."""

    def __init__(self, loaded: LoadedImage, mask: Union[torch.Tensor, Callable[[], torch.Tensor]], cap: float,
                 grain_cap: float) -> None:
        """``mask``: the full-size masking map (1 x 1 x H x W), or a function that makes it;
        then ``release`` can drop it while the optimizer runs or the figures are taken
        (a 50 MP image's map is 100 MB), and it is made again when a render needs it."""
        self._make = mask if callable(mask) else None
        self._mask = None if callable(mask) else mask
        self.loaded, self.cap, self.grain_cap = loaded, cap, grain_cap
        self.mid = self.fine = torch.zeros(1, 3, *loaded.rgb.shape[:2])
        self.norms = (1.0, 1.0)
        self.info = dict(loaded.info)          # how the file is written (a JPEG's quality...)

    @property
    def mask(self) -> torch.Tensor:
        if self._mask is None:
            self._mask = self._make()
        return self._mask

    def release(self) -> None:
        """Drop the full-size mask if it can be made again."""
        if self._make is not None:
            self._mask = None

    def set_pattern(self, mid: torch.Tensor, fine: torch.Tensor, mid_norm: float, fine_norm: float) -> None:
        """The working-size pattern and grain (``Shader.unit()``), enlarged strip by strip when rendered."""
        self.mid, self.fine = mid.float().cpu(), fine.float().cpu()
        self.norms = (mid_norm, fine_norm)

    def _pattern_rows(self, x: torch.Tensor, rows: slice) -> torch.Tensor:
        size = self.loaded.rgb.shape[:2]
        if tuple(x.shape[-2:]) == tuple(size):
            return x[..., rows, :]
        if x.shape[-2] > size[0] or x.shape[-1] > size[1]:      # working a hair larger: rare
            return resize(x, size)[..., rows, :]
        return upsample_rows(x, size, rows)

    def pixels(self, scale: float) -> np.ndarray:
        """The shaded image (H x W x 3 uint8) before encoding."""
        rgb = self.loaded.rgb
        out = np.empty_like(rgb)
        for read, _ in windows(rgb.shape[0], strip_rows(rgb.shape[1]), 0):
            delta = perturbation(self._pattern_rows(self.mid, read), self._pattern_rows(self.fine, read),
                                 self.mask[..., read, :].float(), scale, *self.norms, self.cap, self.grain_cap)
            out[read] = to_uint8(rows_tensor(rgb, read) + delta)
        return out

    def at(self, scale: float) -> tuple[bytes, np.ndarray]:
        data = encode(compose(self.loaded, self.pixels(scale)), self.loaded.format, self.info)
        return data, decode_rgb(data)

    def fit(self, target: float, start: float) -> tuple[float, bytes, np.ndarray, float]:
        """The largest scale whose written file keeps SSIMULACRA2 >= ``target``: (scale, the
        file's bytes, its decoded pixels, its score). A lossless format is scored on its
        pixels and encoded once, at the end; a lossy one is scored on its decoded bytes."""
        best: Optional[tuple[float, Image.Image, Optional[bytes], np.ndarray]] = None   # only the best kept

        def score_at(a: float) -> float:     # float32 to search, with a margin for float64's report
            nonlocal best
            image = compose(self.loaded, self.pixels(a))
            data = None if lossless(self.loaded.format) else encode(image, self.loaded.format, self.info)
            rgb = as_written_rgb(image) if data is None else decode_rgb(data)
            s = score_arrays(self.loaded.rgb, rgb, torch.float32) - 0.05
            if s >= target and (best is None or a > best[0]):
                best = (a, image, data, rgb)
            return s
        scale, score = fit_scale(score_at, target, start, low=1e-5, tolerance=0.3, max_evals=7)
        quality = self.info.get("jpeg_quality")
        if score < target and quality is not None and quality < 95:
            # Re-encoding at the original's (low) quality alone shows more than the target
            # allows: write at a higher quality instead, keeping the target first.
            self.info["jpeg_quality"] = min(95, int(quality) + 10)
            return self.fit(target, start)
        if best is not None and best[0] == scale:
            _, image, data, rgb = best
            return scale, data or encode(image, self.loaded.format, self.info), rgb, score
        data, rgb = self.at(scale)
        return scale, data, rgb, score
