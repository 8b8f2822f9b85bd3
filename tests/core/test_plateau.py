"""Stopping at the plateau (issue 16): the optimizer measures the clean latent distance at
the centre view every few steps and ends the run once it stops falling; the JSON says so
and counts the steps used. On the seeded random encoder with a 64-pixel view."""

from __future__ import annotations

import functools
import importlib

import numpy as np
import pytest
import torch

from shading import ProtectOptions, protect
from shading.attack import AttackSettings

STEPS = 20
protect_module = importlib.import_module("shading.protect")   # the package exports the function


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:80, 0:96]
    base = np.stack([xx * 2, yy * 3, (xx + yy)], -1).astype(float)
    base[:, 40:] += rng.normal(0, 40, (80, 56, 3))
    return base.clip(0, 255).astype(np.uint8)


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
    assert shader.distance() < 1.0                              # the measure saw real progress


def test_without_a_plateau_every_step_is_taken(picture, plumbing_model_dir, anchor_dir, monkeypatch):
    for settings in ({"plateau_every": 0}, {"plateau_gain": -1e9}):
        m, _ = _run(picture, plumbing_model_dir, anchor_dir, monkeypatch, **settings)
        assert (m["steps"], m["plateau"]) == (STEPS, False), settings
