"""The optimizers: Shade's own, and the published reference it is measured against.

Shade's: the perturbation is ``delta = budget * P(u)`` where ``budget`` is the perceptual
map (small on flat colours and line art), ``|u| <= eps``, and ``P`` keeps only part of
``u``'s luminance: SSIM and the eye's fine-detail vision are far more sensitive to
luminance than to colour, while the encoders read both (on taef2, keeping 3/4 of the
luminance lifted SSIM from 0.894 to 0.920 at the same PSNR for a 0.01 weaker ratio). Each step moves ``u``
along the normalized gradient (steepest descent in L2, which buys far more latent
movement per unit of visible change than sign steps do), then projects back onto
the per-pixel cap and onto an energy budget (RMS of delta), which fixes the PSNR.
The loss is the encoders' normalized latent distance to the target, seen directly and,
with weight ``eot``, through a freshly sampled post-upload transformation applied to the
uploaded image at its own size, before the trainer's resize (two passes a step when
0 < eot < 1: the clean pass keeps the plain ratio low, which the transforms' noise alone
erodes at a few dozen steps). Steps take the trainer views in turn; at the default quality
every other one is a 512 tile of the 1024 view, because a pattern tuned for the 512 view
alone fades at 1024 (ratio 0.89 there against 0.67 at 512). ``u`` starts from a small
random draw, so no two images (or seeds) share a pattern.

The reference (Nightshade's released algorithm): L-inf PGD with sign steps whose size
decays linearly from eps to eps/100, on the plain encoder loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import torch

from .precision import autocast
from .transforms import PostingSimulator
from .views import resize

StepCallback = Callable[[int], None]


@dataclass(frozen=True)
class AttackSettings:
    eps: float                 # per-pixel cap where the budget is 1, [0, 1] units
    rms: float                 # energy budget: RMS of delta over the view, [0, 1] units
    lr: float = 3 / 255        # RMS of the first step
    lr_floor: float = 0.1      # the cosine schedule ends at lr * lr_floor
    init_rms: float = 0.5 / 255
    luma: float = 0.75         # share of the pattern's luminance kept (1: plain RGB)


@dataclass
class TrainerView:
    """One way a trainer sees the image: resized to ``shape``, then the square crop at
    (``top``, ``left``) of side ``size``; ``targets`` holds the target latent per encoder."""

    shape: tuple[int, int]
    top: int
    left: int
    size: int
    targets: list = field(default_factory=list)

    def look(self, x: torch.Tensor) -> torch.Tensor:
        return resize(x, self.shape)[..., self.top:self.top + self.size, self.left:self.left + self.size]


def trainer_views(shape: tuple[int, int]) -> list[TrainerView]:
    """The centre crop (twice, it is what most trainers take) and both ends of a non-square view."""
    h, w = shape
    size = min(h, w)
    if h == w:
        return [TrainerView(shape, 0, 0, size)]
    if w > h:
        offsets = [(0, (w - size) // 2), (0, 0), (0, (w - size) // 2), (0, w - size)]
    else:
        offsets = [((h - size) // 2, 0), (0, 0), ((h - size) // 2, 0), (h - size, 0)]
    return [TrainerView(shape, top, left, size) for top, left in offsets]


def tiled_views(shape: tuple[int, int], tile: int) -> list[TrainerView]:
    """A view larger than the encoder's usual input (the 1024 view of FLUX- and SDXL-era
    trainers), seen through ``tile`` x ``tile`` crops on a grid over its centre square: each
    crop costs one pass at the usual size instead of four, and the encoder is convolutional,
    so what moves a tile's latent moves that part of the whole view's latent."""
    h, w = shape
    side = min(h, w)
    top0, left0 = (h - side) // 2, (w - side) // 2
    n = -(-side // tile)
    offsets = [0] if n == 1 else [round(i * (side - tile) / (n - 1) / 8) * 8 for i in range(n)]
    return [TrainerView(shape, top0 + dy, left0 + dx, tile) for dy in offsets for dx in offsets]


def interleave(*groups: Sequence[TrainerView]) -> list[TrainerView]:
    """One view from each non-empty group in turn, so every kind is seen every few steps."""
    groups = tuple(g for g in groups if g)
    longest = max((len(g) for g in groups), default=0)
    return [g[i % len(g)] for i in range(longest) for g in groups]


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


def _rms(x: torch.Tensor) -> torch.Tensor:
    return x.pow(2).mean().sqrt()


_LUMA = (0.299, 0.587, 0.114)


def damp_luma(u: torch.Tensor, keep: float) -> torch.Tensor:
    """``u`` with its luminance (Rec. 601) scaled by ``keep`` and its colour untouched."""
    if keep == 1:
        return u
    weights = torch.tensor(_LUMA, dtype=u.dtype, device=u.device).view(1, 3, 1, 1)
    return u - (1 - keep) * (u * weights).sum(1, keepdim=True)


class Shader:
    """Optimizes one image's perturbation at the working view; can be resumed."""

    def __init__(self, x: torch.Tensor, budget: torch.Tensor, encoders: Sequence[torch.nn.Module],
                 views: Sequence["TrainerView"], settings: AttackSettings,
                 generator: torch.Generator, eot: float = 0.5,
                 dtype: Optional[torch.dtype] = None) -> None:
        """``x`` and ``budget`` at the working resolution; ``views``: the trainer views looked
        through (with their per-encoder targets), used in turn, step by step; ``eot``: the
        weight of the transformed pass in the loss (0: none); ``dtype``: the
        autocast dtype of the encoder passes (None: float32)."""
        self.x, self.budget, self.encoders = x, budget, list(encoders)
        self.dtype = dtype
        self.views = list(views)
        self.settings = settings
        self.eot = eot
        self.simulator = PostingSimulator(generator)
        self.u = (torch.randn(x.shape, generator=generator) * settings.init_rms).to(x.device)
        with torch.no_grad():   # per view and encoder: the starting distance, so all weigh alike
            self.scales = [[float((enc(_channels_last(view.look(x))) - z).pow(2).mean().clamp_min(1e-8))
                            for enc, z in zip(self.encoders, view.targets)] for view in self.views]
        self.steps_done = 0

    def _pattern(self, u: torch.Tensor) -> torch.Tensor:
        eps = self.settings.eps
        return damp_luma(u, self.settings.luma).clamp(-eps, eps)   # damping can push a channel past eps

    def _delta(self, u: torch.Tensor) -> torch.Tensor:
        return self.budget * self._pattern(u)

    def unit(self) -> torch.Tensor:
        """The perturbation's pattern before the budget map, in [-1, 1]."""
        return self._pattern(self.u) / self.settings.eps

    def _project(self, u: torch.Tensor) -> torch.Tensor:
        s = self.settings
        u = u.clamp(-s.eps, s.eps)
        energy = _rms(self._delta(u))
        return u * (s.rms / energy) if energy > s.rms else u

    def _pass(self, view: TrainerView, scales: list[float], shaded: torch.Tensor, transform) -> torch.Tensor:
        loss = 0.0
        for enc, z, scale in zip(self.encoders, view.targets, scales):
            xt, zt = transform(shaded, z)
            with autocast(str(xt.device), self.dtype):
                latent = enc(_channels_last(xt))
            loss = loss + (latent.float() - zt).pow(2).mean() / scale
        return loss / len(self.encoders)

    def _loss(self, u: torch.Tensor) -> torch.Tensor:
        v = self.steps_done % len(self.views)
        view, scales = self.views[v], self.scales[v]
        uploaded = (self.x + self._delta(u)).clamp(0, 1)
        loss = 0.0
        if self.eot < 1:
            loss = (1 - self.eot) * self._pass(view, scales, view.look(uploaded), lambda x, z: (x, z))
        if self.eot > 0:
            posting = self.simulator.sample()
            loss = loss + self.eot * self._pass(view, scales, view.look(posting.op(uploaded)), posting.shift)
        return loss

    def run(self, steps: int, on_step: Optional[StepCallback] = None) -> None:
        s = self.settings
        for i in range(steps):
            lr = s.lr * (s.lr_floor + (1 - s.lr_floor) * 0.5 * (1 + math.cos(math.pi * i / max(1, steps))))
            u = self.u.requires_grad_(True)
            loss = self._loss(u)
            (grad,) = torch.autograd.grad(loss, u)
            with torch.no_grad():
                self.u = self._project(u.detach() - lr * grad / _rms(grad).clamp_min(1e-12))
            self.steps_done += 1
            if on_step:
                on_step(self.steps_done)


def reference_attack(x: torch.Tensor, encoder: torch.nn.Module, target: torch.Tensor, eps: float = 0.04,
                     steps: int = 500, on_step: Optional[StepCallback] = None) -> torch.Tensor:
    """Nightshade's released optimizer; returns delta at the view (|delta| <= eps)."""
    delta = torch.zeros_like(x)
    for i in range(steps):
        step = eps - (eps - eps / 100) * i / max(1, steps - 1)
        delta.requires_grad_(True)
        loss = (encoder(_channels_last((x + delta).clamp(0, 1))) - target).pow(2).mean()
        (grad,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            delta = (delta - step * grad.sign()).clamp(-eps, eps)
            delta = (x + delta).clamp(0, 1) - x
        if on_step:
            on_step(i + 1)
    return delta.detach()
