"""The one verdict (issue 28): levels from the measured ratio after JPEG 85 against each
intensity's own bar, the next step up the ladder, and words that never call a weak result
protected. Torch-free, like the module."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shading import INTENSITIES, next_intensity, verdict


def test_the_ladder_follows_the_intensities_and_ends():
    names = list(INTENSITIES)
    assert [next_intensity(n) for n in names] == [*names[1:], None]
    assert next_intensity("no-such") is None


@pytest.mark.parametrize("intensity", list(INTENSITIES))
def test_levels_come_from_the_intensitys_own_bar(intensity):
    bar = INTENSITIES[intensity].min_protection
    strong = verdict({"intensity": intensity, "latent_ratio_jpeg85": bar - 0.01, "weak": False})
    weak = verdict({"intensity": intensity, "latent_ratio_jpeg85": bar + 0.01, "weak": True})
    none = verdict({"intensity": intensity, "latent_ratio_jpeg85": 1.02, "weak": True})
    assert (strong.level, weak.level, none.level) == ("protected", "weak", "not protected")
    assert strong.words.startswith("protected") and not strong.advice
    assert weak.words == "weakly protected: a model trained on it would barely notice"
    assert none.words.startswith("not protected")
    # Without the core's flag the bar decides the same way.
    assert verdict({"intensity": intensity, "latent_ratio_jpeg85": bar + 0.01}).level == "weak"


def test_not_protected_reads_the_figure_the_optimizer_pulls():
    # A concept target: the pull is measured on the concept's ratio, not the anchor's.
    m = {"intensity": "default", "weak": True, "latent_ratio_jpeg85": 1.05}
    assert verdict({**m, "concept_ratio_jpeg85": 0.8}).level == "weak"
    assert verdict({**m, "concept_ratio_jpeg85": 1.01}).level == "not protected"
    assert verdict(m).level == "not protected"
    # The core's own "not weak" is never overruled into "not protected".
    assert verdict({**m, "weak": False, "concept_ratio_jpeg85": 1.2}).level == "protected"


def test_advice_names_a_step_that_exists_or_says_there_is_none():
    weak_default = verdict({"intensity": "default", "latent_ratio_jpeg85": 0.95, "weak": True})
    assert weak_default.next_intensity == "high" and "high" in weak_default.advice
    weak_high = verdict({"intensity": "high", "latent_ratio_jpeg85": 0.95, "weak": True})
    assert weak_high.next_intensity is None
    assert "already at the strongest intensity" in weak_high.advice and "--intensity" not in weak_high.advice


def test_the_cores_reason_for_weak_comes_along():
    why = "the poisoning experiment shows no effect on a trained model at this intensity"
    v = verdict({"intensity": "default", "latent_ratio_jpeg85": 0.8, "weak": True, "weak_reason": why})
    assert v.level == "weak" and v.reason == why
    assert verdict({"intensity": "default", "latent_ratio_jpeg85": 0.8, "weak": False}).reason is None


def test_no_figures_is_an_error_not_a_guess():
    with pytest.raises(ValueError):
        verdict({"intensity": "default"})


def test_expected_effect_is_shown_with_its_label_when_present():
    m = {"intensity": "default", "latent_ratio_jpeg85": 0.8, "weak": False}
    assert verdict(m).effect is None
    v = verdict({**m, "expected_effect": {"share": 0.4, "label": "from the experiment, not this image"}})
    assert v.effect and "40%" in v.effect and "not this image" in v.effect
    assert v.as_dict()["effect"] == v.effect
    # The strength work's shape: its own sentence and a note saying where the figure comes from.
    v = verdict({**m, "expected_effect": {"share_called_target": 0.3, "words": "in the experiment, 30% came out as "
                                          "the target", "note": "not measured on this image"}})
    assert "30% came out as the target" in v.effect and "not measured on this image" in v.effect


def test_the_verdict_imports_without_torch():
    code = "import sys, shading; shading.verdict; assert 'torch' not in sys.modules, 'torch loaded'"
    subprocess.run([sys.executable, "-c", code], check=True)
