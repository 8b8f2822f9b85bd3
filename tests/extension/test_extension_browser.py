"""The extension in Debian's chromium (Playwright) against the real Shade daemon."""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shadetest.extension import EXT_ORIGIN, b64, free_port, native_host_override

pytestmark = pytest.mark.browser

NOT_RUNNING = "The Shade app is not running on this computer"


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def assert_shaded(original: bytes, delivered: bytes) -> None:
    a, b = pixels(original), pixels(delivered)
    assert a.shape == b.shape, f"size changed: {a.shape} -> {b.shape}"
    diff = np.abs(a - b)
    assert diff.mean() > 0.1, "the page got pixels identical to the original"
    assert diff.max() <= 64, "the change is far outside a shading budget"


def assert_daemon_made(daemon, filename: str, delivered: bytes, before: set[str]) -> dict:
    """The daemon has a finished job for this upload whose result is exactly what was delivered."""
    new = [j for j in daemon.jobs() if j["id"] not in before and j["filename"] == filename and j["status"] == "done"]
    assert new, f"the daemon has no new finished job for {filename}"
    for job in new:
        status, body = daemon.request("GET", f"/v1/jobs/{job['id']}/result")
        if status == 200 and body == delivered:
            return job
    raise AssertionError("no daemon job result matches the delivered bytes")


def job_ids(daemon) -> set[str]:
    return {j["id"] for j in daemon.jobs()}


def open_page(browser, site):
    page = browser.context.new_page()
    page.goto(f"{site.origin}/upload.html")
    page.wait_for_load_state("load")
    return page


def received(page, count: int, timeout: float = 60000) -> list[dict]:
    page.wait_for_function("(n) => window.received.length >= n", arg=count, timeout=timeout)
    return [{**r, "bytes": base64.b64decode(r["b64"])} for r in page.evaluate("window.received")]


def spec(path, name=None, mime="image/png") -> dict:
    return {"name": name or path.name, "type": mime, "b64": b64(path)}


def test_context_menu_handler_downloads_a_shaded_file(shade_on, daemon, public_site, images):
    page = open_page(shade_on, public_site)
    before = job_ids(daemon)
    out = shade_on.evaluate("""async (origin) => {
        const tab = (await chrome.tabs.query({ url: origin + "/*" })).sort((a, b) => b.id - a.id)[0];  // the newest: this test's page
        return shade.handleContextMenuClick(
            { menuItemId: "shade-before-upload", srcUrl: origin + "/art.png", pageUrl: origin + "/upload.html", frameId: 0 },
            tab);
    }""", public_site.origin)
    assert out["ok"], out
    assert out["filename"] == "art-shaded.png"
    assert Path(out["path"]).parent == shade_on.downloads
    assert Path(out["path"]).name.startswith("art-shaded") and out["path"].endswith(".png")
    saved = open(out["path"], "rb").read()
    item = shade_on.evaluate("async (id) => (await chrome.downloads.search({ id }))[0]", out["downloadId"])
    assert item["state"] == "complete" and item["mime"] in ("image/png", "")
    assert_shaded(images["art"].read_bytes(), saved)
    job = assert_daemon_made(daemon, "art.png", saved, before)
    assert job["id"] == out["jobId"]
    page.close()


def test_context_menu_on_a_data_url_image(shade_on, daemon, public_site, images):
    page = open_page(shade_on, public_site)
    data_url = "data:image/png;base64," + b64(images["portrait"])
    out = shade_on.evaluate("""async ([origin, src]) => {
        const tab = (await chrome.tabs.query({ url: origin + "/*" })).sort((a, b) => b.id - a.id)[0];  // the newest: this test's page
        return shade.handleContextMenuClick({ menuItemId: "shade-before-upload", srcUrl: src, pageUrl: origin + "/", frameId: 0 }, tab);
    }""", [public_site.origin, data_url])
    assert out["ok"], out
    assert out["filename"] == "image-shaded.png"
    assert Path(out["path"]).name.startswith("image-shaded") and out["path"].endswith(".png")
    assert_shaded(images["portrait"].read_bytes(), open(out["path"], "rb").read())
    page.close()


def test_file_input_upload_is_shaded_and_other_files_pass(shade_on, daemon, public_site, images):
    page = open_page(shade_on, public_site)
    before = job_ids(daemon)
    page.set_input_files("#file", [str(images["art"]), str(images["notes"])])
    got = received(page, 2)
    assert [(r["via"], r["name"]) for r in got] == [("input", "art.png"), ("input", "notes.txt")]
    assert got[0]["type"] == "image/png"
    assert_shaded(images["art"].read_bytes(), got[0]["bytes"])
    assert got[1]["bytes"] == images["notes"].read_bytes()
    assert_daemon_made(daemon, "art.png", got[0]["bytes"], before)
    # the input now holds the shaded file, for sites that read it at submit time
    assert page.evaluate("document.getElementById('file').files[0].size") == len(got[0]["bytes"])
    page.close()


def test_drop_is_shaded(shade_on, daemon, public_site, images):
    page = open_page(shade_on, public_site)
    before = job_ids(daemon)
    page.evaluate("(s) => dropFiles(s)", [spec(images["portrait"])])
    got = received(page, 1)
    assert got[0]["via"] == "drop" and got[0]["name"] == "portrait.png"
    assert_shaded(images["portrait"].read_bytes(), got[0]["bytes"])
    assert_daemon_made(daemon, "portrait.png", got[0]["bytes"], before)
    page.close()


def test_paste_is_shaded(shade_on, daemon, public_site, images):
    page = open_page(shade_on, public_site)
    before = job_ids(daemon)
    page.evaluate("(s) => pasteFiles(s)", [spec(images["art"], name="pasted.png")])
    got = received(page, 1)
    assert got[0]["via"] == "paste" and got[0]["name"] == "pasted.png"
    assert_shaded(images["art"].read_bytes(), got[0]["bytes"])
    assert_daemon_made(daemon, "pasted.png", got[0]["bytes"], before)
    page.close()


def test_input_inside_shadow_root_is_shaded(shade_on, daemon, public_site, images):
    page = open_page(shade_on, public_site)
    before = job_ids(daemon)
    page.locator("shadow-upload input#inner").set_input_files(str(images["portrait"]))
    got = received(page, 1)
    assert [(r["via"], r["name"]) for r in got] == [("shadow", "portrait.png")]
    assert_shaded(images["portrait"].read_bytes(), got[0]["bytes"])
    assert_daemon_made(daemon, "portrait.png", got[0]["bytes"], before)
    page.close()


def test_site_not_enabled_gets_the_original(shade_on, daemon, private_site, images):
    page = open_page(shade_on, private_site)
    before = job_ids(daemon)
    page.set_input_files("#file", str(images["art"]))
    page.evaluate("(s) => dropFiles(s)", [spec(images["portrait"])])
    got = received(page, 2)
    assert got[0]["bytes"] == images["art"].read_bytes()
    assert got[1]["bytes"] == images["portrait"].read_bytes()
    assert page.locator("#shade-overlay").count() == 0
    assert job_ids(daemon) == before
    page.close()


def test_daemon_down_shows_error_and_withholds_the_original(shade_on, daemon, public_site, images):
    dead = f"http://127.0.0.1:{free_port()}"
    shade_on.set_storage({"daemonUrl": dead})
    page = open_page(shade_on, public_site)
    page.set_input_files("#file", str(images["art"]))
    overlay = page.locator("#shade-overlay[data-state=error]")
    overlay.wait_for(timeout=15000)
    assert NOT_RUNNING in page.locator("#shade-overlay .message").inner_text()
    page.wait_for_timeout(300)
    assert page.evaluate("window.received.length") == 0
    assert page.evaluate("document.getElementById('file').files.length") == 0

    # the user starts Shade and retries: the page then gets the shaded image
    shade_on.set_storage({"daemonUrl": daemon.url})
    page.locator("#shade-overlay button[data-action=retry]").click()
    got = received(page, 1)
    assert_shaded(images["art"].read_bytes(), got[0]["bytes"])

    # a second failure, this time the user cancels: nothing reaches the page
    shade_on.set_storage({"daemonUrl": dead})
    page.evaluate("(s) => dropFiles(s)", [spec(images["portrait"])])
    page.locator("#shade-overlay[data-state=error]").wait_for(timeout=15000)
    # the page's own scripts cannot press the buttons for the user
    page.evaluate("document.querySelector('#shade-overlay[data-state=error]').shadowRoot.querySelector('[data-action=original]').click()")
    page.wait_for_timeout(300)
    assert page.evaluate("window.received.length") == 1
    page.locator("#shade-overlay button[data-action=cancel]").click()
    page.locator("#shade-overlay").wait_for(state="detached", timeout=15000)   # a loaded CI machine is slow
    page.wait_for_timeout(300)
    assert page.evaluate("window.received.length") == 1

    # and "Send original" is an explicit choice that delivers the untouched file
    page.evaluate("(s) => pasteFiles(s)", [spec(images["art"], name="orig.png")])
    page.locator("#shade-overlay[data-state=error]").wait_for(timeout=15000)
    page.locator("#shade-overlay button[data-action=original]").click()
    got = received(page, 2)
    assert got[1]["name"] == "orig.png" and got[1]["bytes"] == images["art"].read_bytes()
    page.close()


def test_start_shade_starts_the_app_through_the_helper_and_the_upload_goes_on(shade_on, public_site, images,
                                                                               plumbing_model_dir, tmp_path):
    """The app is not running: the card offers "Start Shade" first; the native helper starts the
    daemon (here in a Shade home of its own, on a port of its own), the extension pairs with it,
    and the held upload is shaded and sent."""
    from shade_daemon.config import Paths
    from shade_daemon.runinfo import read_info
    from shadetest import stop_recorded_daemon

    home, port = tmp_path / "started-home", free_port()
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text(
        f'view_size = 64\nquality = "fast"\ntoken_store = "file"\nmax_pixels = 15000\nport = {port}\n'
        'channels = ["latent"]\n'
        f"model_dirs = [{json.dumps(str(plumbing_model_dir))}]\n", encoding="utf-8")
    override = native_host_override(shade_on.user_data)
    override.write_text(f"export SHADE_HOME={json.dumps(str(home))}\n")
    paths = Paths.resolve({"SHADE_HOME": str(home)})
    try:
        shade_on.set_storage({"daemonUrl": f"http://127.0.0.1:{port}"})
        page = open_page(shade_on, public_site)
        page.set_input_files("#file", str(images["art"]))
        page.locator("#shade-overlay[data-state=error]").wait_for(timeout=15000)
        assert NOT_RUNNING in page.locator("#shade-overlay .message").inner_text()
        first = page.locator("#shade-overlay button").first
        assert first.get_attribute("data-action") == "start" and first.inner_text() == "Start Shade"
        first.click()
        got = received(page, 1, timeout=90000)
        assert_shaded(images["art"].read_bytes(), got[0]["bytes"])
        info = read_info(paths)
        assert info is not None and info.port == port, "the helper's daemon is the one that shaded"
        stored = shade_on.evaluate("chrome.storage.local.get(['daemonUrl', 'token'])")
        assert stored["daemonUrl"] == f"http://127.0.0.1:{port}" and stored["token"]
        page.close()
    finally:
        override.unlink(missing_ok=True)
        stop_recorded_daemon({"SHADE_HOME": str(home)})


def test_context_menu_error_when_daemon_down(shade_on, public_site):
    dead = f"http://127.0.0.1:{free_port()}"
    shade_on.set_storage({"daemonUrl": dead})
    page = open_page(shade_on, public_site)
    out = shade_on.evaluate("""async (origin) => {
        const tab = (await chrome.tabs.query({ url: origin + "/*" })).sort((a, b) => b.id - a.id)[0];  // the newest: this test's page
        return shade.handleContextMenuClick({ menuItemId: "shade-before-upload", srcUrl: origin + "/art.png", pageUrl: origin + "/", frameId: 0 }, tab);
    }""", public_site.origin)
    assert not out["ok"]
    assert out["error"]["code"] == "not_running"
    assert NOT_RUNNING in out["error"]["message"]
    page.close()


def test_wrong_token_says_not_paired(shade_on, daemon, public_site, images):
    shade_on.set_storage({"token": "x" * 43})
    page = open_page(shade_on, public_site)
    page.set_input_files("#file", str(images["art"]))
    overlay = page.locator("#shade-overlay[data-state=error]")
    overlay.wait_for(timeout=15000)
    assert "not paired" in page.locator("#shade-overlay .message").inner_text().lower()
    assert page.evaluate("window.received.length") == 0
    page.close()


def test_native_messaging_pairing(browser, daemon):
    browser.set_storage({"daemonUrl": "http://127.0.0.1:1", "token": ""})
    out = browser.evaluate("shade.pairNative()")
    assert out["ok"], out
    assert out["daemonUrl"] == daemon.url
    assert out["origin"] == EXT_ORIGIN
    stored = browser.evaluate("chrome.storage.local.get(['daemonUrl', 'token'])")
    assert stored == {"daemonUrl": daemon.url, "token": daemon.token}
    paired = json.loads((daemon.home / "data" / "paired-origins.json").read_text())
    assert EXT_ORIGIN in paired["origins"]
    status = browser.evaluate("shade.statusReport()")
    assert status["connected"] and status["error"] is None and status["status"] is not None


def test_pairing_code_fallback(browser, daemon):
    browser.set_storage({"daemonUrl": "http://127.0.0.1:1", "token": ""})
    bad = browser.evaluate("(c) => shade.handleControl({ type: 'pair-code', code: c })", "shade:1:nope")
    assert not bad["ok"] and "pairing code" in bad["error"]["message"]
    code = f"shade:{daemon.port}:{daemon.token}"
    out = browser.evaluate("(c) => shade.handleControl({ type: 'pair-code', code: c })", code)
    assert out["ok"], out
    stored = browser.evaluate("chrome.storage.local.get(['daemonUrl', 'token'])")
    assert stored["token"] == daemon.token and stored["daemonUrl"].endswith(f":{daemon.port}")


def test_public_page_cannot_reach_daemon_but_extension_can(shade_on, daemon, public_site, private_site):
    probe = "async (url) => { try { const r = await fetch(url, { mode: 'no-cors' }); return 'reached:' + r.type; } catch (e) { return 'blocked:' + e.name; } }"
    public = open_page(shade_on, public_site)
    assert public.evaluate(probe, daemon.url + "/v1/health").startswith("blocked:")
    # control: the same request from a loopback page does reach the daemon
    private = open_page(shade_on, private_site)
    assert private.evaluate(probe, daemon.url + "/v1/health") == "reached:opaque"
    # while the extension's background talks to it fine
    status = shade_on.evaluate("shade.statusReport()")
    assert status["connected"] and status["error"] is None
    public.close()
    private.close()


def test_popup_shows_connection_and_toggles_site(shade_on, daemon, public_site):
    page = shade_on.context.new_page()
    page.goto(f"{EXT_ORIGIN}/popup/popup.html")
    page.locator("#state.good").wait_for(timeout=10000)
    assert "Connected" in page.inner_text("#state")
    assert "device:" in page.inner_text("#detail")
    page.select_option("#mode", "cloak")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        d = shade_on.evaluate("chrome.storage.local.get('defaults')")
        if d.get("defaults", {}).get("mode") == "cloak":
            break
        time.sleep(0.1)
    assert d["defaults"]["mode"] == "cloak"
    shade_on.set_storage({"defaults": {}})
    page.close()


def test_image_too_large_is_reported(shade_on, public_site, images):
    page = open_page(shade_on, public_site)
    page.set_input_files("#file", str(images["big"]))
    page.locator("#shade-overlay[data-state=error]").wait_for(timeout=15000)
    text = page.locator("#shade-overlay .message").inner_text()
    assert text.startswith("This image is larger than Shade accepts.") and "max_pixels" not in text
    # The daemon's own words (the setting's name) are kept, folded under "details".
    assert "megapixels" in page.locator("#shade-overlay details .detail").text_content()
    # Retrying the same image cannot help: no Retry, and "Cancel upload" is the first choice.
    assert page.locator("#shade-overlay button[data-action=retry]").count() == 0
    assert "primary" in page.locator("#shade-overlay button[data-action=cancel]").get_attribute("class")
    assert page.evaluate("window.received.length") == 0
    page.close()


def test_options_page_enables_a_site(shade_on, daemon, private_site, images):
    options = shade_on.context.new_page()
    options.goto(f"{EXT_ORIGIN}/options/options.html")
    options.fill("#custom-site", private_site.origin)
    options.click("#add-site")
    options.locator("#sites-message.good").wait_for(timeout=10000)
    assert private_site.origin in options.inner_text("#enabled-sites")
    sites = shade_on.evaluate("chrome.storage.local.get('sites')")["sites"]
    assert private_site.origin in sites

    page = open_page(shade_on, private_site)
    page.set_input_files("#file", str(images["portrait"]))
    got = received(page, 1)
    assert_shaded(images["portrait"].read_bytes(), got[0]["bytes"])

    # switching it off again: uploads pass untouched
    options.locator("#enabled-sites li", has_text=private_site.origin).locator("button").click()
    options.wait_for_function("(o) => !document.querySelector('#enabled-sites').innerText.includes(o)",
                              arg=private_site.origin)
    page.reload()
    page.set_input_files("#file", str(images["portrait"]))
    got = received(page, 1)
    assert got[0]["bytes"] == images["portrait"].read_bytes()
    page.close()
    options.close()


def test_context_menu_copies_to_clipboard_when_asked(shade_on, public_site, images):
    shade_on.set_storage({"copyToClipboard": True})
    shade_on.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=public_site.origin)
    page = open_page(shade_on, public_site)
    page.bring_to_front()
    out = shade_on.evaluate("""async (origin) => {
        const tab = (await chrome.tabs.query({ url: origin + "/*" })).sort((a, b) => b.id - a.id)[0];  // the newest: this test's page
        return shade.handleContextMenuClick({ menuItemId: "shade-before-upload", srcUrl: origin + "/art.png", pageUrl: origin + "/", frameId: 0 }, tab);
    }""", public_site.origin)
    assert out["ok"] and out["clipboard"] == "copied", out
    clip = page.evaluate("""async () => {
        const [item] = await navigator.clipboard.read();
        const blob = await item.getType("image/png");
        const bytes = new Uint8Array(await blob.arrayBuffer());
        let bin = ""; for (const b of bytes) bin += String.fromCharCode(b);
        return btoa(bin);
    }""")
    assert_shaded(images["art"].read_bytes(), base64.b64decode(clip))
    page.close()


def test_switching_a_site_on_works_in_an_open_tab(shade_on, daemon, private_site, images):
    """What the popup's switch does: enable the site, then inject into the open tab (no reload)."""
    shade_on.set_storage({"sites": []})
    page = open_page(shade_on, private_site)
    out = shade_on.evaluate("""async (origin) => {
        await chrome.storage.local.set({ sites: [origin] });
        const tab = (await chrome.tabs.query({ url: origin + "/*" })).sort((a, b) => b.id - a.id)[0];  // the newest: this test's page
        return shade.handleControl({ type: "sites-changed", tabId: tab.id, inject: true });
    }""", private_site.origin)
    assert out == {"ok": True, "patterns": ["http://127.0.0.1/*"]}
    page.set_input_files("#file", str(images["art"]))
    got = received(page, 1)
    assert_shaded(images["art"].read_bytes(), got[0]["bytes"])
    page.close()


def test_cancel_during_shading_sends_nothing_and_cancels_the_job(shade_on, daemon, public_site, images):
    assert daemon.request("POST", "/v1/pause")[0] == 200  # the job waits in the queue, so Cancel is pressed mid-way
    try:
        page = open_page(shade_on, public_site)
        before = job_ids(daemon)
        page.set_input_files("#file", str(images["art"]))
        page.locator("#shade-overlay[data-state=working]").wait_for(timeout=10000)
        assert "Shading art.png" in page.locator("#shade-overlay .message").inner_text()   # the card names the image
        deadline = time.monotonic() + 10
        while not (job_ids(daemon) - before) and time.monotonic() < deadline:
            time.sleep(0.1)
        # The wait explains itself: the paused queue's job says where it is in line.
        deadline = time.monotonic() + 10
        while "waiting" not in page.locator("#shade-overlay .message").inner_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "waiting: next in line" in page.locator("#shade-overlay .message").inner_text()
        assert shade_on.evaluate("chrome.action.getBadgeText({})") == "…"
        page.locator("#shade-overlay button[data-action=cancel]").click()
        page.locator("#shade-overlay").wait_for(state="detached", timeout=5000)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            new = [j for j in daemon.jobs() if j["id"] not in before]
            if new and all(j["status"] == "cancelled" for j in new):
                break
            time.sleep(0.1)
        assert new and all(j["status"] == "cancelled" for j in new), new
        assert page.evaluate("window.received.length") == 0
        assert page.evaluate("document.getElementById('file').files.length") == 0
        assert shade_on.evaluate("chrome.action.getBadgeText({})") == ""
        page.close()
    finally:
        daemon.request("POST", "/v1/resume")


def test_check_this_posted_image_finds_the_original_and_opens_the_report(shade_on, daemon, public_site, site_root,
                                                                         images):
    """Right-click "Check this posted image" on the copy a site serves (here half size, JPEG 80)."""
    from shadetest.dashboard import half_jpeg

    job = daemon.upload(images["art"].read_bytes(), "art.png")
    daemon.wait_job(job, lambda j: j["status"] == "done", timeout=180)
    status, shaded = daemon.request("GET", f"/v1/jobs/{job}/result")
    (site_root / "posted.jpg").write_bytes(half_jpeg(shaded, 80))
    site = open_page(shade_on, public_site)
    with shade_on.context.expect_page() as opened:
        out = shade_on.evaluate("""async (origin) => {
        const tab = (await chrome.tabs.query({ url: origin + "/*" })).sort((a, b) => b.id - a.id)[0];  // the newest: this test's page
        return shade.handleCheckPostedClick(
            { menuItemId: "shade-check-posted", srcUrl: origin + "/posted.jpg", pageUrl: origin + "/upload.html", frameId: 0 },
            tab);
    }""", public_site.origin)
    assert out["ok"], out
    assert out["dashboard"] and out["dashboard"]["url"].startswith(f"{daemon.url}/app/login?code="), out
    assert out["entry"] == "art.png" and out["survived"] in ("yes", "weakened", "no")
    assert out["platform"]["jpeg_quality"] == 80 and out["platform"]["width"] == 60
    status, audit = daemon.request("GET", f"/v1/audits/{out['auditId']}")
    art_jobs = {j["id"] for j in daemon.jobs() if j["filename"] == "art.png" and j["status"] == "done"}
    assert status == 200 and audit["entry_id"] in art_jobs
    # The dashboard opened on the report, logged in through a one-time link.
    dash = opened.value
    dash.wait_for_url(f"{daemon.url}/app/#audit/{out['auditId']}")
    dash.wait_for_selector("#audit-verdict")
    assert dash.text_content("#audit-match").startswith("art.png")
    dash.close()
    site.close()              # later tests find "the" tab of the test site by its URL


def test_popup_open_shade_opens_the_dashboard_logged_in(shade_on, daemon):
    from shadetest import wait_until

    popup = shade_on.context.new_page()
    popup.goto(f"{EXT_ORIGIN}/popup/popup.html")
    wait_until(lambda: popup.evaluate("() => document.querySelector('#state').textContent !== 'Checking…'"), 30, 0.1,
               "the popup's status")
    with shade_on.context.expect_page() as opened:
        popup.click("#open-dashboard")
    dash = opened.value
    dash.wait_for_url(f"{daemon.url}/app/")                 # the one-time link spent, its code gone
    dash.wait_for_selector("#view-queue:not([hidden])")
    assert any(c["name"] == "shade_session" and c["httpOnly"] for c in shade_on.context.cookies(daemon.url))
    dash.close()
    if not popup.is_closed():
        popup.close()


def test_the_registration_is_changed_in_place_never_dropped_first(shade_on, public_site):
    """A page that loads while the sites change must still get the content script: a sync
    with nothing to change leaves the registration alone, and a stale one (here: an older
    file list) is updated in place, never unregistered and registered again."""
    out = shade_on.evaluate("""async () => {
        const s = chrome.scripting, calls = [];
        const plain = {};
        for (const name of ["unregisterContentScripts", "registerContentScripts", "updateContentScripts"]) {
            plain[name] = s[name];
            s[name] = (...a) => { calls.push(name); return plain[name].apply(s, a); };
        }
        try {
            await shade.syncRegistration();
            const untouched = calls.splice(0);
            await plain.updateContentScripts.call(s, [{ id: "shade-uploads", js: ["shared/common.js"] }]);
            await shade.syncRegistration();
            const [now] = await s.getRegisteredContentScripts({ ids: ["shade-uploads"] });
            return { untouched, stale: calls, js: now.js, matches: now.matches };
        } finally {
            Object.assign(s, plain);
        }
    }""")
    assert out["untouched"] == []
    assert out["stale"] == ["updateContentScripts"]
    assert out["js"] == ["shared/common.js", "content/overlay.js", "content/intercept.js"]
    assert out["matches"] == [f"{public_site.origin.rsplit(':', 1)[0]}/*"]
