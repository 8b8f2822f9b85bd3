"""The registration `shade install` writes works in a real browser: Debian's chromium,
run with the temporary HOME's per-user profile folder, finds the host manifest there,
starts the host through the installed launcher, and the Shade extension gets the token."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shade_daemon.config import Paths, load_settings
from shade_daemon.extension_ids import CHROME_ORIGIN, NATIVE_HOST_NAME
from shade_daemon.install import InstallContext, InstallOptions, install, uninstall
from shade_daemon.token_store import load_token

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.browser


def _launch(playwright, user_data: Path, ext_dir: Path, home: Path):
    return playwright.chromium.launch_persistent_context(
        str(user_data), executable_path=CHROMIUM, headless=True,
        env={**os.environ, "HOME": str(home)},
        args=["--no-sandbox", f"--disable-extensions-except={ext_dir}", f"--load-extension={ext_dir}",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--no-first-run"],
    )


def _service_worker(context):
    for worker in context.service_workers:
        if worker.url.startswith(CHROME_ORIGIN):
            return worker
    return context.wait_for_event("serviceworker", timeout=20000)


def test_chromium_pairs_through_the_installed_host(home, env):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    config = Paths.resolve(env).config_file
    config.parent.mkdir(parents=True)
    config.write_text('token_store = "file"\nport = 47998\n')  # no keyring on CI; the documented fallback
    ctx = InstallContext.for_os("linux", home, env, extension_src=REPO / "extension")
    install(ctx, InstallOptions(autostart=False))
    # Chromium's default per-user profile folder, where the installer put the manifest's folder.
    user_data = home / ".config" / "chromium"
    assert (user_data / "NativeMessagingHosts" / f"{NATIVE_HOST_NAME}.json").is_file()

    def pair() -> dict:
        with sync_playwright() as p:
            # The extension as the user loads it: the copy `shade install` made.
            context = _launch(p, user_data, ctx.installed_extension_dir, home)
            try:
                worker = _service_worker(context)
                assert worker.url.startswith(CHROME_ORIGIN + "/"), "the copied extension kept its pinned ID"
                return worker.evaluate(
                    "(name) => chrome.runtime.sendNativeMessage(name, {type: 'pair'})", NATIVE_HOST_NAME)
            finally:
                context.close()

    # Its own thread: another suite's session-wide Playwright may hold this thread's loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        reply = pool.submit(pair).result(timeout=120)

    token = load_token(load_settings(env), Paths.resolve(env), create=False)
    assert reply["ok"] is True, reply
    assert reply["token"] == token and reply["url"] == "http://127.0.0.1:47998"
    assert reply["pairing_code"] == f"shade:47998:{token}"

    uninstall(ctx)
    assert not (user_data / "NativeMessagingHosts" / f"{NATIVE_HOST_NAME}.json").exists()
    # Chromium's own profile files stay.
    assert any(user_data.iterdir())
    assert config.read_text().startswith('token_store = "file"')
