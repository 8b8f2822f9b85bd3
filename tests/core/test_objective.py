"""The strength objective: a target that shares the image's layout, a loss weighed by latent
band, the concept ratio that judges both targets alike, and the optimizer's settings
reachable through options."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from skimage import data

from shadetest import RANDOM_ENCODER, png_bytes
from shading import TUNABLE, OptionsError, ProtectOptions, Protector
from shading.measure.bands import band_terms, channel_stats, coarse, concept_distance
from shading.optimize.attack import AttackSettings
from shading.optimize.targets import TargetBuilder, carry_concept


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
    written file), the new objective (the layout-sharing target, the loss weighed by band) moves
    the anchor's channel statistics further than the old one (the anchor's whole latent, the
    plain distance) did, by a margin, before and after JPEG 85. The yardstick is the same for
    both (the concept ratio toward the anchor's crop)."""
    photo = png_bytes(data.coffee())
    protector = Protector.from_pretrained(("taef2",), "cpu", (model_dir,))
    out = {}
    # Before: the anchor's whole latent with the plain latent distance. Now: the defaults.
    for name, change in (("anchor", {"objective": "anchor", "tuning": {"band_weights": (0.0, 0.0, 1.0)}}),
                         ("concept", {})):
        opts = ProtectOptions(target="cat", encoders=("taef2",), model_dirs=(model_dir,), view_size=256,
                              quality="fast", seed=1, **change)
        out[name] = protector.protect(photo, opts).measurements
    for m in out.values():
        assert m["ssimulacra2"] >= 77.5
    assert abs(out["concept"]["ssimulacra2"] - out["anchor"]["ssimulacra2"]) < 1.5
    assert out["concept"]["concept_ratio"] < out["anchor"]["concept_ratio"] - MARGIN
    assert out["concept"]["concept_ratio_jpeg85"] < out["anchor"]["concept_ratio_jpeg85"] - MARGIN


MARGIN = 0.1       # measured: 0.34 after JPEG 85 on coffee at the 256 view (docs/evaluation.md, levers)


def _report(share_probe: float, share_pixels: float, shown: bool) -> dict:
    def stats(v: float) -> dict:
        return {"mean": v, "std": 0.0, "min": v, "max": v}
    return {"poisoned": "coffee", "target": "astronaut", "seeds": [0, 1], "samples_per_condition": 48,
            "shade": {"intensities": ["default"], "quality": "fast"},
            "conditions": [
                {"condition": "clean", "target_share": stats(0.01), "target_share_pixels": stats(0.0)},
                {"condition": "shade-default-p100", "target_share": stats(share_probe),
                 "target_share_pixels": stats(share_pixels),
                 "agreement": {"shown": shown, "verdict": "shown" if shown else "not shown: only probe saw it"}},
                {"condition": "label-swap", "target_share": stats(1.0), "target_share_pixels": stats(0.98)},
            ]}


def test_the_expected_effect_comes_from_the_experiment_and_says_so(tmp_path):
    from shading import effect_table, expected_effect

    table = tmp_path / "expected.json"
    table.write_text(__import__("json").dumps(effect_table(_report(0.4, 0.05, shown=False))))
    effect = expected_effect("poison", "default", table)
    # The weaker judge's share is the figure, and an effect one judge alone saw is not claimed.
    assert effect["share_called_target"] == 0.05 and effect["shown"] is False
    assert "not measured on this image" in effect["note"] and "experiment" in effect["words"]
    assert "not shown" in effect["words"] and "coffee shaded toward astronaut" in effect["source"]
    assert expected_effect("cloak", "default", table) is None
    # An intensity the experiment did not run: while it showed nothing anywhere, the nearest
    # run is reported (never a claim of an effect); once it showed something, nothing is said.
    for other in ("low", "high"):
        effect = expected_effect("poison", other, table)
        assert effect["measured_at"] == "default" and not effect["shown"]
        assert f"run at the default intensity, not at {other}" in effect["words"]
    table.write_text(__import__("json").dumps(effect_table(_report(0.5, 0.5, shown=True))))
    assert expected_effect("poison", "low", table) is None and expected_effect("poison", "default", table)["shown"]


def test_protect_json_carries_the_expected_effect(plumbing_model_dir, anchor_dir):
    """Poison at an intensity the shipped table covers carries it, labelled; a custom
    visibility or the old objective carries none (the experiment did not measure those)."""
    from shading import expected_effect

    shipped = expected_effect("poison", "default")
    assert shipped is not None, "shading/assets/expected_effect.json ships with the package"
    rgb = (np.random.default_rng(5).random((48, 64, 3)) * 255).astype(np.uint8)
    protector = Protector.from_pretrained((RANDOM_ENCODER,), "cpu", (plumbing_model_dir,))
    base = dict(target="cat", anchor_dirs=(anchor_dir,), model_dirs=(plumbing_model_dir,), encoders=(RANDOM_ENCODER,),
                view_size=64, quality="fast", seed=3, steps=2, self_check=False)
    m = protector.protect(png_bytes(rgb), ProtectOptions(**base)).measurements
    assert m["expected_effect"] == shipped and m["expected_effect"]["note"].startswith("from Shade's poisoning")
    assert protector.protect(png_bytes(rgb), ProtectOptions(**base, objective="anchor")).measurements[
        "expected_effect"] is None
