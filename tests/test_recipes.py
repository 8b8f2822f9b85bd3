"""The README's "how to add" recipes, followed: each is done exactly as written there, and
everything the recipe says picks the addition up by itself does so. (The API endpoint recipe
was followed for ``POST /v1/jobs/{id}/stronger``; ``test_openapi_lists_every_route`` holds it.)"""

from __future__ import annotations

import dataclasses

import numpy as np

import shading
from shade_daemon.cli import build_parser
from shadetest import needs_weights, png_bytes
from shading.models import encoders
from shading.models.taesd import TINY_AUTOENCODERS, TinyAutoencoderSpec
from shading.options import INTENSITIES, Intensity


def test_adding_an_intensity_preset_is_one_line(monkeypatch):
    """``Intensity("invisible", 90.0, 8.0, 0.95)`` in ``INTENSITIES``: the options accept it,
    the published choices list it and the CLI takes ``--intensity invisible``."""
    monkeypatch.setitem(INTENSITIES, "invisible", Intensity("invisible", 90.0, 8.0, 0.95))
    options = shading.ProtectOptions(target="cat", intensity="invisible")
    options.validate()
    assert options.visibility_target == 90.0 and options.intensity_preset.cap_255 == 8.0
    assert "invisible" in shading.choices()["intensity"]
    args = build_parser().parse_args(["protect", "x.png", "--out", "o", "--intensity", "invisible"])
    assert args.intensity == "invisible"


@needs_weights
def test_adding_a_tiny_autoencoder_is_one_spec_line(model_dir, tmp_path, monkeypatch):
    """A ``TinyAutoencoderSpec`` line (here: taef2's weights under another name) is found in the
    model folder, listed as installed and shades through ``Protector``."""
    taef2 = TINY_AUTOENCODERS["taef2"]
    spec = dataclasses.replace(taef2, name="taef2-copy")
    folder = tmp_path / "models" / "taef2-copy"
    folder.mkdir(parents=True)
    for name in (taef2.encoder_file, taef2.decoder_file):
        (folder / name).symlink_to(model_dir / "taef2" / name)
    monkeypatch.setitem(TINY_AUTOENCODERS, spec.name, spec)
    monkeypatch.setitem(encoders.REGISTRY, spec.name, encoders.TinyAutoencoder(spec))
    assert isinstance(spec, TinyAutoencoderSpec)
    listing = {i.name: i.installed for i in shading.available_encoders((tmp_path / "models",))}
    assert listing["taef2-copy"] and not listing["taef2"]
    protector = shading.Protector.from_pretrained(("taef2-copy",), "cpu", (tmp_path / "models",))
    flat = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)
    m = protector.protect(png_bytes(flat), shading.ProtectOptions(
        target="cat", encoders=("taef2-copy",), view_size=64, steps=1, quality="fast", self_check=False)).measurements
    assert m["encoders"] == ["taef2-copy"] and np.isfinite(m["latent_ratio"])

