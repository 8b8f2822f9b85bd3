"""SSIMULACRA2 in torch: the perceptual score Shade budgets against, differentiable.

SSIMULACRA2 (Jon Sneyers, Cloudinary; libjxl's tools) compares two images in the XYB
colour space over six scales, each half the size of the one before: per channel an
SSIM-like error map (mean and 4-norm), and two edge maps, one for detail the distorted
image adds (ringing, noise) and one for detail it loses (blur). A fixed weighted sum
of those 108 numbers goes through a fitted curve onto 0-100: 100 is identical, about 90
visually lossless at 1:1, 70 high quality, 30 low.

This module follows the published constants and the layout of the Python package
``ssimulacra2`` (PyPI), which the tests use as the reference: scores agree to a
fraction of a point. Written in torch so the optimizer can follow its gradient and so
a full-size image is scored in well under a second.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

SCALES = 6
_C2 = 0.0009
_OPSIN = torch.tensor([[0.30, 0.622, 0.078],
                       [0.23, 0.692, 0.078],
                       [0.24342268924547819, 0.20476744424496821, 1 - 0.24342268924547819 - 0.20476744424496821]],
                      dtype=torch.float64)
_BIAS = 0.0037930732552754493

# The fitted weights, in the order (channel X, Y, B) x (scale 0..5) x (norm 1, norm 4) x
# (ssim error, added detail, lost detail).
_WEIGHTS = torch.tensor([
    0.0, 0.0007376606707406586, 0.0, 0.0, 0.0007793481682867309, 0.0, 0.0, 0.0004371155730107379, 0.0,
    1.1041726426657346, 0.00066284834129271, 0.00015231632783718752, 0.0, 0.0016406437456599754, 0.0,
    1.8422455520539298, 11.441172603757666, 0.0, 0.0007989109436015163, 0.000176816438078653, 0.0,
    1.8787594979546387, 10.94906990605142, 0.0, 0.0007289346991508072, 0.9677937080626833, 0.0,
    0.00014003424285435884, 0.9981766977854967, 0.00031949755934435053, 0.0004550992113792063, 0.0, 0.0,
    0.0013648766163243398, 0.0, 0.0, 0.0, 0.0, 0.0, 7.466890328078848, 0.0, 17.445833984131262,
    0.0006235601634041466, 0.0, 0.0, 6.683678146179332, 0.00037724407979611296, 1.027889937768264,
    225.20515300849274, 0.0, 0.0, 19.213238186143016, 0.0011401524586618361, 0.001237755635509985,
    176.39317598450694, 0.0, 0.0, 24.43300999870476, 0.28520802612117757, 0.0004485436923833408, 0.0, 0.0,
    0.0, 34.77906344483772, 44.835625328877896, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    0.0008680556573291698, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0005313191874358747, 0.0, 0.00016533814161379112,
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0004179171803251336, 0.0017290828234722833, 0.0, 0.0020827005846636437,
    0.0, 0.0, 8.826982764996862, 23.19243343998926, 0.0, 95.1080498811086, 0.9863978034400682,
    0.9834382792465353, 0.0012286405048278493, 171.2667255897307, 0.9807858872435379, 0.0, 0.0, 0.0,
    0.0005130064588990679, 0.0, 0.00010854057858411537,
], dtype=torch.float64).view(3, SCALES, 2, 3)


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] to linear light (the exact two-piece curve; differentiable)."""
    return torch.where(x <= 0.04045, x / 12.92, ((x.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4)


def _xyb(linear: torch.Tensor) -> torch.Tensor:
    """Linear RGB (N x 3 x H x W) to SSIMULACRA2's positive XYB."""
    mixed = torch.einsum("ij,njhw->nihw", _OPSIN.to(linear), linear) + _BIAS
    # The cube root's gradient is unbounded at 0: keep a hair above it.
    mixed = mixed.clamp_min(1e-7).pow(1 / 3) - _BIAS ** (1 / 3)
    x = 0.5 * (mixed[:, 0] - mixed[:, 1])
    y = 0.5 * (mixed[:, 0] + mixed[:, 1])
    b = mixed[:, 2]
    return torch.stack([x * 14.0 + 0.42, y + 0.01, (b - y) + 0.55], 1)


def _kernel(sigma: float = 1.5, dtype=torch.float64, device=None) -> tuple[torch.Tensor, int]:
    radius = int(3.33 * sigma + 0.5)
    t = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    k = torch.exp(-t * t / (2 * sigma * sigma))
    return k / k.sum(), radius


# Scoring goes scale by scale and, within a scale, in strips of rows, each read with a
# halo of the blur's radius from the source (a tensor or a uint8 array) and averaged down
# to its scale there: memory stays bounded for a 50 MP file or a gradient, and the sums
# are those of the whole image, since every core row sees exactly what it would in one piece.
STRIP_PIXELS = 1 << 18


def _rows(image, start: int, stop: int, dtype: torch.dtype) -> torch.Tensor:
    """Rows [start, stop) of ``image`` (1 x 3 x H x W sRGB in [0, 1], or H x W x 3 uint8)
    in linear light, 1 x 3 x h x W."""
    if isinstance(image, torch.Tensor):
        return srgb_to_linear(image[..., start:stop, :].to(dtype))
    part = torch.from_numpy(np.array(image[start:stop])).permute(2, 0, 1)[None].long()
    return _linear_table(dtype)[part]          # 8-bit codes: the curve looked up, not computed


def _linear_table(dtype: torch.dtype) -> torch.Tensor:
    """The 256 8-bit codes in linear light (the curve computed in float64)."""
    return srgb_to_linear(torch.arange(256, dtype=torch.float64) / 255).to(dtype)


def _downsample(x: torch.Tensor) -> torch.Tensor:
    """2 x 2 box mean; a last odd row or column averages what it has."""
    return F.avg_pool2d(x, 2, ceil_mode=True, count_include_pad=False)


def _scale_rows(linear: torch.Tensor, scale: int) -> torch.Tensor:
    for _ in range(scale):
        linear = _downsample(linear)
    return linear


def _shapes(height: int, width: int) -> list[tuple[int, int]]:
    """The size of each scale that is scored (scales under 8 pixels are not)."""
    shapes = []
    while len(shapes) < SCALES and min(height, width) >= 8:
        shapes.append((height, width))
        height, width = -(-height // 2), -(-width // 2)
    return shapes


def _blur_window(x: torch.Tensor, top: bool, bottom: bool, core: slice) -> torch.Tensor:
    """Gaussian sigma 1.5 of every channel of a window of rows, kept for its ``core`` rows:
    zero padding across the width, rows mirrored at the image's top/bottom edge (as the
    reference does); elsewhere the window holds the blur's radius of real rows beyond the core."""
    k, r = _kernel(dtype=x.dtype, device=x.device)
    kw = k.view(1, 1, 1, -1).repeat(x.shape[1], 1, 1, 1)
    x = F.conv2d(F.pad(x, (r, r, 0, 0)), kw, groups=x.shape[1])
    if top:
        x = torch.cat([x[..., :r, :].flip(-2), x], -2)
    if bottom:
        x = torch.cat([x, x[..., -r:, :].flip(-2)], -2)
    x = F.conv2d(x, kw.transpose(-1, -2), groups=x.shape[1])
    lead = 0 if top else r
    return x[..., core.start - lead:core.stop - lead, :]


def _map_sums(a, b, mu1, mu2, s11, s22, s12) -> torch.Tensor:
    """N x 3 (channels) x 2 (sum of the map, of its 4th power) x 3 (ssim error, added
    detail, lost detail), from the XYB images and their blurred moments over the same rows."""
    num_m = 1.0 - (mu1 - mu2) ** 2
    num_s = 2.0 * (s12 - mu1 * mu2) + _C2
    den_s = (s11 - mu1 * mu1) + (s22 - mu2 * mu2) + _C2
    err = (1.0 - num_m * num_s / den_s).clamp_min(0)
    edge = (1.0 + (b - mu2).abs()) / (1.0 + (a - mu1).abs()) - 1.0
    maps = (err, edge.clamp_min(0), (-edge).clamp_min(0))
    return torch.stack([torch.stack([m.sum((-2, -1)), m.pow(4).sum((-2, -1))], -1) for m in maps], -1)


def _window_sums(a_lin: torch.Tensor, b_lin: torch.Tensor, top: bool, bottom: bool, core: slice) -> torch.Tensor:
    """``_map_sums`` over the ``core`` rows of a window of one scale (linear light)."""
    a, b = _xyb(a_lin), _xyb(b_lin)
    moments = _blur_window(torch.cat([a, b, a * a, b * b, a * b], 1), top, bottom, core)
    return _map_sums(a[..., core, :], b[..., core, :], *moments.split(3, 1))


def _strips(height: int, width: int, scale: int, budget: Optional[int]) -> list[tuple[int, int]]:
    """Core rows of ``scale``'s strips; each reads 2^scale times as many source rows, and
    the source's pixels are what ``budget`` bounds. An even number of rows each (but the
    last), so that a strip's core averages down to whole rows of the next scale."""
    f = 2 ** scale
    rows = height if budget is None else max(16, budget // max(1, width * f * f)) // 2 * 2
    return [(start, min(start + rows, height)) for start in range(0, height, rows)]


def _window(scale: int, shape: tuple[int, int], core: tuple[int, int], source_height: int
            ) -> tuple[slice, bool, bool, slice]:
    """For ``core`` rows of ``scale``: the source rows its window is averaged from (the core
    and the blur's radius around it), whether the window meets the top/bottom edge, and
    where the core lies in it."""
    _, r = _kernel()
    w0, w1 = max(0, core[0] - r), min(shape[0], core[1] + r)
    f = 2 ** scale
    return slice(w0 * f, min(w1 * f, source_height)), w0 == 0, w1 == shape[0], slice(core[0] - w0, core[1] - w0)


def _size(image) -> tuple[int, int]:
    return tuple(image.shape[-2:]) if isinstance(image, torch.Tensor) else tuple(image.shape[:2])


def _sums(reference, distorted, dtype: torch.dtype, budget: Optional[int]) -> list[tuple[torch.Tensor, int]]:
    """Per scale: the summed maps (as ``_window_sums``) and the scale's pixel count.

    The full-size scale is read strip by strip from the sources; each strip's core, averaged
    down, is kept, and the smaller scales are read from that half-size image (a quarter of
    the pixels) instead of from the sources again: every scale used to read and average
    down the whole image anew."""
    height, width = _size(reference)
    shapes = _shapes(height, width)
    out = []
    halves: list[list[torch.Tensor]] = [[], []]
    total = 0
    for core in _strips(*shapes[0], 0, budget):
        rows, top, bottom, inner = _window(0, shapes[0], core, height)
        a, b = _rows(reference, rows.start, rows.stop, dtype), _rows(distorted, rows.start, rows.stop, dtype)
        total = total + _window_sums(a, b, top, bottom, inner)
        if len(shapes) > 1:
            halves[0].append(_downsample(a[..., inner, :]))
            halves[1].append(_downsample(b[..., inner, :]))
    out.append((total, shapes[0][0] * shapes[0][1]))
    if len(shapes) == 1:
        return out
    half_a, half_b = torch.cat(halves[0], -2), torch.cat(halves[1], -2)
    del halves
    h1 = shapes[1][0]
    for scale, shape in enumerate(shapes[1:], 1):
        total = 0
        for core in _strips(*shape, scale - 1, budget):
            rows, top, bottom, inner = _window(scale - 1, shape, core, h1)
            a = _scale_rows(half_a[..., rows, :], scale - 1)
            b = _scale_rows(half_b[..., rows, :], scale - 1)
            total = total + _window_sums(a, b, top, bottom, inner)
        out.append((total, shape[0] * shape[1]))
    return out


def _score(sums: list[tuple[torch.Tensor, int]]) -> torch.Tensor:
    total = 0.0
    for scale, (s, n) in enumerate(sums):
        norms = torch.stack([s[..., 0, :] / n, (s[..., 1, :] / n).clamp_min(1e-30).pow(0.25)], -2)
        total = total + (norms.abs() * _WEIGHTS[:, scale].to(norms)).sum((1, 2, 3))
    s = torch.as_tensor(total) * 0.9562382616834844
    s = 2.326765642916932 * s - 0.020884521182843837 * s * s + 6.248496625763138e-05 * s * s * s
    # 100 - 10 s^0.628 for s > 0; a tiny floor keeps the gradient finite at s = 0.
    return 100.0 - 10.0 * s.clamp_min(1e-12).pow(0.6276336467831387)


def ssimulacra2(reference: torch.Tensor, distorted: torch.Tensor, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Score (N,) of ``distorted`` against ``reference``, both N x 3 x H x W sRGB in [0, 1],
    differentiable, in one piece. float32 (``dtype``) is what the optimizer uses: within
    ~0.05 of float64 and faster."""
    return _score(_sums(reference, distorted, dtype, None))


def score(reference, distorted, dtype: torch.dtype = torch.float64, budget: Optional[int] = STRIP_PIXELS) -> float:
    """SSIMULACRA2 of one image (a 1 x 3 x H x W tensor in [0, 1], or an H x W x 3 uint8
    array) against another, strip by strip (``budget`` pixels each, counted in float32:
    a float64 strip is half as tall): bounded memory."""
    if budget is not None:
        budget = budget * 4 // torch.empty((), dtype=dtype).element_size()
    with torch.no_grad():
        return float(_score(_sums(reference, distorted, dtype, budget))[0])


class Reference:
    """The reference image's side of SSIMULACRA2, computed once for the many comparisons an
    optimizer makes against the same original: per scale its XYB image and the blurs of it
    and of its square. ``score``/``score_and_gradient`` then give what the functions of
    those names give, converting and averaging down the distorted image once per call."""

    def __init__(self, image: torch.Tensor, dtype: torch.dtype = torch.float32,
                 budget: Optional[int] = STRIP_PIXELS) -> None:
        """``image``: 1 x 3 x H x W sRGB in [0, 1]."""
        self.dtype, self.budget = dtype, budget
        self.shapes = _shapes(*image.shape[-2:])
        self.levels = []
        with torch.no_grad():
            for a in self._xyb_levels(image):
                h = a.shape[-2]
                m = _blur_window(torch.cat([a, a * a], 1), True, True, slice(0, h))
                self.levels.append((a, *m.split(3, 1)))

    def _linear_levels(self, image: torch.Tensor) -> list[torch.Tensor]:
        out = [srgb_to_linear(image.to(self.dtype))]
        for _ in self.shapes[1:]:
            out.append(_downsample(out[-1]))
        return out

    def _xyb_levels(self, image: torch.Tensor) -> list[torch.Tensor]:
        return [_xyb(level) for level in self._linear_levels(image)]

    def _level_sums(self, scale: int, b_lin: torch.Tensor, rows: tuple[int, int]) -> torch.Tensor:
        """Sums over core ``rows`` of ``scale``; ``b_lin``: the distorted level's window of
        rows (the core and the blur's radius around it, within the level)."""
        a, mu1, s11 = self.levels[scale]
        _, r = _kernel()
        height = a.shape[-2]
        w0, w1 = max(0, rows[0] - r), min(height, rows[1] + r)
        core = slice(rows[0] - w0, rows[1] - w0)
        a_win, b = a[..., w0:w1, :], _xyb(b_lin)
        moments = _blur_window(torch.cat([b, b * b, a_win * b], 1), w0 == 0, w1 == height, core)
        part = slice(*rows)
        return _map_sums(a[..., part, :], b[..., core, :], mu1[..., part, :], moments[:, :3],
                         s11[..., part, :], moments[:, 3:6], moments[:, 6:])

    def _windows(self, scale: int):
        _, r = _kernel()
        height = self.shapes[scale][0]
        for core in _strips(*self.shapes[scale], 0, self.budget):
            yield core, slice(max(0, core[0] - r), min(height, core[1] + r))

    def _sums(self, levels: list[torch.Tensor]) -> list[tuple[torch.Tensor, int]]:
        out = []
        for scale, level in enumerate(levels):
            total = sum(self._level_sums(scale, level[..., window, :], core) for core, window in self._windows(scale))
            out.append((total, self.shapes[scale][0] * self.shapes[scale][1]))
        return out

    def score(self, distorted: torch.Tensor) -> float:
        with torch.no_grad():
            return float(_score(self._sums(self._linear_levels(distorted)))[0])

    def score_and_gradient(self, distorted: torch.Tensor) -> tuple[float, torch.Tensor]:
        """As ``score_and_gradient``: each window's graph is built and followed back on its
        own; the levels' gradients then go down through the averaging and the sRGB curve."""
        with torch.no_grad():
            levels = self._linear_levels(distorted)
            sums = self._sums(levels)
        leaves = [s.clone().requires_grad_(True) for s, _ in sums]
        value = _score([(leaf, n) for leaf, (_, n) in zip(leaves, sums)])
        weights = torch.autograd.grad(value.sum(), leaves)
        grads = [torch.zeros_like(level) for level in levels]
        for scale, level in enumerate(levels):
            for core, window in self._windows(scale):
                leaf = level[..., window, :].detach().requires_grad_(True)
                part = self._level_sums(scale, leaf, core)
                (g,) = torch.autograd.grad((part * weights[scale]).sum(), leaf)
                grads[scale][..., window, :] += g
        for scale in range(len(levels) - 1, 0, -1):       # the averaging's adjoint, level by level
            below = torch.zeros_like(levels[scale - 1]).requires_grad_(True)
            (g,) = torch.autograd.grad(_downsample(below), below, grads[scale])
            grads[scale - 1] += g
        leaf = distorted.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(srgb_to_linear(leaf.to(self.dtype)), leaf, grads[0])
        return float(value[0].detach()), g


def score_arrays(reference: np.ndarray, distorted: np.ndarray, dtype: torch.dtype = torch.float64) -> float:
    """SSIMULACRA2 of two H x W x 3 (or H x W) uint8 arrays (float32 ``dtype``: faster,
    within a few hundredths), in strips: a 50 MP pair needs a few hundred MB."""
    def rgb(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a)
        return np.repeat(a[..., None], 3, -1) if a.ndim == 2 else a[..., :3]
    return score(rgb(reference), rgb(distorted), dtype)


def lowpass_power(delta: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """H x W: the power (mean over channels of the square, in (/255)^2 for a delta in code
    values) of the perturbation blurred with a Gaussian of ``sigma`` pixels, mirrored at
    the borders: the part of a change the eye reads as a pattern or a shape."""
    d = torch.from_numpy(np.asarray(delta, dtype=np.float64))
    d = d.permute(2, 0, 1)[None] if d.ndim == 3 else d[None, None]
    radius = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-t * t / (2 * sigma * sigma))
    k = (k / k.sum()).view(1, 1, 1, -1).repeat(d.shape[1], 1, 1, 1)
    d = F.conv2d(F.pad(d, (radius, radius, 0, 0), mode="reflect"), k, groups=d.shape[1])
    d = F.conv2d(F.pad(d, (0, 0, radius, radius), mode="reflect"), k.transpose(-1, -2), groups=d.shape[1])
    return d[0].pow(2).mean(0).numpy()


def lowpass_rms_255(delta: np.ndarray, where: np.ndarray, sigma: float = 2.0) -> float:
    """RMS (in /255) over ``where`` of the perturbation blurred with a Gaussian of ``sigma``."""
    low = lowpass_power(delta, sigma)
    return float(np.sqrt(low[where].mean())) if where.any() else float("nan")


def fit_scale(score_at, target: float, start: float, low: float = 1e-4, high: float = 0.25,
              tolerance: float = 0.25, max_evals: int = 8) -> tuple[float, float]:
    """The largest scale ``a`` (within [low, high]) found with ``score_at(a) >= target``,
    and its score: a secant search on log(100 - score) against log(a), since the
    deficit grows as a power of the perturbation's size. Never returns a scale whose score
    fell short; ``low`` is returned (with its score) if nothing else met the target."""
    best: tuple[float, float] | None = None
    tried: list[tuple[float, float]] = []
    a = min(max(start, low), high)
    # While only the floor (or nothing) has met the target the search goes on a little
    # longer: a pattern that turned much more visible per unit of energy (the start far too
    # large) would otherwise end at ``low``, an image left all but unshaded.
    while len(tried) < max_evals or (len(tried) < max_evals + 6 and (best is None or best[0] <= low)):
        s = float(score_at(a))
        tried.append((a, s))
        if s >= target and (best is None or a > best[0]):
            best = (a, s)
        if s >= target and s - target <= tolerance:
            break
        if s >= target and a >= high:
            break
        deficit, want = max(100.0 - s, 1e-6), max(100.0 - target, 1e-6)
        pts = sorted(tried)
        power = 0.63
        if len(pts) >= 2:    # the local exponent from the two tries nearest the target
            (a1, s1), (a2, s2) = sorted(tried, key=lambda t: abs(t[1] - target))[:2]
            if a1 != a2 and s1 != s2:
                p = math.log(max(100 - s1, 1e-6) / max(100 - s2, 1e-6)) / math.log(a1 / a2)
                if 0.1 < p < 3:
                    power = p
        a_next = a * (want / deficit) ** (1 / power)
        if s >= target:
            a_next = min(a_next, high)
        if best is not None and a_next <= best[0]:
            a_next = best[0] * 1.02
        fails = [t[0] for t in tried if t[1] < target]
        if fails and a_next >= min(fails):
            a_next = ((best[0] if best else low) * min(fails)) ** 0.5
        a = min(max(a_next, low), high)
    if best is None:
        return low, float(score_at(low))
    return best
