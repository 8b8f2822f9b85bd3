"""The taef2 decoder (latent -> RGB) for the experiment: the core's decoder loader
(``shading.models.decoders``), which finds it beside the installed taef2 encoder."""

from __future__ import annotations

from ...models.decoders import Decoder, load_decoder

__all__ = ["Decoder", "load_decoder"]
