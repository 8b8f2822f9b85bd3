"""The taef2 decoder (latent -> RGB), found beside the installed taef2 encoder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

from ..encoders import available_encoders
from ..errors import ModelNotFound
from ..taesd import TINY_AUTOENCODERS, load_state, make_decoder

Decoder = Callable[[torch.Tensor], torch.Tensor]


def load_decoder(name: str = "taef2", model_dirs: Sequence[Path] = (), device: str = "cpu") -> Decoder:
    """A function mapping latents (N x C x h x w) to RGB in [0, 1] (N x 3 x 8h x 8w), frozen."""
    spec = TINY_AUTOENCODERS[name]
    info = next(i for i in available_encoders(model_dirs) if i.name == name)
    if not info.installed or info.location is None:
        raise ModelNotFound(f"{name} is not installed; run `shade models pull {name}` or set SHADE_MODEL_DIR")
    where = Path(info.location)
    if where.suffix == ".pth":
        path = where.parent / spec.decoder_file
        if not path.is_file():
            raise ModelNotFound(f"{name}'s decoder is missing: {path} (the encoder is there)")
        net = load_state(make_decoder(spec.latent_channels, spec.group_norm), str(path)).to(device).eval()
        net.requires_grad_(False)

        def decode(z: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return net(z.to(device)).clamp(0, 1).cpu()
        return decode
    return _diffusers_decoder(where, device)


def _diffusers_decoder(folder: Path, device: str) -> Decoder:
    config = json.loads((folder / "config.json").read_text())
    if config.get("_class_name") != "AutoencoderTiny":
        raise ModelNotFound(f"{folder} is not a tiny autoencoder; the experiment decodes with taef2")
    import diffusers

    model: Optional[torch.nn.Module] = diffusers.AutoencoderTiny.from_pretrained(folder).to(device).eval()

    def decode(z: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model.decode(z.to(device)).sample.add(1).div(2).clamp(0, 1).cpu()
    return decode
