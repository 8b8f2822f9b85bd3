"""Checks that need no browser: the manifest matches the pinned identity, the pure JS
helpers pass node's test runner, and Mozilla's `web-ext lint` accepts the Firefox build."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from shadetest.extension import CHROME_MANIFEST_KEY, EXT_DIR, FIREFOX_ADDON_ID, NATIVE_HOST_NAME, REPO

HERE = Path(__file__).resolve().parent
# Warnings expected from the one manifest that serves both browsers.
DUAL_MANIFEST_WARNINGS = {"BACKGROUND_SERVICE_WORKER_IGNORED"}


def manifest() -> dict:
    return json.loads((EXT_DIR / "manifest.json").read_text(encoding="utf-8"))


def test_manifest_pins_the_shared_identity():
    m = manifest()
    assert m["manifest_version"] == 3
    assert m["key"] == CHROME_MANIFEST_KEY
    assert m["browser_specific_settings"]["gecko"]["id"] == FIREFOX_ADDON_ID
    assert m["background"]["service_worker"] == "background.js"
    assert m["background"]["scripts"] == ["background.js"]
    js = (EXT_DIR / "lib" / "identity.js").read_text(encoding="utf-8")
    assert re.search(r'NATIVE_HOST_NAME = "([^"]+)"', js).group(1) == NATIVE_HOST_NAME


def test_manifest_asks_only_for_loopback_up_front():
    m = manifest()
    assert sorted(m["host_permissions"]) == ["http://127.0.0.1/*", "http://localhost/*"]
    assert "<all_urls>" not in json.dumps(m)
    # sites are switched on one by one, each asking for its own host permission
    assert set(m["optional_host_permissions"]) == {"https://*/*", "http://*/*"}
    assert "content_scripts" not in m
    assert "web_accessible_resources" not in m


def test_every_file_the_extension_names_exists():
    m = manifest()
    named = [m["background"]["service_worker"], m["action"]["default_popup"], m["options_ui"]["page"],
             *m["icons"].values(), *m["action"]["default_icon"].values()]
    reg = (EXT_DIR / "lib" / "registration.js").read_text(encoding="utf-8")
    named += re.findall(r'"((?:shared|content)/[\w.-]+\.js)"', reg)
    for rel in named:
        assert (EXT_DIR / rel).is_file(), rel
    for js in EXT_DIR.rglob("*.js"):
        for spec in re.findall(r'^\s*import\s+(?:[^"\']*from\s+)?["\'](\.[^"\']+)["\']', js.read_text(), re.M):
            assert (js.parent / spec).resolve().is_file(), f"{js}: {spec}"


def _node() -> str:
    node = shutil.which("node")
    if not node:
        pytest.fail("node is not installed; the extension's unit tests need node >= 20 (apt-get install nodejs)")
    return node


def test_js_unit_tests_pass_under_node():
    res = subprocess.run([_node(), "--test", str(HERE / "js")], capture_output=True, text=True, timeout=120,
                         cwd=REPO)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    passed = re.search(r"^# pass (\d+)", res.stdout, re.M)
    assert passed and int(passed.group(1)) >= 10, res.stdout[-2000:]


def _web_ext() -> list[str]:
    """web-ext from WEB_EXT, tests/extension/node_modules (see docs/extension.md) or PATH."""
    candidates = [os.environ.get("WEB_EXT", ""), str(HERE / "node_modules" / ".bin" / "web-ext"),
                  shutil.which("web-ext") or ""]
    for c in candidates:
        if c and Path(c).is_file():
            return [c]
    pytest.fail("web-ext is not installed: run  npm install --no-save --no-package-lock --prefix tests/extension "
                "web-ext@10  (or set WEB_EXT to its path)")


def _lint(source: Path, *extra: str) -> tuple[int, dict]:
    res = subprocess.run([*_web_ext(), "lint", "--source-dir", str(source), "--output", "json", "--no-input",
                          *extra], capture_output=True, text=True, timeout=300)
    start = res.stdout.find("{")
    assert start >= 0, res.stdout + res.stderr
    return res.returncode, json.loads(res.stdout[start:])


def test_web_ext_lint_passes():
    rc, report = _lint(EXT_DIR)
    assert report["errors"] == [], report["errors"]
    unexpected = [w for w in report["warnings"] if w["code"] not in DUAL_MANIFEST_WARNINGS]
    assert unexpected == [], unexpected
    assert rc == 0


def test_web_ext_lint_firefox_only_build_has_no_warnings(tmp_path):
    """The Firefox build (the same files without the Chrome-only keys) is lint-clean even
    with warnings counted as errors."""
    build = tmp_path / "firefox"
    shutil.copytree(EXT_DIR, build)
    m = manifest()
    del m["background"]["service_worker"]
    del m["key"]
    (build / "manifest.json").write_text(json.dumps(m, indent=2), encoding="utf-8")
    rc, report = _lint(build, "--warnings-as-errors")
    assert report["errors"] == [] and report["warnings"] == [], report
    assert rc == 0


def test_the_extension_speaks_the_cores_vocabulary():
    """The extension's choices (settings.js, the options page and the popup menus) and its
    default address are the core's vocabulary and the daemon's port: adding a preset in
    shading/options.py without the extension fails here."""
    import re

    from shade_daemon.config import DEFAULT_PORT
    from shading.options import INTENSITIES, MODES, QUALITIES

    core = {"mode": list(MODES), "intensity": list(INTENSITIES), "quality": list(QUALITIES)}
    settings = (EXT_DIR / "lib" / "settings.js").read_text(encoding="utf-8")
    block = re.search(r"export const CHOICES = Object\.freeze\(\{(.*?)\}\);", settings, re.S).group(1)
    js = {key: re.findall(r'"([^"]+)"', values) for key, values in re.findall(r"(\w+):\s*\[([^\]]*)\]", block)}
    assert js == core
    assert f'DEFAULT_DAEMON_URL = "http://127.0.0.1:{DEFAULT_PORT}"' in settings
    for page, menus in (("options/options.html", core), ("popup/popup.html", ("mode", "intensity"))):
        html = (EXT_DIR / page).read_text(encoding="utf-8")
        for key in menus:
            values = core[key]
            select = re.search(rf'<select id="{key}">(.*?)</select>', html, re.S)
            assert select, f"{page} has no {key} menu"
            assert re.findall(r'<option value="([^"]*)"', select.group(1)) == ["", *values], f"{page}: {key}"
