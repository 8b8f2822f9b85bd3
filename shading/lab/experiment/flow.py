"""The small generative model the poisoning experiment trains from scratch: class-conditional
rectified flow (flow matching) on normalized taef2 latents, a ~0.6 M-parameter two-level
conv net with FiLM conditioning on the time and the class.

Small on purpose: it has to train in seconds on two CPU cores, many times over (every
condition, every seed). It learns each class's latent statistics and their local layout,
which is what a probe can judge; it does not draw pretty pictures.
"""

from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass
from typing import Iterator, Optional

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class FlowSettings:
    """How the generator is built, trained and sampled."""

    width: int = 48               # channels at the latent's resolution (twice that one level down)
    mid_blocks: int = 2           # residual blocks at the lower level
    steps: int = 600              # at most this many optimizer steps
    # Train to the plateau: every ``plateau_every`` steps the mean loss of those steps is
    # compared with the previous stretch's; when it fell by less than ``plateau_gain`` of
    # it, the model has learnt what it will and training stops (0: always ``steps``).
    plateau_every: int = 50
    plateau_gain: float = 0.02
    batch: int = 64
    lr: float = 2e-3
    ema: float = 0.98             # weight averaging: samples come from the averaged weights
    label_dropout: float = 0.1    # classifier-free guidance: the label is dropped this often
    guidance: float = 1.5         # at sampling: unconditional + guidance * (conditional - unconditional)
    sample_steps: int = 16        # Euler steps from noise to data


def _group_count(channels: int) -> int:
    return 8 if channels % 8 == 0 else 1


class _Block(nn.Module):
    """Pre-norm residual block; the embedding sets a per-channel scale and shift (FiLM)."""

    def __init__(self, channels: int, embed: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(_group_count(channels), channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.film = nn.Linear(embed, 2 * channels)
        self.norm2 = nn.GroupNorm(_group_count(channels), channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return x + self.conv2(F.silu(h))


class FlowNet(nn.Module):
    """Predicts the velocity ``x1 - x0`` at ``x_t``; class ``classes`` (one past the last) is
    "no label", for classifier-free guidance."""

    def __init__(self, channels: int, classes: int, width: int = 48, mid_blocks: int = 2, embed: int = 128) -> None:
        super().__init__()
        self.classes = classes
        self.label = nn.Embedding(classes + 1, embed)
        self.time = nn.Sequential(nn.Linear(32, embed), nn.SiLU(), nn.Linear(embed, embed))
        self.inp = nn.Conv2d(channels, width, 3, padding=1)
        self.top_in = _Block(width, embed)
        self.down = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.mid = nn.ModuleList(_Block(2 * width, embed) for _ in range(mid_blocks))
        self.up = nn.ConvTranspose2d(2 * width, width, 2, stride=2)
        self.top_out = _Block(width, embed)
        self.out_norm = nn.GroupNorm(_group_count(width), width)
        self.out = nn.Conv2d(width, channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.register_buffer("freqs", torch.exp(torch.linspace(0, math.log(1000), 16)), persistent=False)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        angles = t[:, None] * self.freqs[None]
        emb = F.silu(self.time(torch.cat([angles.sin(), angles.cos()], dim=1)) + self.label(y))
        h = self.top_in(self.inp(x), emb)
        skip = h
        h = self.down(h)
        for block in self.mid:
            h = block(h, emb)
        h = self.top_out(self.up(h) + skip, emb)
        return self.out(F.silu(self.out_norm(h)))


@contextlib.contextmanager
def _autocast(dtype: Optional[torch.dtype]) -> Iterator[None]:
    if dtype is None:
        yield
    else:
        with torch.autocast(device_type="cpu", dtype=dtype):
            yield


def parameter_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def train_flow(latents: torch.Tensor, labels: torch.Tensor, classes: int, settings: FlowSettings,
               generator: torch.Generator, dtype: Optional[torch.dtype] = None) -> FlowNet:
    """Train a FlowNet from scratch on ``latents`` (N x C x H x W, normalized) with ``labels``
    (N,), seeded by ``generator``, until its loss plateaus (or ``settings.steps``); returns the
    weight-averaged model, in eval mode, with ``steps_trained`` set.

    ``dtype``: the autocast dtype of the passes (bfloat16 where the CPU has it natively)."""
    torch.manual_seed(int(torch.randint(0, 2 ** 31 - 1, (1,), generator=generator)))   # the init
    net = FlowNet(latents.shape[1], classes, settings.width, settings.mid_blocks)
    averaged = copy.deepcopy(net).requires_grad_(False)
    optimizer = torch.optim.AdamW(net.parameters(), lr=settings.lr, weight_decay=1e-4)
    warmup = max(1, settings.steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda k: min(1.0, (k + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * k / settings.steps)))
    n = latents.shape[0]
    stretch: list[float] = []
    previous: Optional[float] = None
    averaged.steps_trained = settings.steps
    for k in range(settings.steps):
        idx = torch.randint(0, n, (settings.batch,), generator=generator)
        x1, y = latents[idx], labels[idx].clone()
        y[torch.rand(settings.batch, generator=generator) < settings.label_dropout] = classes
        x0 = torch.randn(x1.shape, generator=generator)
        # Logit-normal times: the middle of the path, where the class is decided, is seen most.
        t = torch.sigmoid(torch.randn(settings.batch, generator=generator))
        xt = (1 - t)[:, None, None, None] * x0 + t[:, None, None, None] * x1
        with _autocast(dtype):
            v = net(xt, t, y)
        loss = (v.float() - (x1 - x0)).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        with torch.no_grad():
            for avg, p in zip(averaged.parameters(), net.parameters()):
                avg.lerp_(p, 1 - settings.ema)
        if settings.plateau_every:
            stretch.append(float(loss.detach()))
            if len(stretch) == settings.plateau_every:
                now = sum(stretch) / len(stretch)
                stretch.clear()
                if previous is not None and previous - now < settings.plateau_gain * previous:
                    averaged.steps_trained = k + 1
                    break
                previous = now
    return averaged.eval()


@torch.no_grad()
def sample_flow(net: FlowNet, label: int, count: int, shape: tuple[int, int, int], settings: FlowSettings,
                generator: torch.Generator, dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """``count`` latents (normalized) for class ``label``: Euler steps from noise, with
    classifier-free guidance."""
    x = torch.randn((count, *shape), generator=generator)
    y = torch.full((count,), label, dtype=torch.long)
    null = torch.full((count,), net.classes, dtype=torch.long)
    dt = 1.0 / settings.sample_steps
    for i in range(settings.sample_steps):
        t = torch.full((count,), i * dt)
        with _autocast(dtype):
            both = net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, null])).float()
        cond, uncond = both.chunk(2)
        x = x + dt * (uncond + settings.guidance * (cond - uncond))
    return x
