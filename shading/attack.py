"""The optimizers: Shade's own, and the published reference it is measured against.

Shade's: the perturbation is ``delta = eps * budget * tanh(w)`` (so the per-pixel cap
is exact and follows the perceptual budget), ``w`` starts from a small random draw (no
two images, or seeds, share a pattern), and Adam minimizes the encoders' normalized
latent distance to the target through a freshly sampled post-upload transformation
each step, plus a small energy penalty that keeps PSNR up.

The reference (Nightshade's released algorithm): L-inf PGD with sign steps whose size
decays linearly from eps to eps/100, on the plain encoder loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch

from .transforms import PostingSimulator
from .views import resize

StepCallback = Callable[[int], None]


@dataclass(frozen=True)
class AttackSettings:
    eps: float                 # per-pixel cap, [0, 1] units
    lr: float = 0.12           # Adam step on w
    lr_floor: float = 0.15     # the cosine schedule ends at lr * lr_floor
    energy_weight: float = 0.05
    init_scale: float = 0.25   # std of the random start of w


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


class Shader:
    """Optimizes one image's perturbation at the working view; can be resumed."""

    def __init__(self, x: torch.Tensor, budget: torch.Tensor, encoders: Sequence[torch.nn.Module],
                 views: Sequence[tuple[tuple[int, int], Sequence[torch.Tensor]]], settings: AttackSettings,
                 generator: torch.Generator, eot: bool = True) -> None:
        """``x`` and ``budget`` at the working resolution; ``views``: (shape, per-encoder target
        latents) for each trainer view looked through, used in turn, step by step."""
        self.x, self.budget, self.encoders = x, budget, list(encoders)
        self.views = [(tuple(shape), list(targets)) for shape, targets in views]
        self.settings = settings
        self.simulator = PostingSimulator(generator, enabled=eot)
        init = torch.randn(x.shape, generator=generator) * settings.init_scale
        self.w = init.to(x.device).requires_grad_(True)
        self.optimizer = torch.optim.Adam([self.w], lr=settings.lr)
        with torch.no_grad():   # per view and encoder: the starting distance, so all weigh alike
            self.scales = [[float((enc(_channels_last(resize(x, shape))) - z).pow(2).mean().clamp_min(1e-8))
                            for enc, z in zip(self.encoders, targets)] for shape, targets in self.views]
        self.steps_done = 0
        self.last_loss = float("nan")

    def delta(self) -> torch.Tensor:
        return self.settings.eps * self.budget * torch.tanh(self.w)

    def unit(self) -> torch.Tensor:
        """The perturbation's pattern before the budget: tanh(w), in [-1, 1]."""
        return torch.tanh(self.w.detach())

    def run(self, steps: int, on_step: Optional[StepCallback] = None) -> None:
        s = self.settings
        for i in range(steps):
            lr = s.lr * (s.lr_floor + (1 - s.lr_floor) * 0.5 * (1 + math.cos(math.pi * i / max(1, steps))))
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            delta = self.delta()
            shaded = (self.x + delta).clamp(0, 1)
            transform = self.simulator.sample()
            v = self.steps_done % len(self.views)
            shape, targets = self.views[v]
            shaded = resize(shaded, shape)
            loss = 0.0
            for enc, z, scale in zip(self.encoders, targets, self.scales[v]):
                xt, zt = transform(shaded, z)
                loss = loss + (enc(_channels_last(xt)) - zt).pow(2).mean() / scale
            loss = loss / len(self.encoders) + s.energy_weight * (delta / s.eps).pow(2).mean()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.steps_done += 1
            self.last_loss = float(loss.detach())
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
