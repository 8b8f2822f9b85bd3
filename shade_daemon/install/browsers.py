"""Native-messaging host registration, so the Shade extension can ask the host
for the daemon's URL and token. Per-user locations as each browser documents them:
a manifest file in a known folder on Linux and macOS; on Windows a manifest file
anywhere plus an HKCU registry key whose default value is the manifest's path."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..extension_ids import CHROME_ORIGIN, FIREFOX_ADDON_ID, NATIVE_HOST_NAME
from .artifacts import Artifact, FileArtifact, RegistryArtifact
from .context import InstallContext
from .launchers import host_launcher, host_launcher_path

MANIFEST_NAME = f"{NATIVE_HOST_NAME}.json"
DESCRIPTION = "Shade: hands the local Shade daemon's address and token to the Shade extension"


@dataclass(frozen=True)
class Browser:
    key: str
    name: str
    family: str  # "chromium" | "firefox"
    linux_dir: str  # under $XDG_CONFIG_HOME (or $HOME for Firefox)
    macos_dir: str  # under ~/Library/Application Support
    windows_key: str  # under HKCU


BROWSERS: dict[str, Browser] = {b.key: b for b in (
    Browser("chrome", "Google Chrome", "chromium", "google-chrome/NativeMessagingHosts",
            "Google/Chrome/NativeMessagingHosts", r"Software\Google\Chrome\NativeMessagingHosts"),
    Browser("chromium", "Chromium", "chromium", "chromium/NativeMessagingHosts",
            "Chromium/NativeMessagingHosts", r"Software\Chromium\NativeMessagingHosts"),
    Browser("edge", "Microsoft Edge", "chromium", "microsoft-edge/NativeMessagingHosts",
            "Microsoft Edge/NativeMessagingHosts", r"Software\Microsoft\Edge\NativeMessagingHosts"),
    Browser("brave", "Brave", "chromium", "BraveSoftware/Brave-Browser/NativeMessagingHosts",
            "BraveSoftware/Brave-Browser/NativeMessagingHosts", r"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts"),
    Browser("firefox", "Firefox", "firefox", ".mozilla/native-messaging-hosts",
            "Mozilla/NativeMessagingHosts", r"Software\Mozilla\NativeMessagingHosts"),
)}


def host_manifest(ctx: InstallContext, family: str, host_path: Path | None = None) -> dict:
    """The host manifest a browser of ``family`` reads."""
    manifest = {
        "name": NATIVE_HOST_NAME,
        "description": DESCRIPTION,
        "path": str(host_path or host_launcher_path(ctx)),
        "type": "stdio",
    }
    if family == "firefox":
        manifest["allowed_extensions"] = [FIREFOX_ADDON_ID]
    else:
        origins = [CHROME_ORIGIN + "/"]
        origins += [o.rstrip("/") + "/" for o in ctx.settings.allowed_origins
                    if o.startswith("chrome-extension://") and o.rstrip("/") != CHROME_ORIGIN]
        manifest["allowed_origins"] = origins
    return manifest


def manifest_path(ctx: InstallContext, browser: Browser) -> Path:
    """Where ``browser`` looks for (Linux/macOS) or where we keep (Windows) the manifest."""
    if ctx.os == "linux":
        base = ctx.home if browser.family == "firefox" else ctx.xdg_config_home
        return base / browser.linux_dir / MANIFEST_NAME
    if ctx.os == "macos":
        return ctx.app_support / browser.macos_dir / MANIFEST_NAME
    return ctx.paths.data_dir / "native-messaging" / browser.family / MANIFEST_NAME


def registry_key(browser: Browser) -> str:
    return f"{browser.windows_key}\\{NATIVE_HOST_NAME}"


def _manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=2) + "\n").encode("utf-8")


def browser_artifacts(ctx: InstallContext, keys: tuple[str, ...]) -> list[Artifact]:
    unknown = [k for k in keys if k not in BROWSERS]
    if unknown:
        raise ValueError(f"unknown browser(s) {', '.join(unknown)}; choose from {', '.join(BROWSERS)}")
    if not keys:
        return []
    out: list[Artifact] = [host_launcher(ctx)]
    written: set[Path] = set()
    for key in keys:
        browser = BROWSERS[key]
        path = manifest_path(ctx, browser)
        if path not in written:  # on Windows the Chromium family shares one manifest
            written.add(path)
            what = f"native-messaging manifest for {browser.name}" if ctx.os != "windows" else \
                f"native-messaging manifest ({'Firefox' if browser.family == 'firefox' else 'Chromium family'})"
            out.append(FileArtifact(path, _manifest_bytes(host_manifest(ctx, browser.family)), what, "browsers"))
        if ctx.os == "windows":
            out.append(RegistryArtifact(registry_key(browser), str(path),
                                        f"native-messaging registration for {browser.name}", "browsers"))
    return out
