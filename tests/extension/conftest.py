"""Fixtures for the extension's browser tests: the real Shade daemon as a subprocess,
two loopback page servers (one forced "public" for Chrome's Local Network Access),
and Debian's chromium with the unpacked extension, driven by Playwright."""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shadetest import VENV_BIN, DaemonProcess, png_bytes
from shadetest.extension import CHROMIUM, EXT_DIR, EXT_ORIGIN, NATIVE_HOST_NAME, PAGES_DIR, native_host_override


@pytest.fixture(scope="session")
def images(tmp_path_factory, anchor_dir) -> dict[str, Path]:
    """Small test uploads, and the anchor library (tests/conftest.py: cat.png from skimage's chelsea)."""
    import numpy as np
    from PIL import Image
    from skimage import data

    root = tmp_path_factory.mktemp("images")
    anchors = anchor_dir
    uploads = root / "uploads"
    uploads.mkdir()
    coffee = np.asarray(Image.fromarray(data.coffee()).resize((120, 80)))
    astronaut = np.asarray(Image.fromarray(data.astronaut()).resize((72, 96)))
    (uploads / "art.png").write_bytes(png_bytes(coffee))
    (uploads / "portrait.png").write_bytes(png_bytes(astronaut))
    big = np.asarray(Image.fromarray(data.rocket()).resize((200, 100)))
    (uploads / "big.png").write_bytes(png_bytes(big))  # over the test config's max_pixels
    (uploads / "notes.txt").write_text("not an image; must reach the page unchanged\n")
    return {"anchors": anchors, "art": uploads / "art.png", "portrait": uploads / "portrait.png",
            "notes": uploads / "notes.txt", "big": uploads / "big.png", "uploads": uploads}


@pytest.fixture(scope="session")
def daemon(tmp_path_factory, plumbing_model_dir, images) -> DaemonProcess:
    """`shade daemon --port 0 --no-tray --no-watch` under a throw-away SHADE_HOME with
    tiny settings, the seeded random encoder, and the token in the documented file store
    (no keyring on CI). No anchors or styles of the user's and no target or style set: what
    a fresh install has (the built-in ones, the default target cat)."""
    home = tmp_path_factory.mktemp("shade-home")
    (home / "config").mkdir()
    (home / "config" / "config.toml").write_text(
        "view_size = 64\n"
        'quality = "fast"\n'
        'token_store = "file"\n'
        "max_pixels = 15000\n"
        f"model_dirs = [{json.dumps(str(plumbing_model_dir))}]\n",
        encoding="utf-8",
    )
    # config.toml decides: inherited SHADE_* variables would override it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHADE_")}
    env.update(SHADE_HOME=str(home), OMP_NUM_THREADS="1", SHADE_CHANNELS="latent")
    d = DaemonProcess(env, "--port", "0", "--no-tray", "--no-watch")
    yield d
    d.stop()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


@dataclass
class PageServer:
    origin: str
    port: int
    server: ThreadingHTTPServer


def _serve(root: Path) -> PageServer:
    handler = partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    return PageServer(origin=f"http://127.0.0.1:{port}", port=port, server=server)


@pytest.fixture(scope="session")
def site_root(tmp_path_factory, images) -> Path:
    root = tmp_path_factory.mktemp("site")
    for page in PAGES_DIR.glob("*.html"):
        shutil.copy(page, root / page.name)
    shutil.copy(images["art"], root / "art.png")
    return root


@pytest.fixture(scope="session")
def public_site(site_root) -> PageServer:
    """Served on loopback but declared "public" to chromium; Shade is switched on here."""
    s = _serve(site_root)
    yield s
    s.server.shutdown()


@pytest.fixture(scope="session")
def private_site(site_root) -> PageServer:
    """Another loopback origin (other port) where Shade stays off."""
    s = _serve(site_root)
    yield s
    s.server.shutdown()


def _native_host(user_data: Path, home: Path) -> Path:
    """Register Shade's native host for this profile: a wrapper that runs the
    package's `shade-native-host` with the test's SHADE_HOME."""
    wrapper = user_data.parent / "shade-native-host-wrapper"
    override = native_host_override(user_data)
    wrapper.write_text(
        "#!/bin/sh\n"
        f"export SHADE_HOME={json.dumps(str(home))}\n"
        f"[ -f {json.dumps(str(override))} ] && . {json.dumps(str(override))}\n"
        f"exec {json.dumps(str(VENV_BIN / 'shade-native-host'))} \"$@\"\n"
    )
    wrapper.chmod(0o755)
    hosts = user_data / "NativeMessagingHosts"
    hosts.mkdir(parents=True)
    (hosts / f"{NATIVE_HOST_NAME}.json").write_text(json.dumps({
        "name": NATIVE_HOST_NAME, "description": "Shade (test)", "path": str(wrapper), "type": "stdio",
        "allowed_origins": [f"{EXT_ORIGIN}/"],
    }))
    return wrapper


@dataclass
class Browser:
    context: object
    downloads: Path
    user_data: Path

    def sw(self):
        """The extension's service worker (woken through the options page if it slept)."""
        for w in self.context.service_workers:
            if w.url.startswith(EXT_ORIGIN):
                return w
        page = self.context.new_page()
        try:
            with self.context.expect_event("serviceworker", timeout=10000) as ev:
                page.goto(f"{EXT_ORIGIN}/options/options.html")
            return ev.value
        finally:
            page.close()

    def evaluate(self, script: str, arg=None):
        return self.sw().evaluate(script, arg)

    def set_storage(self, values: dict) -> None:
        self.evaluate("async (v) => { await chrome.storage.local.set(v); await shade.syncRegistration(); }", values)


@pytest.fixture(scope="session")
def browser(tmp_path_factory, daemon, public_site) -> Browser:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    base = tmp_path_factory.mktemp("chromium")
    user_data = base / "profile"
    user_data.mkdir()
    _native_host(user_data, daemon.home)
    downloads = base / "downloads"
    downloads.mkdir()
    (user_data / "Default").mkdir()
    (user_data / "Default" / "Preferences").write_text(json.dumps(
        {"download": {"default_directory": str(downloads), "prompt_for_download": False}}))
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(user_data), executable_path=CHROMIUM, headless=True, accept_downloads=True,
            downloads_path=str(downloads),
            args=["--no-sandbox", f"--disable-extensions-except={EXT_DIR}", f"--load-extension={EXT_DIR}",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run", f"--ip-address-space-overrides=127.0.0.1:{public_site.port}=public"],
        )
        try:
            # Give downloads back to chromium's own download manager (Playwright's saves
            # them under GUIDs and ignores the name an extension asks for), so the
            # tests see the file the user would get, in the profile's download folder.
            blank = context.pages[0] if context.pages else context.new_page()
            context.new_cdp_session(blank).send("Browser.setDownloadBehavior", {"behavior": "default"})
            b = Browser(context=context, downloads=downloads, user_data=user_data)
            sw = b.sw()
            assert sw.url == f"{EXT_ORIGIN}/background.js", sw.url
            yield b
        finally:
            context.close()


@pytest.fixture
def shade_on(browser, daemon, public_site, private_site):
    """Paired with the daemon, uploads shaded on the public test site only. These tests are about
    interception: every poison result at the default intensity is weak (the poisoning experiment
    shows no downstream effect there), so the test sites send weak results; what a weak result does
    under each rule, the default "hold" included, is tested in test_extension_verdict.py."""
    browser.set_storage({"daemonUrl": daemon.url, "token": daemon.token, "sites": [public_site.origin],
                         "defaults": {}, "copyToClipboard": False, "weakRules": {s.origin: "send" for s in (public_site, private_site)}})
    return browser
