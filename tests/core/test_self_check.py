"""The self-check (issue 16): when the written file is weak after JPEG 85, extra steps
continue at the low end of the step schedule, and the file they make is kept only when
it is stronger; otherwise the file from before them is written. On the seeded random
encoder with a 64-pixel view; the threshold is set so that every run counts as weak."""

from __future__ import annotations

import pytest
import torch

from shading import ProtectOptions, protect
from shading.io.imageio import decode_rgb, load_image
from shading.measure.metrics import ATTACKS, RatioMeter
from shading.models.encoders import load_encoder
from shading.optimize.attack import AttackSettings, Shader
from shading.optimize.render import FullRender
from shading.optimize.targets import TargetBuilder, resolve_anchor
from shading.options import Intensity

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def always_weak(monkeypatch):
    weak = Intensity("default", 78.0, 16.0, min_protection=0.0)
    monkeypatch.setattr(ProtectOptions, "intensity_preset", property(lambda self: weak))


def _spy(monkeypatch, wreck: bool):
    """Records each optimizer run's ``lr`` and each fitted file; ``wreck``: the check's run
    leaves a fresh random pattern behind, which cannot be stronger than the optimized one."""
    runs, files = [], []
    plain_run, plain_fit = Shader.run, FullRender.fit

    def run(self, steps, on_step=None, first=0, lr=None):
        runs.append(lr)
        plain_run(self, steps, on_step, first, lr=lr)
        if wreck and lr is not None:
            self.u = torch.randn(self.u.shape, generator=torch.Generator().manual_seed(0))

    def fit(self, target, start):
        out = plain_fit(self, target, start)
        files.append(out[1])
        return out
    monkeypatch.setattr(Shader, "run", run)
    monkeypatch.setattr(FullRender, "fit", fit)
    return runs, files


def _options(model_dir, anchor_dir):
    return ProtectOptions(target="cat", anchor_dirs=(anchor_dir,), model_dirs=(model_dir,), view_size=64, seed=3,
                          steps=8, device="cpu")


def _assert_figures_are_the_files(result, picture, model_dir, anchor_dir):
    """The ratios reported are those of the written file, measured afresh (a kept
    measurement must belong to the file that was written)."""
    opts = _options(model_dir, anchor_dir)
    encoder = load_encoder(result.measurements["encoders"][0], "cpu", opts.model_dirs)
    anchor, _ = resolve_anchor(None, "cat", opts.anchor_dirs, opts.model_dirs, "cpu")
    meter = RatioMeter([encoder], TargetBuilder("poison", anchor, None), load_image(picture).rgb, 64, "cpu")
    written = decode_rgb(result.data)
    m = result.measurements
    assert m["latent_ratio"] == pytest.approx(meter.ratios(written)[0], abs=1e-5)
    assert m["latent_ratio_jpeg85"] == pytest.approx(meter.ratios(written, ATTACKS["jpeg85"])[0], abs=1e-5)


def test_extra_steps_that_do_not_help_are_undone(picture, plumbing_model_dir, anchor_dir, monkeypatch, always_weak):
    runs, files = _spy(monkeypatch, wreck=True)
    result = protect(picture, _options(plumbing_model_dir, anchor_dir))
    m = result.measurements
    assert m["self_check"] == "no gain" and m["steps"] == 8 + 6
    assert len(files) == 3 and files[1] != files[0]
    assert result.data == files[2] == files[0]          # the file from before the check, made again
    assert m["ssimulacra2"] >= m["visibility_target"]
    _assert_figures_are_the_files(result, picture, plumbing_model_dir, anchor_dir)


def test_the_check_continues_at_the_schedules_low_end(picture, plumbing_model_dir, anchor_dir, monkeypatch,
                                                      always_weak):
    runs, files = _spy(monkeypatch, wreck=False)
    result = protect(picture, _options(plumbing_model_dir, anchor_dir))
    m = result.measurements
    _assert_figures_are_the_files(result, picture, plumbing_model_dir, anchor_dir)
    s = AttackSettings(visibility=78)
    assert runs == [None, pytest.approx(s.lr * s.check_lr)]
    assert m["self_check"] in ("improved", "no gain") and m["steps"] == 14
    assert len(files) == (2 if m["self_check"] == "improved" else 3)


def test_no_check_when_the_file_is_strong_enough(picture, plumbing_model_dir, anchor_dir, monkeypatch):
    strong = Intensity("default", 78.0, 16.0, min_protection=2.0)
    monkeypatch.setattr(ProtectOptions, "intensity_preset", property(lambda self: strong))
    runs, files = _spy(monkeypatch, wreck=False)
    m = protect(picture, _options(plumbing_model_dir, anchor_dir)).measurements
    assert m["self_check"] == "not needed" and runs == [None] and m["steps"] == 8
    # Weak only where the poisoning experiment shows no downstream effect, never by the pull's bar.
    assert not m["weak"] or m["weak_reason"].startswith("the poisoning experiment")
