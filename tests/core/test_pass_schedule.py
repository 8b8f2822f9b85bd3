"""The encoder-pass schedule (issue 16): with a simulated posting in the loss, each step
takes both passes (the default), or with ``alternate_eot`` one, clean or transformed in
turn, every view seen both ways within two rounds; the JSON counts the passes. On the
seeded random encoder with a 64-pixel view."""

from __future__ import annotations

import functools
import importlib

import pytest

from shading import ProtectOptions, protect
from shading.optimize.attack import AttackSettings, Shader

protect_module = importlib.import_module("shading.protector")   # the package exports the function

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _run(picture, model_dir, anchor_dir, monkeypatch, steps, **settings):
    """protect at the default quality (EOT weight 0.5, tiled 1024 view); returns the
    measurements, the number of views, and (step's view index, transformed?) per pass."""
    monkeypatch.setattr(protect_module, "AttackSettings", functools.partial(AttackSettings, **settings))
    passes, shaders = [], []
    plain_pass, plain_init = Shader._pass, Shader.__init__

    def spy(self, view, scales, shaded, transform):
        passes.append((self.steps_done % len(self.views), transform.__name__ != "<lambda>"))
        return plain_pass(self, view, scales, shaded, transform)

    def keep(self, *args, **kw):
        shaders.append(self)
        plain_init(self, *args, **kw)
    monkeypatch.setattr(Shader, "_pass", spy)
    monkeypatch.setattr(Shader, "__init__", keep)
    m = protect(picture, ProtectOptions(target="cat", anchor_dirs=(anchor_dir,), model_dirs=(model_dir,),
                                        view_size=64, seed=3, steps=steps, self_check=False, device="cpu")).measurements
    return m, len(shaders[0].views), passes


def test_each_step_takes_one_pass_and_every_view_is_seen_clean_and_transformed(
        picture, plumbing_model_dir, anchor_dir, monkeypatch):
    m, n_views, passes = _run(picture, plumbing_model_dir, anchor_dir, monkeypatch, steps=16, alternate_eot=True)
    assert n_views == 8                      # 4 whole 512 views and 4 tiles of the 1024 view, interleaved
    assert m["steps"] == 16 and m["encoder_passes"] == 16 == len(passes)
    for v in range(n_views):
        assert {transformed for view, transformed in passes if view == v} == {False, True}, v
    assert 6 <= sum(t for _, t in passes) <= 10       # about half the passes are transformed


def test_by_default_both_passes_every_step(picture, plumbing_model_dir, anchor_dir, monkeypatch):
    m, _, passes = _run(picture, plumbing_model_dir, anchor_dir, monkeypatch, steps=6)
    assert m["encoder_passes"] == 12 == len(passes)
    assert [t for _, t in passes] == [False, True] * 6
