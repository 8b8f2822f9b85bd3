"""The strength objective: a target that shares the image's layout, a loss weighed by latent
band, the concept ratio that judges both targets alike, and the optimizer's settings
reachable through options."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from skimage import data

from shading import TUNABLE, OptionsError, ProtectOptions, Protector
from shading.measure.bands import band_terms, channel_stats, coarse, concept_distance
from shading.optimize.attack import AttackSettings
from shading.optimize.targets import TargetBuilder, carry_concept
from shadetest import RANDOM_ENCODER, png_bytes


def test_every_tunable_setting_is_an_optimizer_setting_and_the_rest_are_derived():
    fields = {f.name for f in dataclasses.fields(AttackSettings)}
    assert set(TUNABLE) <= fields
    assert fields - set(TUNABLE) == {"visibility", "cap", "px", "written_jpeg"}   # from the image and intensity
    with pytest.raises(OptionsError, match="unknown optimizer setting"):
        ProtectOptions(target="cat", tuning={"plateau_evry": 4}).validate()
    with pytest.raises(OptionsError, match="objective"):
        ProtectOptions(target="cat", objective="layout").validate()


def test_the_concept_target_keeps_the_image_layout_and_takes_the_concepts_statistics():
    g = torch.Generator().manual_seed(0)
    content = torch.randn(1, 4, 16, 16, generator=g)
    content[..., :8, :] += 2.0                      # a layout: the top half brighter
    concept = 3 * torch.randn(1, 4, 16, 16, generator=g) + 1.5
    target = carry_concept(content, concept)
    assert torch.allclose(channel_stats(target), channel_stats(concept), atol=1e-3)
    # The layout is the image's: its coarse pattern correlates with the content's, not the concept's.
    corr = torch.corrcoef(torch.stack([coarse(target).flatten(), coarse(content).flatten()]))[0, 1]
    assert corr > 0.95
    mixed = carry_concept(content, concept, coarse_mix=1.0)
    assert (coarse(mixed) - coarse(concept)).abs().max() < (coarse(target) - coarse(concept)).abs().max()
    # The concept distance cannot see a layout: a shuffled copy of the concept is at zero.
    shuffled = concept.flatten(2)[..., torch.randperm(256, generator=g)].view_as(concept)
    assert float(concept_distance(shuffled, concept)) < 1e-4 < float(concept_distance(content, concept))


def test_band_terms_weigh_statistics_layout_and_cells_apart():
    z = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(1))
    shifted = z + 0.5                                    # statistics and layout move, cells too
    permuted = z[..., torch.randperm(16), :]             # same statistics, other layout
    assert band_terms(z, z).abs().max() < 1e-12
    assert band_terms(shifted, z)[0] > 0.1
    t = band_terms(permuted, z)
    assert t[0] < 1e-6 and t[2] > 0.5


def test_the_builder_aims_poison_at_the_concept_and_the_old_objective_at_the_anchor():
    encoder = torch.nn.Conv2d(3, 4, 8, stride=8)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    anchor = (np.random.default_rng(3).random((80, 80, 3)) * 255).astype(np.uint8)
    with torch.no_grad():
        concept = TargetBuilder("poison", anchor, None).latent(encoder, x)
        whole = TargetBuilder("poison", anchor, None, objective="anchor").latent(encoder, x)
        own, anchor_latent = encoder(x), whole
    assert torch.allclose(channel_stats(concept), channel_stats(anchor_latent), atol=1e-3)
    assert torch.corrcoef(torch.stack([concept.flatten(), own.flatten()]))[0, 1] > 0.9
    assert not torch.allclose(concept, whole)


def test_protect_reports_the_concept_ratio_and_takes_tuning(plumbing_model_dir, anchor_dir):
    """The JSON carries the concept ratio (after JPEG 85 too) and the objective; an optimizer
    setting set through options reaches the optimizer (here: the plateau stop)."""
    rgb = (np.random.default_rng(4).random((72, 96, 3)) * 255).astype(np.uint8)
    protector = Protector.from_pretrained((RANDOM_ENCODER,), "cpu", (plumbing_model_dir,))
    opts = ProtectOptions(target="cat", anchor_dirs=(anchor_dir,), model_dirs=(plumbing_model_dir,),
                          encoders=(RANDOM_ENCODER,), view_size=64, quality="fast", seed=3, steps=12,
                          tuning={"plateau_every": 2, "plateau_after": 2, "plateau_gain": 0.99})
    m = protector.protect(png_bytes(rgb), opts).measurements
    assert m["objective"] == "concept" and 0 < m["concept_ratio"] < 2 and 0 < m["concept_ratio_jpeg85"] < 2
    assert m["plateau"] and m["steps"] < 12          # a gain of 99 % per look is never reached: it stops early


@pytest.mark.weights
def test_the_concept_target_moves_the_concept_further_at_equal_visibility(model_dir):
    """On a real photo toward the built-in cat, at the default visibility (SSIMULACRA2 78 on the
    written file), the layout-sharing target moves the anchor's channel statistics further than
    the whole-anchor target does, by a margin, before and after JPEG 85. The yardstick is the
    same for both (the concept ratio toward the anchor's crop)."""
    photo = png_bytes(data.coffee()[::2, ::2])
    protector = Protector.from_pretrained(("taef2",), "cpu", (model_dir,))
    out = {}
    for objective in ("anchor", "concept"):
        opts = ProtectOptions(target="cat", encoders=("taef2",), model_dirs=(model_dir,), view_size=192,
                              quality="fast", seed=1, objective=objective)
        out[objective] = protector.protect(photo, opts).measurements
    for m in out.values():
        assert m["ssimulacra2"] >= 77.5
    assert abs(out["concept"]["ssimulacra2"] - out["anchor"]["ssimulacra2"]) < 1.5
    assert out["concept"]["concept_ratio"] < out["anchor"]["concept_ratio"] - MARGIN
    assert out["concept"]["concept_ratio_jpeg85"] < out["anchor"]["concept_ratio_jpeg85"] - MARGIN


MARGIN = 0.03
