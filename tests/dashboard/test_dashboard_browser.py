"""The dashboard in Debian's chromium (Playwright) against the real Shade daemon on loopback:
login by one-time link, the refusals, live progress with pause/resume/cancel, the preview
(the model's view is the decoder's output), the audit of a re-saved copy, the history
across a restart. SHADE_DASHBOARD_SCREENSHOTS=DIR saves the queue, preview and audit
pages there (the README's pictures)."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shadetest import DaemonProcess, image_bytes, png_bytes, wait_until
from shadetest.dashboard import REBIND_HOST, decoded_view, half_jpeg, login_url, posted_ratio, random_pair, rgb_of

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

SCREENSHOTS = os.environ.get("SHADE_DASHBOARD_SCREENSHOTS")


def shot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def wait_js(page, script: str, arg=None, timeout: float = 60.0):
    """Poll ``script`` in the page until it is truthy (page.wait_for_function would evaluate it
    with eval, which the dashboard's Content-Security-Policy rightly forbids)."""
    return wait_until(lambda: page.evaluate(script, arg), timeout, 0.05, script[:60])


def logged_in(context, daemon, view: str | None = None):
    page = context.new_page()
    response = page.goto(login_url(daemon, view))
    assert response.ok, response.status
    wait_js(page, "() => document.querySelector('#daemon-state').textContent.includes('waiting')")
    return page


def fetch_b64(page, url: str) -> bytes:
    return base64.b64decode(page.evaluate("""async (u) => {
        const r = await fetch(u);
        const b = new Uint8Array(await r.arrayBuffer());
        let s = "";
        for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
        return btoa(s);
    }""", url))


def test_login_link_works_once_and_the_page_refuses_without_it(chromium, context, daemon):
    url = login_url(daemon)
    assert daemon.token not in url
    page = context.new_page()
    assert page.goto(url).ok
    assert page.url == f"{daemon.url}/app/"                # the code is gone from the address bar
    page.wait_for_selector("#view-queue:not([hidden])")
    cookie = next(c for c in context.cookies() if c["name"] == "shade_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["domain"] == "127.0.0.1"
    assert page.evaluate("document.cookie") == ""          # out of the page's (and any script's) reach

    stranger = chromium.new_context()
    try:
        other = stranger.new_page()
        second = other.goto(url)                            # the same link, a second time
        assert second.status == 403 and "already used" in other.content()
        for path in ("/app/app.js", "/v1/history", "/app/"):
            assert other.goto(daemon.url + path).status == 401, path
        assert "shade open" in other.content()                 # the page says how to open it
        # A foreign host name resolving to loopback (DNS rebinding): refused, even with a fresh link.
        rebound = login_url(daemon).replace("127.0.0.1", REBIND_HOST)
        answer = other.goto(rebound)
        assert answer.status == 403 and "Host" in other.content()
        assert not [c for c in stranger.cookies() if c["name"] == "shade_session"]
    finally:
        stranger.close()


def test_a_foreign_page_cannot_act_or_read_with_the_cookie(context, daemon, foreign_site):
    page = logged_in(context, daemon)
    # The dashboard itself loads the daemon's images...
    page.goto(f"{daemon.url}/app/#library")
    wait_js(page, "() => [...document.querySelectorAll('#anchors img')].some(i => i.complete && i.naturalWidth > 0)")
    elsewhere = context.new_page()
    elsewhere.goto(foreign_site)
    out = elsewhere.evaluate("""async (d) => {
        const img = new Image();
        const loaded = await new Promise((res) => { img.onload = () => res(true); img.onerror = () => res(false);
                                                    img.src = d + "/v1/anchors/cat/image"; });
        let read;
        try { await (await fetch(d + "/v1/history", { credentials: "include" })).json(); read = "read"; }
        catch (e) { read = "blocked"; }
        await fetch(d + "/v1/pause", { method: "POST", mode: "no-cors", credentials: "include" }).catch(() => null);
        return { loaded, read };
    }""", daemon.url)
    assert out == {"loaded": False, "read": "blocked"}
    # A form posted from that page carries the cookie (same site) but not our Origin: refused.
    with elsewhere.expect_navigation():
        elsewhere.evaluate("""(d) => { const f = document.createElement("form"); f.method = "post";
                                       f.action = d + "/v1/pause"; document.body.append(f); f.submit(); }""", daemon.url)
    assert "origin" in elsewhere.content().lower()
    status, body = daemon.request("GET", "/v1/status")
    assert status == 200 and body["paused"] is False


def test_a_job_shows_live_progress_pause_resume_cancel_and_its_preview(context, daemon, plumbing_model_dir):
    page = logged_in(context, daemon)
    job_id = daemon.upload(image_bytes((96, 72)), "sunset.png")
    row = page.locator(f'tr[data-job-id="{job_id}"]')
    wait_js(page, """(id) => {
        const r = document.querySelector(`tr[data-job-id='${id}']`);
        const m = r && r.querySelector(".progress-text").textContent.match(/^(\\d+)\\/(\\d+)/);
        return m && +m[1] > 0 && +m[1] < +m[2];
    }""", job_id, timeout=120)
    page.click("#pause")
    page.wait_for_selector("#resume:not([hidden])")
    time.sleep(0.8)
    shown = row.locator(".progress-text").text_content()
    status, job = daemon.request("GET", f"/v1/jobs/{job_id}")
    assert job["status"] == "running" and shown.startswith(f"{job['step']}/{job['total']}"), (shown, job)
    assert 0 < job["step"] < job["total"]
    time.sleep(1.0)
    assert row.locator(".progress-text").text_content() == shown          # held while paused
    assert row.locator(".state").text_content() == "paused"
    shot(page, "queue")

    second = daemon.upload(image_bytes((64, 64)), "second.png")
    page.wait_for_selector(f'tr[data-job-id="{second}"][data-status="queued"]')
    page.locator(f'tr[data-job-id="{second}"] button.cancel').click()
    page.wait_for_selector(f'tr[data-job-id="{second}"][data-status="cancelled"]')
    assert daemon.request("GET", f"/v1/jobs/{second}")[1]["status"] == "cancelled"

    page.click("#resume")
    page.wait_for_selector(f'tr[data-job-id="{job_id}"][data-status="done"]', timeout=120000)
    job = daemon.wait_job(job_id, lambda j: j["status"] == "done")
    row.locator("a.preview").click()
    page.wait_for_selector("#verdict-strength")
    wait_js(page, """() => { const imgs = [...document.querySelectorAll('#view-preview img')];
                                      return imgs.length >= 6 && imgs.every(i => i.complete && i.naturalWidth > 0); }""")
    assert page.text_content("#verdict-strength") == job["verdict"]["words"]   # the one verdict, in words
    assert page.text_content("#verdict-visibility").startswith("change: ")
    # What the model sees is the decoder's reconstruction of the shaded image's latent.
    seen = rgb_of(fetch_b64(page, page.get_attribute('figure[data-kind="model-shaded"] img', "src")))
    status, shaded = daemon.request("GET", f"/v1/jobs/{job_id}/result")
    encoder, decoder = random_pair(plumbing_model_dir)
    mine = decoded_view(rgb_of(shaded), encoder, decoder, 64)
    assert seen.shape == mine.shape and np.abs(seen.astype(int) - mine.astype(int)).max() <= 1
    # 1:1: the shaded image drawn at its own pixel size.
    page.check("#zoom")
    width, natural = page.evaluate("""() => { const i = document.querySelector('figure[data-kind="shaded"] img');
                                              return [i.clientWidth, i.naturalWidth]; }""")
    assert abs(width - natural) < 1 and natural == 96
    page.uncheck("#zoom")
    shot(page, "preview")


def test_audit_in_the_page_finds_the_original_of_a_half_size_jpeg80_copy(context, daemon, plumbing_model_dir,
                                                                         anchor_dir):
    from skimage import data

    pictures = {"coffee.png": np.asarray(Image.fromarray(data.coffee()).resize((160, 112))),
                "rocket.png": np.asarray(Image.fromarray(data.rocket()).resize((160, 112)))}
    ids = {name: daemon.upload(png_bytes(rgb), name) for name, rgb in pictures.items()}
    for job_id in ids.values():
        daemon.wait_job(job_id, lambda j: j["status"] == "done", timeout=180)
    status, shaded = daemon.request("GET", f"/v1/jobs/{ids['rocket.png']}/result")
    posted = half_jpeg(shaded, 80)

    page = logged_in(context, daemon, "audit")
    page.wait_for_selector("#view-audit:not([hidden])")
    page.set_input_files("#audit-file", files=[{"name": "from-the-platform.jpg", "mimeType": "image/jpeg",
                                                "buffer": posted}])
    page.wait_for_selector("#audit-verdict", timeout=60000)
    assert page.text_content("#audit-match").startswith("rocket.png")
    platform = page.text_content("#audit-platform")
    assert "JPEG 80×56" in platform and "JPEG quality ≈ 80" in platform and "50 %" in platform
    encoder, _ = random_pair(plumbing_model_dir)
    anchor = np.asarray(Image.open(anchor_dir / "cat.png").convert("RGB"))
    mine = posted_ratio(pictures["rocket.png"], rgb_of(posted), anchor, encoder, 64)
    shown = float(page.text_content("#audit-ratio"))
    assert abs(shown - mine) <= 0.02, (shown, mine)
    shot(page, "audit")
    # Kept with the history.
    status, entry = daemon.request("GET", f"/v1/history/{ids['rocket.png']}")
    assert [a["filename"] for a in entry["audits"]] == ["from-the-platform.jpg"]


def test_history_survives_a_daemon_restart_and_can_be_cleared(chromium, make_env):
    env = make_env()
    first = DaemonProcess(env, "--port", "0", "--no-tray", "--no-watch")
    try:
        ids = [first.upload(image_bytes((64, 48)), name) for name in ("sunset.png", "harbour.png")]
        for job_id in ids:
            first.wait_job(job_id, lambda j: j["status"] == "done", timeout=180)
    finally:
        first.stop()
    again = DaemonProcess(env, "--port", "0", "--no-tray", "--no-watch")
    ctx = chromium.new_context()
    try:
        page = logged_in(ctx, again, "history")
        page.wait_for_selector("#view-history:not([hidden])")
        wait_js(page, "() => document.querySelectorAll('#history .card').length === 2")
        names = page.eval_on_selector_all("#history .card .name", "els => els.map(e => e.textContent)")
        assert sorted(names) == ["harbour.png", "sunset.png"]
        assert sorted(page.eval_on_selector_all("#history .card", "els => els.map(e => e.dataset.entryId)")) \
            == sorted(ids)
        page.fill("#history-search", "sun")
        wait_js(page, "() => document.querySelectorAll('#history .card').length === 1")
        assert page.text_content("#history .card .name") == "sunset.png"
        page.on("dialog", lambda dialog: dialog.accept())
        page.click("#history-clear")
        page.wait_for_selector("#no-history:not([hidden])")
        assert again.request("GET", "/v1/history")[1]["entries"] == []
    finally:
        ctx.close()
        again.stop()


def test_shade_open_gives_a_link_that_logs_the_browser_in_once(chromium, daemon, daemon_env):
    from shadetest import run_shade

    res = run_shade(["open", "history", "--print"], daemon_env, timeout=60)
    assert res.returncode == 0, res.stderr
    url = res.stdout.strip()
    assert url.startswith(f"{daemon.url}/app/login?code=") and daemon.token not in url
    ctx = chromium.new_context()
    try:
        page = ctx.new_page()
        assert page.goto(url).ok and page.url == f"{daemon.url}/app/#history"
        page.wait_for_selector("#view-history:not([hidden])")
        assert ctx.new_page().goto(url).status == 403
    finally:
        ctx.close()


def test_library_adds_an_anchor_by_drop_and_settings_show_sources(context, daemon):
    page = logged_in(context, daemon, "library")
    page.wait_for_selector('#anchors .card[data-name="cat"]')
    page.wait_for_selector('#styles .card[data-name="van-gogh"]')
    assert page.locator('#anchors .card[data-name="cat"] button').count() == 1         # the test's own anchor
    assert page.locator('#styles .card[data-name="van-gogh"] button').count() == 0     # built in
    page.fill("#anchor-name", "sunset")
    page.evaluate("""async (b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], "sunset.png", { type: "image/png" }));
        document.getElementById("anchor-drop").dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true }));
    }""", base64.b64encode(image_bytes((64, 64))).decode())
    page.wait_for_selector('#anchors .card[data-name="sunset"]')
    wait_js(page, """() => { const i = document.querySelector('#anchors .card[data-name="sunset"] img');
                             return i.complete && i.naturalWidth > 0; }""")
    status, listing = daemon.request("GET", "/v1/anchors")
    assert {a["name"]: a["builtin"] for a in listing["anchors"]}["sunset"] is False
    page.locator('#anchors .card[data-name="sunset"] button').click()
    page.wait_for_selector('#anchors .card[data-name="sunset"]', state="detached")
    assert "sunset" not in [a["name"] for a in daemon.request("GET", "/v1/anchors")[1]["anchors"]]

    page.goto(f"{daemon.url}/app/#settings")
    page.wait_for_selector('#settings tr[data-key="view_size"]', state="attached")     # under "details"
    row = page.locator('#settings tr[data-key="view_size"] td')
    assert row.nth(1).text_content() == "64" and row.nth(2).text_content().startswith("config file")
    assert page.locator('#checks li[data-check="target"]').text_content() == "the default target has an image"
    assert page.locator('#checks li[data-check="target"]').get_attribute("class") == "ok"
