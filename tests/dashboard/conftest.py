"""Fixtures for the dashboard's browser tests: the real Shade daemon as a subprocess on a
loopback port (the seeded random encoder, enough optimizer steps that a job can be caught
running), and Debian's chromium through Playwright, with a DNS rule that points a foreign
host name at loopback (what a DNS-rebinding attack does)."""

from __future__ import annotations

import json
import os
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shadetest import DaemonProcess
from shadetest.dashboard import REBIND_HOST
from shadetest.extension import CHROMIUM


@pytest.fixture(scope="module")
def make_env(tmp_path_factory, plumbing_model_dir, anchor_dir):
    """A new Shade home for a daemon subprocess: its environment."""
    def make() -> dict[str, str]:
        return _env(tmp_path_factory.mktemp("shade-home"), plumbing_model_dir, anchor_dir)
    return make


@pytest.fixture(scope="module")
def daemon_env(make_env) -> dict[str, str]:
    return make_env()


def _env(home: Path, plumbing_model_dir: Path, anchor_dir: Path) -> dict[str, str]:
    import shutil

    anchors = shutil.copytree(anchor_dir, home / "anchors")       # this home's own: tests add to it
    (home / "config").mkdir()
    (home / "config" / "config.toml").write_text(
        "view_size = 64\n"
        'quality = "fast"\n'
        'token_store = "file"\n'
        "steps = 120\n"
        "token_reload_seconds = 0\n"
        f"model_dirs = [{json.dumps(str(plumbing_model_dir))}]\n"
        f"anchor_dirs = [{json.dumps(str(anchors))}]\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHADE_")}
    env.update(SHADE_HOME=str(home), OMP_NUM_THREADS="1", SHADE_CHANNELS="latent")
    return env


@pytest.fixture(scope="module")
def daemon(daemon_env):
    d = DaemonProcess(daemon_env, "--port", "0", "--no-tray", "--no-watch")
    yield d
    d.stop()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", f"--host-resolver-rules=MAP {REBIND_HOST} 127.0.0.1"])
        yield browser
        browser.close()


@pytest.fixture
def context(chromium):
    ctx = chromium.new_context(viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def foreign_site(tmp_path_factory):
    """Another web server on loopback (another port: the same *site* as the daemon)."""
    root = tmp_path_factory.mktemp("foreign")
    (root / "index.html").write_text("<!doctype html><title>elsewhere</title><p>another page</p>")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
