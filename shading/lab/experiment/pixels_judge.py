"""The second judge: a small convolutional classifier on decoded pixels.

The probe (``probe.py``) reads pooled latent statistics, the very space Shade optimizes in;
a judge of another kind keeps the experiment honest. This one sees what a person would:
the generator's samples decoded to RGB by the taef2 decoder. It is trained on the decoded
clean latents of held-apart crops (so decoder artefacts are no clue to the class), with
random flips and shifts, and never sees a shaded image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


class PixelJudge(nn.Module):
    """Four strided conv layers, global average pooling, a linear head."""

    def __init__(self, classes: int, width: int = 24) -> None:
        super().__init__()
        chans = [3, width, 2 * width, 4 * width, 4 * width]
        self.features = nn.Sequential(*[layer for i in range(4) for layer in (
            nn.Conv2d(chans[i], chans[i + 1], 3, stride=2, padding=1), nn.GroupNorm(4, chans[i + 1]), nn.SiLU())])
        self.head = nn.Linear(chans[-1], classes)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(rgb * 2 - 1).mean((2, 3)))


@dataclass(frozen=True)
class JudgeSettings:
    steps: int = 300
    batch: int = 32
    lr: float = 2e-3
    shift: int = 8                 # pixels of random translation (with reflection) per sample


def _augment(rgb: torch.Tensor, shift: int, generator: torch.Generator) -> torch.Tensor:
    if torch.rand((), generator=generator) < 0.5:
        rgb = rgb.flip(-1)
    if shift:
        dy, dx = (int(v) for v in torch.randint(-shift, shift + 1, (2,), generator=generator))
        padded = F.pad(rgb, (shift, shift, shift, shift), mode="reflect")
        h, w = rgb.shape[-2:]
        rgb = padded[..., shift + dy:shift + dy + h, shift + dx:shift + dx + w]
    return rgb


def train_pixel_judge(images: torch.Tensor, labels: torch.Tensor, classes: int, generator: torch.Generator,
                      settings: JudgeSettings = JudgeSettings()) -> PixelJudge:
    """Fit the judge on ``images`` (N x 3 x H x W in [0, 1]) and their concept ``labels``."""
    torch.manual_seed(int(torch.randint(0, 2 ** 31 - 1, (1,), generator=generator)))
    judge = PixelJudge(classes)
    optimizer = torch.optim.AdamW(judge.parameters(), lr=settings.lr, weight_decay=1e-3)
    n = images.shape[0]
    for _ in range(settings.steps):
        idx = torch.randint(0, n, (settings.batch,), generator=generator)
        x = _augment(images[idx], settings.shift, generator)
        loss = F.cross_entropy(judge(x), labels[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return judge.eval()


@torch.no_grad()
def pixel_predictions(judge: PixelJudge, images: torch.Tensor, batch: int = 64) -> torch.Tensor:
    return torch.cat([judge(images[i:i + batch]).argmax(1) for i in range(0, images.shape[0], batch)])


def pixel_shares(judge: PixelJudge, images: torch.Tensor, classes: int) -> list[float]:
    """The share of ``images`` the judge assigns to each concept."""
    counts = torch.bincount(pixel_predictions(judge, images), minlength=classes).float()
    return (counts / max(1, images.shape[0])).tolist()


def pixel_accuracy(judge: PixelJudge, images: torch.Tensor, labels: torch.Tensor) -> float:
    return float((pixel_predictions(judge, images) == labels).float().mean())
