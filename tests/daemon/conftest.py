"""Fixtures for the daemon's tests: a temp SHADE_HOME, tiny shading settings, an anchor
library, an in-memory keyring (never the user's), a real app on a loopback port."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keyring
import pytest
from PIL import Image

from shadetest import DaemonProcess, MemoryKeyring


@pytest.fixture(autouse=True)
def memory_keyring():
    previous = keyring.get_keyring()
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    yield kr
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny images on a shared 2-core box: one intra-op thread is ~5x faster than two
    fighting the other test runs. (The subprocess daemons get OMP_NUM_THREADS=1.)"""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def anchor_dir(tmp_path_factory) -> Path:
    from skimage import data

    d = tmp_path_factory.mktemp("anchors")
    Image.fromarray(data.chelsea()).resize((128, 96)).save(d / "cat.png")
    Image.fromarray(data.coffee()).resize((128, 96)).save(d / "coffee.png")
    return d


@pytest.fixture
def shade_env(tmp_path, anchor_dir, plumbing_model_dir, monkeypatch) -> dict[str, str]:
    """Environment for a Shade home in a temp folder with tiny, fast settings and the
    seeded random encoder (these tests check plumbing, not protection)."""
    env = {
        "SHADE_HOME": str(tmp_path / "home"),
        "SHADE_MODEL_DIR": str(plumbing_model_dir),
        "SHADE_ANCHOR_DIR": str(anchor_dir),
        "SHADE_VIEW_SIZE": "64",
        "SHADE_QUALITY": "fast",
        "SHADE_STEPS": "3",
        "SHADE_DEVICE": "cpu",
        "SHADE_WATCH_DEBOUNCE_SECONDS": "0.2",
        "SHADE_CHANNELS": "latent",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for k in list(os.environ):
        if k.startswith("SHADE_") and k not in env:
            monkeypatch.delenv(k, raising=False)
    return env


@pytest.fixture
def settings_paths(shade_env):
    from shade_daemon.config import Paths, load_settings

    def make(**overrides: Any):
        env = dict(shade_env)
        env.update({f"SHADE_{k.upper()}": str(v) for k, v in overrides.items()})
        paths = Paths.resolve(env)
        return load_settings(env, paths), paths

    return make


@pytest.fixture
def make_client(aiohttp_client, settings_paths):
    """Start the real app on a loopback port; returns (client, token, app)."""
    from shade_daemon.http.app import create_app
    from shade_daemon.token_store import load_token

    async def make(watch: bool = False, **overrides: Any):
        settings, paths = settings_paths(**overrides)
        app = create_app(settings, paths, watch=watch)
        client = await aiohttp_client(app)
        token = load_token(settings, paths)
        return client, token, app

    return make


@pytest.fixture
def proc_env(shade_env) -> dict[str, str]:
    """The environment of a daemon subprocess: this test's SHADE_* settings only, a file
    token store reloaded at once, one thread."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHADE_")}
    env.update(shade_env)
    env["SHADE_TOKEN_STORE"] = "file"
    env["SHADE_TOKEN_RELOAD_SECONDS"] = "0"
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture
def daemons():
    """Daemon subprocesses a test starts (append them): killed at the end if still running."""
    started: list[DaemonProcess] = []
    yield started
    for d in started:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(10)
