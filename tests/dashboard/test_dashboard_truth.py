"""The dashboard tells the truth and can act on it (issue 28), in Debian's chromium against the
real daemon: a weak result says "weakly protected" in the queue and the history (never
"protected" alone) and "Shade again, stronger" moves it up the intensity ladder until there is
no step left; a dropped file is shaded end to end; a file the to-post folder rejected is listed
with its reason; after a daemon restart an open page asks to sign in again, in words, and
recovers by itself once signed in.

Weak on purpose, by a real setting: 3 optimizer steps at a 64-pixel view cannot meet any
intensity's own bar after JPEG 85 (the core's measurement decides, nothing here sets it).
SHADE_DASHBOARD_SCREENSHOTS=DIR saves the queue and preview pages there."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import pytest

from shadetest import DaemonProcess, image_bytes, wait_until
from shadetest.dashboard import login_url

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

WEAK = "weakly protected: a model trained on it would barely notice"
DEVELOPER = re.compile(r"Bearer|Authorization|shade open|Traceback|401|unauthorized", re.I)
SCREENSHOTS = os.environ.get("SHADE_DASHBOARD_SCREENSHOTS")


def shot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def wait_js(page, script: str, arg=None, timeout: float = 60.0):
    """Poll ``script`` in the page (the dashboard's Content-Security-Policy forbids the eval
    that page.wait_for_function needs)."""
    return wait_until(lambda: page.evaluate(script, arg), timeout, 0.05, script[:60])


def bare_protected(text: str) -> list[str]:
    """Every "protected" in ``text`` that is not "weakly protected" or "not protected"."""
    return [m.group(0) for m in re.finditer(r"(\w+\s+)?protected", text)
            if (m.group(1) or "").strip().lower() not in ("weakly", "not")]


@pytest.fixture(scope="module")
def weak_env(make_env):
    env = make_env()
    config = f"{env['SHADE_HOME']}/config/config.toml"
    text = open(config, encoding="utf-8").read().replace("steps = 120\n", "steps = 3\n")
    open(config, "w", encoding="utf-8").write(text)
    return env


@pytest.fixture(scope="module")
def watching(weak_env):
    """The daemon of these tests: weak results, and the to-post folder watched."""
    d = DaemonProcess(weak_env, "--port", "0", "--no-tray")
    yield d
    d.stop()


def signed_in(context, daemon):
    page = context.new_page()
    assert page.goto(login_url(daemon)).ok
    wait_js(page, "() => document.querySelector('#daemon-state').textContent.includes('waiting')")
    return page


def row_of(page, job_id: str):
    return page.locator(f'tr[data-job-id="{job_id}"]')


def test_a_weak_result_says_so_and_shade_again_stronger_climbs_the_ladder(context, watching):
    job_id = watching.upload(image_bytes((96, 72)), "woman.png")
    job = watching.wait_job(job_id, lambda j: j["status"] == "done")
    assert job["measurements"]["weak"] and job["measurements"]["intensity"] == "default"
    assert job["verdict"]["level"] == "weak", job["measurements"]     # measured weak, not "not protected"
    page = signed_in(context, watching)
    row = row_of(page, job_id)
    row.locator(".state").filter(has_text="weakly protected").wait_for(timeout=30000)
    state = row.locator(".state").inner_text()
    assert WEAK in state and not bare_protected(state), state
    assert "high" in state                                    # the advice names the step
    shot(page, "queue")

    # The history says the same, in the same words.
    page.goto(f"{watching.url}/app/#history")
    card = page.locator(f'.card[data-entry-id="{job_id}"]')
    card.wait_for(timeout=30000)
    text = card.locator(".verdict-line").inner_text()
    assert text.startswith(WEAK) and not bare_protected(text), text

    # Shade again, stronger: a new job, the same image, one intensity up.
    page.goto(f"{watching.url}/app/#queue")
    before = {j["id"] for j in watching.jobs()}
    row_of(page, job_id).locator("button.stronger").click()
    new_id = wait_until(lambda: ({j["id"] for j in watching.jobs()} - before) or None, 30, 0.1, "new job").pop()
    again = watching.wait_job(new_id, lambda j: j["status"] == "done")
    assert again["filename"] == "woman.png" and again["options"]["intensity"] == "high"
    assert again["measurements"]["intensity"] == "high"
    assert "again at the high intensity" in page.locator("#message").inner_text()
    # At the top of the ladder the row says there is no step left, and offers none.
    top = row_of(page, new_id)
    top.locator(".advice").filter(has_text="already at the strongest intensity").wait_for(timeout=30000)
    assert top.locator("button.stronger").count() == 0
    assert WEAK in top.locator(".state").inner_text()
    page.close()


def test_the_dashboard_shades_a_dropped_file(context, watching):
    page = signed_in(context, watching)
    wait_js(page, "() => document.querySelectorAll('#add-intensity option').length === 3")
    assert page.locator("#to-post-path").inner_text().endswith("to-post")
    page.select_option("#add-intensity", "low")
    before = {j["id"] for j in watching.jobs()}
    data = base64.b64encode(image_bytes((80, 64))).decode()
    page.evaluate("""(b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
        document.getElementById("queue-drop").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    }""", data)
    new_id = wait_until(lambda: ({j["id"] for j in watching.jobs()} - before) or None, 30, 0.1, "dropped job").pop()
    page.locator(f'tr[data-job-id="{new_id}"][data-status="done"]').wait_for(timeout=120000)
    row = row_of(page, new_id)
    job = watching.wait_job(new_id, lambda j: j["status"] == "done")
    assert job["filename"] == "dropped.png" and job["options"]["intensity"] == "low"
    assert job["source"] == "api" and job["measurements"]["width"] == 80
    assert row.locator(".state").inner_text().startswith(job["verdict"]["words"])
    assert "Added dropped.png to the queue" in page.locator("#message").inner_text()
    page.close()


def test_a_refused_file_is_told_in_words_with_the_daemons_own_under_details(context, watching):
    page = signed_in(context, watching)
    wait_js(page, "() => document.querySelectorAll('#add-intensity option').length === 3")
    page.evaluate("""() => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])], "broken.png", { type: "image/png" }));
        document.getElementById("queue-drop").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    }""")
    box = page.locator("#message.error")
    box.filter(has_text="broken.png was not added").wait_for(timeout=30000)
    said = box.evaluate("(b) => b.firstChild.textContent")
    assert "could not read this file as an image" in said and "bad_image" not in said, said
    assert "bad_image" in box.locator("details .detail").text_content()
    page.close()


def test_a_rejected_folder_file_appears_in_the_queue_with_its_reason(context, watching):
    page = signed_in(context, watching)
    to_post = watching.home / "Pictures" / "Shade" / "to-post"
    (to_post / "sketch.png").write_text("this is not an image at all")
    row = page.locator('tr[data-status="rejected"]').filter(has_text="sketch.png")
    row.wait_for(timeout=60000)
    text = row.inner_text()
    assert "Not shaded" in text and "rejected folder" in text and not DEVELOPER.search(text), text
    page.goto(f"{watching.url}/app/#history")
    page.locator('.card[data-rejected="sketch.png"]').wait_for(timeout=30000)
    page.close()


def test_settings_are_edited_in_words_checked_like_the_file_and_applied_at_once(context, watching):
    page = signed_in(context, watching)
    page.goto(f"{watching.url}/app/#settings")
    page.wait_for_selector('#settings-form .setting[data-key="intensity"]')
    labels = page.locator("#settings-form label").all_inner_texts()
    assert "Default intensity" in labels and "intensity" not in labels      # words, not the file's keys
    config = watching.home / "config" / "config.toml"
    before = config.read_text()
    # A target with no image is refused with words, and the file is left as it was.
    page.fill("#setting-target", "unicorn")
    page.click("#settings-save")
    page.locator("#message.error").filter(has_text="not saved").wait_for(timeout=30000)
    assert "unicorn" in page.locator("#message").inner_text()
    assert config.read_text() == before
    # A good change is saved to the file and used at once, without a restart.
    page.goto(f"{watching.url}/app/#queue")
    page.goto(f"{watching.url}/app/#settings")
    page.wait_for_selector('#settings-form .setting[data-key="intensity"]')
    page.select_option("#setting-intensity", "low")
    page.click("#settings-save")
    # The save is checked like the file and answered from a worker thread: on a loaded
    # 2-core CI machine that has taken over 10 s.
    page.locator("#message:not(.error)").filter(has_text="Saved").wait_for(timeout=30000)
    assert 'intensity = "low"' in config.read_text() and 'target = "unicorn"' not in config.read_text()
    assert watching.request("GET", "/v1/status")[1]["defaults"]["intensity"] == "low"
    job_id = watching.upload(image_bytes((64, 48)), "now-low.png")
    assert watching.wait_job(job_id, lambda j: j["status"] == "done")["options"]["intensity"] == "low"
    page.close()


def test_after_a_restart_an_open_page_asks_to_sign_in_in_words_and_recovers(context, weak_env, watching):
    page = signed_in(context, watching)
    port = watching.port
    watching.stop()
    again = DaemonProcess(weak_env, "--port", str(port), "--no-tray")
    try:
        banner = page.locator("#signin[data-state=signin]")
        banner.wait_for(timeout=60000)
        words = banner.inner_text() + page.locator("#message").inner_text() + page.locator("#daemon-state").inner_text()
        assert "sign in again" in words and "Open Shade" in words
        assert not DEVELOPER.search(words), words
        # Reloading instead shows the same way back, the daemon's own words folded under "details".
        reload = context.new_page()
        assert reload.goto(f"{again.url}/app/").status == 401
        said = reload.locator("body > p").first.inner_text()
        assert "Sign in again" in said and not DEVELOPER.search(said), said
        reload.close()
        # Signing in again (a fresh one-time link, as the extension or the tray opens it) in another
        # tab: the open page picks up the new session by itself.
        other = context.new_page()
        assert other.goto(login_url(again)).ok
        banner.wait_for(state="detached", timeout=30000)
        job_id = again.upload(image_bytes((64, 48)), "after.png")
        row_of(page, job_id).wait_for(timeout=30000)
        assert not DEVELOPER.search(page.locator("body").inner_text())
        other.close()
    finally:
        again.stop()
        page.close()
