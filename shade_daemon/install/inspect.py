"""What is installed right now, whoever wrote it: used by ``shade doctor``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..extension_ids import CHROME_ORIGIN, FIREFOX_ADDON_ID, NATIVE_HOST_NAME
from .autostart import (
    LAUNCHD_LABEL,
    TASK_NAME,
    desktop_entry_path,
    launch_agent_path,
    systemd_unit_path,
    systemd_wants_path,
)
from .browsers import BROWSERS, Browser, manifest_path, registry_key
from .context import InstallContext
from .launchers import SERVICE_NAME


@dataclass(frozen=True)
class Finding:
    status: str  # "ok" | "warn" | "fail"
    title: str
    detail: str
    fix: str = ""


def _quiet(command: list[str]) -> subprocess.CompletedProcess | None:
    if shutil.which(command[0]) is None:
        return None
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None


def check_autostart(ctx: InstallContext) -> Finding:
    fix = "run `shade install` (or `shade install --no-browsers` for autostart only)"
    if ctx.os == "linux":
        unit, wants, desktop = systemd_unit_path(ctx), systemd_wants_path(ctx), desktop_entry_path(ctx)
        if not unit.is_file():
            return Finding("warn", "autostart", "not set up: Shade will not start at login", fix)
        missing = [str(p) for p in (wants, desktop) if not (p.exists() or p.is_symlink())]
        if missing:
            return Finding("warn", "autostart", f"{unit} exists but {', '.join(missing)} is missing", fix)
        state = ""
        if ctx.run_commands:
            proc = _quiet(["systemctl", "--user", "is-active", SERVICE_NAME])
            state = proc.stdout.strip() if proc and proc.returncode in (0, 3) else ""
        if state == "failed":
            return Finding("fail", "autostart", f"the service {SERVICE_NAME} keeps failing",
                           f"see why with `journalctl --user -u {SERVICE_NAME}`, then "
                           f"`systemctl --user restart {SERVICE_NAME}`")
        detail = f"systemd user service {unit.name} and tray entry" + (f"; service {state}" if state else "")
        return Finding("ok", "autostart", detail)
    if ctx.os == "macos":
        plist = launch_agent_path(ctx)
        if not plist.is_file():
            return Finding("warn", "autostart", "not set up: Shade will not start at login", fix)
        loaded = ""
        if ctx.run_commands:
            proc = _quiet(["launchctl", "print", f"gui/{ctx.uid}/{LAUNCHD_LABEL}"])
            loaded = "" if proc is None else ("; loaded" if proc.returncode == 0 else "; not loaded until next login")
        return Finding("ok", "autostart", f"LaunchAgent {plist}{loaded}")
    if ctx.run_commands:
        proc = _quiet(["schtasks", "/Query", "/TN", TASK_NAME])
        if proc is None or proc.returncode != 0:
            return Finding("warn", "autostart", f"no scheduled task named {TASK_NAME}", fix)
        return Finding("ok", "autostart", f"scheduled task {TASK_NAME} (at logon)")
    return Finding("warn", "autostart", "cannot query the Task Scheduler from here")


def _check_manifest(ctx: InstallContext, browser: Browser, path: Path) -> str | None:
    """What is wrong with the manifest at ``path``, or None."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"unreadable manifest {path} ({exc})"
    if manifest.get("name") != NATIVE_HOST_NAME or manifest.get("type") != "stdio":
        return f"{path} does not describe {NATIVE_HOST_NAME}"
    if browser.family == "firefox":
        if FIREFOX_ADDON_ID not in manifest.get("allowed_extensions", []):
            return f"{path} does not allow {FIREFOX_ADDON_ID}"
    elif CHROME_ORIGIN + "/" not in manifest.get("allowed_origins", []):
        return f"{path} does not allow {CHROME_ORIGIN}/"
    host = Path(manifest.get("path", ""))
    if not host.is_file():
        return f"the host program {host} named in {path} is missing"
    if ctx.os != "windows" and not os.access(host, os.X_OK):
        return f"the host program {host} is not executable"
    return None


def check_browsers(ctx: InstallContext) -> list[Finding]:
    """One finding per browser."""
    findings = []
    for browser in BROWSERS.values():
        title = f"browser {browser.key}"
        if ctx.os == "windows":
            value = ctx.registry.get_default(registry_key(browser)) if ctx.registry else None
            if value is None:
                findings.append(Finding("warn", title, "native host not registered", "run `shade install`"))
                continue
            path = Path(value)
        else:
            path = manifest_path(ctx, browser)
            if not path.exists():
                findings.append(Finding("warn", title, "native host not registered (pairing by code still works)",
                                        "run `shade install`"))
                continue
        problem = _check_manifest(ctx, browser, path)
        if problem:
            findings.append(Finding("fail", title, problem, "run `shade install --force` to rewrite it"))
        else:
            findings.append(Finding("ok", title, f"native host registered ({path})"))
    return findings
