"""The taef2 decoder (latent -> RGB) for the experiment: the core's decoder loader
(``shading.decoders``), which finds it beside the installed taef2 encoder."""

from __future__ import annotations

from ..decoders import Decoder, load_decoder

__all__ = ["Decoder", "load_decoder"]
