"""The tiny-autoencoder family (TAESD, TAESDXL, TAESD3, TAEF1, TAEF2) in one file.

Each member is a small convolutional encoder/decoder pair distilled to map RGB
images in [0, 1] to the latent space of a big diffusion model's VAE, and back.
The layers are plain ``nn.Sequential`` stacks so the published ``.pth`` state
dicts (keys ``0.weight``, ``1.conv.0.weight`` ...) load without renaming.

TAEF2 (FLUX.2) differs from the older members only by "GN blocks" in the
deepest stage: a residual pooling branch with GroupNorm in front of the block.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


def _conv(n_in: int, n_out: int, **kwargs) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, padding=1, **kwargs)


class Clamp(nn.Module):
    """Soft clamp of latents to about [-3, 3] in front of the decoder."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


class Block(nn.Module):
    """Three 3x3 convs with a residual connection; optionally a GroupNorm pooling branch first."""

    def __init__(self, channels: int = 64, group_norm: bool = False) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            _conv(channels, channels), nn.ReLU(),
            _conv(channels, channels), nn.ReLU(),
            _conv(channels, channels),
        )
        self.pool = None
        if group_norm:
            wide = channels * 4
            self.pool = nn.Sequential(
                nn.Conv2d(channels, wide, 1, bias=False),
                nn.GroupNorm(4, wide),
                nn.ReLU(),
                nn.Conv2d(wide, channels, 1, bias=False),
            )
        self.fuse = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + x)


@dataclass(frozen=True)
class TinyAutoencoderSpec:
    """What distinguishes one member of the family from another."""

    name: str
    latent_channels: int
    group_norm: bool          # TAEF2's GN blocks in the deepest stage
    encoder_file: str
    decoder_file: str
    hub_repo: str             # where ``shade models pull`` fetches the weights


TINY_AUTOENCODERS: dict[str, TinyAutoencoderSpec] = {
    spec.name: spec
    for spec in (
        TinyAutoencoderSpec("taesd", 4, False, "taesd_encoder.pth", "taesd_decoder.pth", "madebyollin/taesd"),
        TinyAutoencoderSpec("taesdxl", 4, False, "taesdxl_encoder.pth", "taesdxl_decoder.pth", "madebyollin/taesdxl"),
        TinyAutoencoderSpec("taesd3", 16, False, "taesd3_encoder.pth", "taesd3_decoder.pth", "madebyollin/taesd3"),
        TinyAutoencoderSpec("taef1", 16, False, "taef1_encoder.pth", "taef1_decoder.pth", "madebyollin/taef1"),
        TinyAutoencoderSpec("taef2", 32, True, "taef2_encoder.pth", "taef2_decoder.pth", "madebyollin/taef2"),
    )
}


def make_encoder(latent_channels: int, group_norm: bool = False) -> nn.Sequential:
    """RGB [0, 1], N x 3 x H x W  ->  latent, N x C x H/8 x W/8."""
    deep = [Block(64, group_norm) for _ in range(3)]
    return nn.Sequential(
        _conv(3, 64), Block(64),
        _conv(64, 64, stride=2, bias=False), Block(64), Block(64), Block(64),
        _conv(64, 64, stride=2, bias=False), Block(64), Block(64), Block(64),
        _conv(64, 64, stride=2, bias=False), *deep,
        _conv(64, latent_channels),
    )


def make_decoder(latent_channels: int, group_norm: bool = False) -> nn.Sequential:
    """Latent, N x C x h x w  ->  RGB (about [0, 1]), N x 3 x 8h x 8w."""
    deep = [Block(64, group_norm) for _ in range(3)]
    return nn.Sequential(
        Clamp(), _conv(latent_channels, 64), nn.ReLU(), *deep,
        nn.Upsample(scale_factor=2), _conv(64, 64, bias=False), Block(64), Block(64), Block(64),
        nn.Upsample(scale_factor=2), _conv(64, 64, bias=False), Block(64), Block(64), Block(64),
        nn.Upsample(scale_factor=2), _conv(64, 64, bias=False), Block(64),
        _conv(64, 3),
    )


def load_state(module: nn.Module, path: str) -> nn.Module:
    """Load a ``.pth`` state dict (fp16 on disk) into ``module`` as float32, strictly."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    module.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return module
