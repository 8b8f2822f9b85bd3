"""Decoders: latent -> RGB, for the encoders that have one.

The tiny autoencoders ship a decoder beside their encoder (``<name>_decoder.pth``, or the
decoder half of a diffusers ``AutoencoderTiny`` folder); the seeded random test encoder
gets a seeded random decoder of the same shape, so every path that decodes also runs
without the real weights. A decoder is what lets Shade show "what the model sees": the
image reconstructed from the latent an encoder produces.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

import torch

from ..errors import ModelNotFound
from .encoders import REGISTRY, SeededRandom, TinyAutoencoder, _dirs
from .taesd import load_state, make_decoder

Decoder = Callable[[torch.Tensor], torch.Tensor]
RANDOM_DECODER_SEED_OFFSET = 1       # the random decoder's seed: the encoder's seed + this


def _frozen(net: torch.nn.Module, device: str, prepare: Callable[[torch.Tensor], torch.Tensor],
            finish: Callable[[torch.Tensor], torch.Tensor]) -> Decoder:
    net = net.to(device).eval()
    net.requires_grad_(False)

    def decode(z: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return finish(net(prepare(z.to(device)))).clamp(0, 1).cpu()
    return decode


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _tiny_decoder(family: TinyAutoencoder, location: Path, device: str) -> Decoder:
    spec = family.spec
    if location.suffix == ".pth":
        path = location.parent / spec.decoder_file
        if not path.is_file():
            raise ModelNotFound(f"{family.name}'s decoder is missing: {path.name} is not beside the encoder; run "
                                f"`shade models pull {family.name}` to fetch both")
        net = load_state(make_decoder(spec.latent_channels, spec.group_norm), str(path))
        return _frozen(net, device, _identity, _identity)
    config = json.loads((location / "config.json").read_text())
    if config.get("_class_name") != "AutoencoderTiny":
        raise ModelNotFound(f"{family.name} at {location} is not a tiny autoencoder folder; it has no decoder")
    import diffusers

    model = diffusers.AutoencoderTiny.from_pretrained(location)
    return _frozen(model.decoder, device, _identity, lambda y: y.add(1).div(2))


def _random_decoder(family: SeededRandom, location: Path, device: str) -> Decoder:
    spec = json.loads(location.read_text())
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(int(spec.get("seed", family.seed)) + RANDOM_DECODER_SEED_OFFSET)
        net = make_decoder(int(spec.get("latent_channels", family.latent_channels)), False)
    finally:
        torch.random.set_rng_state(state)       # leave the caller's random stream alone
    return _frozen(net, device, _identity, _identity)


def has_decoder(name: str) -> bool:
    """Whether the encoder family ``name`` comes with a decoder Shade can load."""
    return isinstance(REGISTRY.get(name), (TinyAutoencoder, SeededRandom))


def _load(name: str, device: str, dirs: tuple[Path, ...]) -> Decoder:
    family = REGISTRY.get(name)
    if not has_decoder(name) or family is None:
        raise ModelNotFound(f"encoder {name!r} has no decoder Shade can load (the tiny autoencoders and "
                            "random-tiny have one)")
    location = family.locate(dirs)
    if location is None:
        raise ModelNotFound(f"{name} is not installed; run `shade models pull {name}` or set SHADE_MODEL_DIR")
    if isinstance(family, SeededRandom):
        return _random_decoder(family, location, device)
    return _tiny_decoder(family, location, device)


def load_decoder(name: str = "taef2", model_dirs: Sequence[Path] = (), device: str = "cpu") -> Decoder:
    """A frozen function mapping latents (N x C x h x w) to RGB in [0, 1] (N x 3 x 8h x 8w),
    loaded afresh (a ``Protector`` keeps the ones it uses)."""
    return _load(name, device, _dirs(model_dirs))


def pick_decoder_encoder(names: Sequence[str]) -> str:
    """Of the encoders a job used, the one whose decoder shows what the model sees: taef2
    when present, else the first with a decoder."""
    with_decoder = [n for n in names if has_decoder(n)]
    if not with_decoder:
        raise ModelNotFound(f"none of the encoders {', '.join(names) or '(none)'} has a decoder; install taef2 "
                            "(`shade models pull taef2`) to see what the model sees")
    return "taef2" if "taef2" in with_decoder else with_decoder[0]
