"""The judge: a linear probe trained on clean latents of held-apart images, which says which
concept a (generated) latent looks like, and each concept's centroid for distances.

Its features are the latent pooled to 4 x 4 plus each channel's spread: what a concept's
colours, tones and texture put into the latent, without the exact layout of one crop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F


def probe_features(latents: torch.Tensor) -> torch.Tensor:
    """N x C x H x W -> N x (16 C + C): 4 x 4 average pool, and per-channel standard deviation."""
    pooled = F.adaptive_avg_pool2d(latents.float(), 4).flatten(1)
    spread = latents.float().flatten(2).std(dim=2)
    return torch.cat([pooled, spread], dim=1)


@dataclass
class Probe:
    """Multinomial logistic regression over standardized probe features."""

    mean: torch.Tensor
    scale: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor
    centroids: torch.Tensor        # K x C x H x W: each concept's mean clean latent

    def logits(self, latents: torch.Tensor) -> torch.Tensor:
        f = (probe_features(latents) - self.mean) / self.scale
        return f @ self.weight.T + self.bias

    def predict(self, latents: torch.Tensor) -> torch.Tensor:
        return self.logits(latents).argmax(dim=1)

    def probabilities(self, latents: torch.Tensor) -> torch.Tensor:
        return self.logits(latents).softmax(dim=1)

    def accuracy(self, latents: torch.Tensor, labels: torch.Tensor) -> float:
        return float((self.predict(latents) == labels).float().mean())

    def centroid_distances(self, latents: torch.Tensor) -> torch.Tensor:
        """Mean RMS distance (per latent element) from ``latents`` to each concept's centroid: K values."""
        diff = latents.float()[:, None] - self.centroids[None]
        return diff.pow(2).flatten(2).mean(dim=2).sqrt().mean(dim=0)


def train_probe(latents: torch.Tensor, labels: torch.Tensor, classes: int, weight_decay: float = 1e-2,
                iterations: int = 200) -> Probe:
    """Fit the probe on clean latents (full batch, L-BFGS); deterministic given the data."""
    feats = probe_features(latents)
    mean, scale = feats.mean(0), feats.std(0).clamp_min(1e-4)
    f = (feats - mean) / scale
    weight = torch.zeros(classes, f.shape[1], requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=iterations, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(f @ weight.T + bias, labels) + weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    centroids = torch.stack([latents[labels == k].float().mean(0) for k in range(classes)])
    return Probe(mean, scale, weight.detach(), bias.detach(), centroids)


def confusion(probe: Probe, latents: torch.Tensor, labels: torch.Tensor, classes: int) -> list[list[int]]:
    """Rows: true concept; columns: the probe's call."""
    pred = probe.predict(latents)
    out = [[0] * classes for _ in range(classes)]
    for t, p in zip(labels.tolist(), pred.tolist()):
        out[t][p] += 1
    return out


def shares(probe: Probe, latents: torch.Tensor, classes: int) -> list[float]:
    """The share of ``latents`` the probe assigns to each concept."""
    counts = torch.bincount(probe.predict(latents), minlength=classes).float()
    return (counts / max(1, latents.shape[0])).tolist()


def mean_probabilities(probe: Probe, latents: torch.Tensor) -> Sequence[float]:
    return probe.probabilities(latents).mean(0).tolist()
