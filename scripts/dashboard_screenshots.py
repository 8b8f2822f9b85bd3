"""Take the README's dashboard pictures (docs/dashboard/) with the real taef2 weights.

    nice -n 10 .venv/bin/python scripts/dashboard_screenshots.py [PAINTINGS_DIR] [MODELS_DIR]

Starts `shade daemon` under a throw-away SHADE_HOME (quality fast, the built-in anchors),
shades two paintings downscaled to a 384-pixel short side, and photographs the queue while
the second one runs (paused), the first one's preview, an audit of its copy re-saved at
half size as JPEG 80, and the history, in Debian's chromium through Playwright; then the
extension's upload card (upload-card.png) as a third painting is posted on a local page.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from shadetest import DaemonProcess, wait_until  # noqa: E402
from shadetest.dashboard import half_jpeg, login_url  # noqa: E402
from shadetest.extension import CHROMIUM, EXT_DIR, PAGES_DIR  # noqa: E402

OUT = ROOT / "docs" / "dashboard"
SHORT_SIDE = 384


def small_png(path: Path) -> bytes:
    img = Image.open(path).convert("RGB")
    scale = SHORT_SIDE / min(img.size)
    img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def upload_card(p, daemon: DaemonProcess, painting: Path, work: Path) -> None:
    """The extension's card on a local "art site" (the extension tests' upload page), posting
    ``painting``: photographed once shading ends, with the verdict it shows."""
    site = work / "site"
    site.mkdir(parents=True)
    shutil.copy(PAGES_DIR / "upload.html", site / "upload.html")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    upload = work / "painting.png"
    upload.write_bytes(small_png(painting))
    context = p.chromium.launch_persistent_context(
        str(work / "profile"), executable_path=CHROMIUM, headless=True, viewport={"width": 900, "height": 420},
        args=["--no-sandbox", f"--disable-extensions-except={EXT_DIR}", f"--load-extension={EXT_DIR}",
              f"--ip-address-space-overrides=127.0.0.1:{server.server_address[1]}=public"])
    try:
        sw = context.service_workers[0] if context.service_workers else context.wait_for_event("serviceworker")
        sw.evaluate("async (v) => { await chrome.storage.local.set(v); await shade.syncRegistration(); }",
                    {"daemonUrl": daemon.url, "token": daemon.token, "sites": [origin], "defaults": {}})
        page = context.new_page()
        page.goto(f"{origin}/upload.html")
        page.set_input_files("#file", files=[{"name": painting.stem + ".png", "mimeType": "image/png",
                                              "buffer": upload.read_bytes()}])
        page.locator("#shade-overlay[data-state=working]").wait_for(timeout=60000)
        page.locator("#shade-overlay:not([data-state=working])").last.wait_for(timeout=1800000)
        page.screenshot(path=str(OUT / "upload-card.png"))
    finally:
        context.close()
        server.shutdown()


def main(paintings: Path, models: Path) -> int:
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="shade-shots-"))
    (home / "config").mkdir()
    (home / "config" / "config.toml").write_text(
        'quality = "fast"\ntoken_store = "file"\n' f"model_dirs = [{json.dumps(str(models))}]\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHADE_")}
    env.update(SHADE_HOME=str(home))
    daemon = DaemonProcess(env, "--port", "0", "--no-tray", "--no-watch", start_timeout=300)
    try:
        first = daemon.upload(small_png(paintings / "woman-with-hat-matisse.jpg"), "woman-with-hat.png")
        daemon.wait_job(first, lambda j: j["status"] == "done", timeout=1800)
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
            page.goto(login_url(daemon))
            second = daemon.upload(small_png(paintings / "shipwreck.jpg"), "shipwreck.png")
            daemon.wait_job(second, lambda j: j["status"] == "running" and j["step"] >= 3, timeout=900)
            page.click("#pause")
            page.wait_for_selector("#resume:not([hidden])")
            time.sleep(1)
            page.screenshot(path=str(OUT / "queue.png"))
            page.click("#resume")
            page.goto(f"{daemon.url}/app/#preview/{first}")
            page.wait_for_selector("#verdict-strength", timeout=600000)
            page.wait_for_selector('figure[data-kind="model-target"] img', timeout=60000)
            wait_until(lambda: page.evaluate("() => [...document.querySelectorAll('#view-preview img')]"
                                             ".every(i => i.complete && i.naturalWidth > 0)"), 120, 0.2, "images")
            page.screenshot(path=str(OUT / "preview.jpg"), full_page=True, type="jpeg", quality=85)
            status, shaded = daemon.request("GET", f"/v1/jobs/{first}/result")
            page.goto(f"{daemon.url}/app/#audit")
            page.set_input_files("#audit-file", files=[{"name": "woman-with-hat-as-posted.jpg",
                                                        "mimeType": "image/jpeg", "buffer": half_jpeg(shaded, 80)}])
            page.wait_for_selector("#audit-verdict", timeout=600000)
            page.screenshot(path=str(OUT / "audit.png"), full_page=True)
            daemon.wait_job(second, lambda j: j["status"] == "done", timeout=1800)
            page.goto(f"{daemon.url}/app/#history")
            page.wait_for_selector("#history .card")
            time.sleep(1)
            page.screenshot(path=str(OUT / "history.png"))
            browser.close()
            upload_card(p, daemon, paintings / "the_scream.jpg", home / "card")
    finally:
        daemon.stop()
    print(f"wrote {', '.join(sorted(p.name for p in OUT.iterdir()))} in {OUT}")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(Path(args[0]) if args else ROOT.parent / "shared" / "images",
                  Path(args[1]) if len(args) > 1 else ROOT.parent / "shared" / "models"))
