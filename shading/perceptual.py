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


def _symmetric_pad_h(x: torch.Tensor, r: int) -> torch.Tensor:
    r = min(r, x.shape[-2])
    return torch.cat([x[..., :r, :].flip(-2), x, x[..., -r:, :].flip(-2)], -2)


def _blur(x: torch.Tensor) -> torch.Tensor:
    """Gaussian sigma 1.5: zero padding across the width and mirrored rows across the
    height, as the reference package does (it works on the transposed image)."""
    k, r = _kernel(dtype=x.dtype, device=x.device)
    c = x.shape[1]
    kw = k.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    x = F.conv2d(F.pad(x, (r, r, 0, 0)), kw, groups=c)
    h = x.shape[-2]
    if h > r:
        x = _symmetric_pad_h(x, r)
        return F.conv2d(x, kw.transpose(-1, -2), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), kw.transpose(-1, -2), groups=c)


def _norms(d: torch.Tensor) -> torch.Tensor:
    """Per channel: the mean and the 4-norm mean over the image, N x C x 2."""
    l1 = d.mean((-2, -1))
    l4 = d.pow(4).mean((-2, -1)).clamp_min(1e-30).pow(0.25)
    return torch.stack([l1, l4], -1)


def _scale_terms(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """N x 3 (channels) x 2 (norms) x 3 (ssim error, added detail, lost detail)."""
    mu1, mu2 = _blur(a), _blur(b)
    s11, s22, s12 = _blur(a * a), _blur(b * b), _blur(a * b)
    num_m = 1.0 - (mu1 - mu2) ** 2
    num_s = 2.0 * (s12 - mu1 * mu2) + _C2
    den_s = (s11 - mu1 * mu1) + (s22 - mu2 * mu2) + _C2
    err = (1.0 - num_m * num_s / den_s).clamp_min(0)
    edge = (1.0 + (b - mu2).abs()) / (1.0 + (a - mu1).abs()) - 1.0
    added, lost = edge.clamp_min(0), (-edge).clamp_min(0)
    return torch.stack([_norms(err), _norms(added), _norms(lost)], -1)


def _downsample(x: torch.Tensor) -> torch.Tensor:
    """2 x 2 box mean; a last odd row or column averages what it has."""
    return F.avg_pool2d(x, 2, ceil_mode=True, count_include_pad=False)


def ssimulacra2(reference: torch.Tensor, distorted: torch.Tensor, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Score (N,) of ``distorted`` against ``reference``, both N x 3 x H x W sRGB in [0, 1].
    float32 (``dtype``) is what the optimizer uses: within ~0.05 of float64 and faster."""
    ref = srgb_to_linear(reference.to(dtype))
    dis = srgb_to_linear(distorted.to(dtype))
    total = torch.zeros(ref.shape[0], dtype=dtype, device=ref.device)
    for scale in range(SCALES):
        if min(ref.shape[-2:]) < 8:
            break
        terms = _scale_terms(_xyb(ref), _xyb(dis))                 # N x 3 x 2 x 3
        total = total + (terms.abs() * _WEIGHTS[:, scale].to(terms)).sum((1, 2, 3))
        ref, dis = _downsample(ref), _downsample(dis)
    s = total * 0.9562382616834844
    s = 2.326765642916932 * s - 0.020884521182843837 * s * s + 6.248496625763138e-05 * s * s * s
    # 100 - 10 s^0.628 for s > 0; a tiny floor keeps the gradient finite at s = 0.
    return 100.0 - 10.0 * s.clamp_min(1e-12).pow(0.6276336467831387)


def score_arrays(reference: np.ndarray, distorted: np.ndarray, dtype: torch.dtype = torch.float64) -> float:
    """SSIMULACRA2 of two H x W x 3 (or H x W) uint8 arrays (float32 ``dtype``: faster,
    within a few hundredths)."""
    def as_tensor(a: np.ndarray) -> torch.Tensor:
        a = np.asarray(a)
        if a.ndim == 2:
            a = np.repeat(a[..., None], 3, -1)
        return torch.from_numpy(np.array(a[..., :3], dtype=np.float64)).permute(2, 0, 1)[None] / 255
    with torch.no_grad():
        return float(ssimulacra2(as_tensor(reference), as_tensor(distorted), dtype)[0])


def lowpass_rms_255(delta: np.ndarray, where: np.ndarray, sigma: float = 2.0) -> float:
    """RMS (in /255) over ``where`` of the perturbation blurred with a Gaussian of ``sigma``
    pixels: the part of a change the eye reads as a pattern or a shape."""
    d = torch.from_numpy(np.asarray(delta, dtype=np.float64))
    d = d.permute(2, 0, 1)[None] if d.ndim == 3 else d[None, None]
    radius = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-t * t / (2 * sigma * sigma))
    k = (k / k.sum()).view(1, 1, 1, -1).repeat(d.shape[1], 1, 1, 1)
    d = F.conv2d(F.pad(d, (radius, radius, 0, 0), mode="reflect"), k, groups=d.shape[1])
    d = F.conv2d(F.pad(d, (0, 0, radius, radius), mode="reflect"), k.transpose(-1, -2), groups=d.shape[1])
    low = d[0].pow(2).mean(0).numpy()
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
    for _ in range(max_evals):
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
