"""The extension never calls a weak result protected (issue 28), in Debian's chromium against a
real daemon whose results are weak: the upload card, the right-click notifications and the
badge carry the daemon's one verdict, and each site's rule decides what a weak result does
(hold it and ask, the default; send it anyway; send nothing), with "Shade again, stronger" up
the intensity ladder until there is no step left.

Weak on purpose, by a real setting: 3 optimizer steps at a 64-pixel view, on the test pattern
towards the test library's cat, do not meet the default or the high intensity's own bar after
JPEG 85 (the core's measurement decides, nothing here sets it; each test checks it did)."""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from shadetest import DaemonProcess, image_bytes
from shadetest.extension import b64

pytestmark = pytest.mark.browser

WEAK = "weakly protected: a model trained on it would barely notice"
SCREENSHOTS = os.environ.get("SHADE_DASHBOARD_SCREENSHOTS")


def bare_protected(text: str) -> list[str]:
    """Every "protected" in ``text`` that is not "weakly protected" or "not protected"."""
    return [m.group(0) for m in re.finditer(r"(\w+\s+)?protected", text, re.I)
            if (m.group(1) or "").strip().lower() not in ("weakly", "not")]


@pytest.fixture(scope="module")
def weak_daemon(tmp_path_factory, plumbing_model_dir, anchor_dir):
    home = tmp_path_factory.mktemp("weak-home")
    (home / "config").mkdir()
    (home / "config" / "config.toml").write_text(
        "view_size = 64\n" 'quality = "fast"\n' 'token_store = "file"\n' "steps = 3\n" "max_pixels = 15000\n"
        f"model_dirs = [{json.dumps(str(plumbing_model_dir))}]\n"
        f"anchor_dirs = [{json.dumps(str(anchor_dir))}]\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHADE_")}
    env.update(SHADE_HOME=str(home), OMP_NUM_THREADS="1", SHADE_CHANNELS="latent")
    d = DaemonProcess(env, "--port", "0", "--no-tray", "--no-watch")
    yield d
    d.stop()


@pytest.fixture
def weak_on(browser, weak_daemon, public_site):
    """Paired with the weak daemon, shading on the public test site; notifications recorded."""
    browser.set_storage({"daemonUrl": weak_daemon.url, "token": weak_daemon.token, "sites": [public_site.origin],
                         "defaults": {}, "copyToClipboard": False, "weakRules": {}})
    browser.evaluate("""() => {
        globalThis.__notes = [];
        if (!globalThis.__realCreate) globalThis.__realCreate = chrome.notifications.create.bind(chrome.notifications);
        chrome.notifications.create = (options) => { globalThis.__notes.push(options); return globalThis.__realCreate(options); };
    }""")
    yield browser
    browser.set_storage({"weakRules": {}})


@pytest.fixture(scope="module")
def woman(tmp_path_factory):
    path = tmp_path_factory.mktemp("weak-images") / "woman.png"
    path.write_bytes(image_bytes((96, 72)))
    return path


def open_page(browser, site):
    page = browser.context.new_page()
    page.goto(f"{site.origin}/upload.html")
    page.wait_for_load_state("load")
    return page


def card(page):
    """The card's text (inside the overlay's shadow root, which Playwright's CSS pierces)."""
    return page.locator("#shade-overlay .card").last


def settled(page, timeout: float = 60000):
    """The card once shading ended: its state and text (any state, so a failure shows why)."""
    host = page.locator("#shade-overlay:not([data-state=working])").last
    host.wait_for(timeout=timeout)
    return host.get_attribute("data-state"), card(page).inner_text()


def jobs_of(daemon, name):
    return [j for j in daemon.jobs() if j["filename"] == name]


def test_a_weak_upload_is_held_named_and_can_be_sent_stronger_or_not_at_all(weak_on, weak_daemon, public_site, woman):
    page = open_page(weak_on, public_site)
    page.set_input_files("#file", str(woman))
    state, text = settled(page)
    assert state == "decide", (text, [(j["verdict"], j["measurements"]) for j in jobs_of(weak_daemon, "woman.png")])
    assert "woman.png" in text and WEAK in text and not bare_protected(text), text
    assert page.evaluate("window.received.length") == 0          # held: the site has nothing yet
    assert weak_on.evaluate("chrome.action.getBadgeText({})") == "~"   # the badge is no tick
    job = jobs_of(weak_daemon, "woman.png")[-1]
    assert job["verdict"]["level"] == "weak" and job["measurements"]["intensity"] == "default"
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, "upload-card.png"))

    # Shade again, stronger: the original, at the next intensity; still weak at the top, the
    # card says no step is left and offers none.
    page.locator("#shade-overlay button[data-action=stronger]").click()
    wait = time.monotonic() + 60
    while time.monotonic() < wait and not any(j["options"].get("intensity") == "high" and j["status"] == "done"
                                              for j in jobs_of(weak_daemon, "woman.png")):
        time.sleep(0.2)
    page.locator("#shade-overlay .message").filter(has_text="strongest").wait_for(timeout=60000)
    top = card(page).inner_text()
    assert "already at the strongest intensity" in top and not bare_protected(top), top
    assert page.locator("#shade-overlay button[data-action=stronger]").count() == 0
    page.locator("#shade-overlay button[data-action=send]").click()
    page.wait_for_function("() => window.received.length === 1", timeout=30000)
    high = [j for j in jobs_of(weak_daemon, "woman.png") if j["options"].get("intensity") == "high"][-1]
    got = page.evaluate("window.received[0]")
    status, body = weak_daemon.request("GET", f"/v1/jobs/{high['id']}/result")
    assert status == 200 and b64(body) == got["b64"]           # what was sent is the stronger result
    page.close()


def test_the_site_rule_sends_anyway_or_sends_nothing(weak_on, public_site, woman):
    weak_on.set_storage({"weakRules": {public_site.origin: "none"}})
    page = open_page(weak_on, public_site)
    page.set_input_files("#file", str(woman))
    page.locator("#shade-overlay[data-state=warning]").wait_for(timeout=60000)
    text = card(page).inner_text()
    assert "Nothing was sent" in text and WEAK in text and not bare_protected(text), text
    time.sleep(0.5)
    assert page.evaluate("window.received.length") == 0
    page.close()

    weak_on.set_storage({"weakRules": {public_site.origin: "send"}})
    page = open_page(weak_on, public_site)
    page.set_input_files("#file", str(woman))
    page.wait_for_function("() => window.received.length === 1", timeout=60000)
    text = card(page).inner_text()
    assert "Sent anyway" in text and WEAK in text and not bare_protected(text), text
    page.close()


def test_the_options_page_keeps_the_rule_with_the_site(weak_on, public_site):
    page = weak_on.context.new_page()
    page.goto(f"chrome-extension://{weak_on.sw().url.split('/')[2]}/options/options.html")
    select = page.locator(f'select.weak-rule[data-origin="{public_site.origin}"]')
    assert select.input_value() == "hold"                      # the default: hold it and ask
    select.select_option("none")
    page.locator("#sites-message").filter(has_text="send nothing").wait_for(timeout=5000)
    stored = weak_on.evaluate("async () => (await chrome.storage.local.get('weakRules')).weakRules")
    assert stored == {public_site.origin: "none"}
    assert "Open Shade's options" not in page.locator("body").inner_text()
    page.close()


def test_right_click_notifies_start_and_the_verdict(weak_on, public_site, site_root, woman):
    (site_root / "woman.png").write_bytes(woman.read_bytes())
    page = open_page(weak_on, public_site)
    out = weak_on.evaluate("""async (origin) => {
        const tab = (await chrome.tabs.query({ url: origin + "/*" })).sort((a, b) => b.id - a.id)[0];
        return shade.handleContextMenuClick(
            { menuItemId: "shade-before-upload", srcUrl: origin + "/woman.png", pageUrl: origin + "/upload.html", frameId: 0 },
            tab);
    }""", public_site.origin)
    assert out["ok"], out
    notes = weak_on.evaluate("globalThis.__notes")
    assert [n["title"] for n in notes] == ["Shading woman.png", "Shaded: weakly protected"], notes
    final = notes[-1]["title"] + " " + notes[-1]["message"]
    assert WEAK in final and "woman-shaded.png" in final and not bare_protected(final), final
    assert out["verdict"]["level"] == "weak"
    assert weak_on.evaluate("chrome.action.getBadgeText({})") == "~"
    page.close()
