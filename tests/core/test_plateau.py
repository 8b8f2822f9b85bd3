"""Stopping at the plateau (issue 16): the optimizer measures the clean latent distance at
the centre view every few steps and ends the run once it stops falling; the JSON says so
and counts the steps used. On the seeded random encoder with a 64-pixel view."""

from __future__ import annotations

import functools
import importlib

import pytest

from shading import ProtectOptions, protect
from shading.optimize.attack import AttackSettings

STEPS = 20
protect_module = importlib.import_module("shading.protector")   # the package exports the function


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _run(picture, plumbing_model_dir, anchor_dir, monkeypatch, **settings):
    monkeypatch.setattr(protect_module, "AttackSettings", functools.partial(AttackSettings, **settings))
    shaders = []
    original = protect_module.Shader

    def keep(*args, **kw):
        shaders.append(original(*args, **kw))
        return shaders[-1]
    monkeypatch.setattr(protect_module, "Shader", keep)
    result = protect(picture, ProtectOptions(target="cat", anchor_dirs=(anchor_dir,), model_dirs=(plumbing_model_dir,),
                                             view_size=64, seed=3, steps=STEPS, self_check=False, device="cpu"))
    return result.measurements, shaders[0]


def test_the_run_ends_at_the_first_look_that_shows_no_gain(picture, plumbing_model_dir, anchor_dir, monkeypatch):
    # A gain of 100 % is never reached: the run stops at its second look (steps 8 and 12).
    m, shader = _run(picture, plumbing_model_dir, anchor_dir, monkeypatch, plateau_every=4, plateau_after=8,
                     plateau_gain=1.0)
    assert (m["steps"], m["plateau"]) == (12, True)
    assert m["ssimulacra2"] >= m["visibility_target"]          # refitted at the stop, as at the end
    moved = shader.distance()                    # what the measure sees: the pattern's effect on the latent,
    shader.scale = 0.0                           # relative to the original's own distance (exactly 1)
    assert shader.distance() == pytest.approx(1.0, abs=1e-6) and abs(moved - 1.0) > 1e-4


def test_without_a_plateau_every_step_is_taken(picture, plumbing_model_dir, anchor_dir, monkeypatch):
    for settings in ({"plateau_every": 0}, {"plateau_gain": -1e9}):
        m, _ = _run(picture, plumbing_model_dir, anchor_dir, monkeypatch, **settings)
        assert (m["steps"], m["plateau"]) == (STEPS, False), settings
