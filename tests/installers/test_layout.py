"""What `shade install` writes for each OS is valid for the program that reads it:
systemd, the desktop session, launchd, the Task Scheduler and the browsers."""

from __future__ import annotations

import configparser
import json
import os
import plistlib
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from shade_daemon.extension_ids import CHROME_ORIGIN, FIREFOX_ADDON_ID, NATIVE_HOST_NAME
from shade_daemon.install import InstallOptions, install
from shade_daemon.install.autostart import (
    desktop_entry_path,
    launch_agent_path,
    systemd_unit_path,
    systemd_wants_path,
    task_xml_path,
)
from shade_daemon.install.browsers import BROWSERS, manifest_path, registry_key
from shadetest import require_tool

ALL = InstallOptions(extension=False)
TASK_NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}


def _executable(path: str | Path) -> bool:
    p = Path(path)
    return p.is_file() and os.access(p, os.X_OK)


def _parse_unit(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(text)
    return parser


# Linux --------------------------------------------------------------------------------
def test_linux_systemd_unit_is_valid_and_runs_shade(make_ctx, tmp_path):
    ctx = make_ctx("linux")
    install(ctx, ALL)
    unit_path = systemd_unit_path(ctx)
    assert unit_path == ctx.home / ".config/systemd/user/shade.service"
    unit = _parse_unit(unit_path.read_text())
    service = unit["Service"]
    assert service["Restart"] == "on-failure"
    assert unit["Install"]["WantedBy"] == "default.target"
    argv = shlex.split(service["ExecStart"])
    assert _executable(argv[0]) and argv[1:] == ["-m", "shade_daemon", "daemon"]
    # SHADE_HOME chosen at install time reaches the service, which systemd starts without our shell.
    assert service["Environment"] == f'"SHADE_HOME={ctx.env["SHADE_HOME"]}"'
    # Enabled for login, the way `systemctl --user enable` does it.
    wants = systemd_wants_path(ctx)
    assert wants.is_symlink() and wants.resolve() == unit_path.resolve()

    analyze = require_tool("systemd-analyze", "systemd")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    proc = subprocess.run([analyze, "--user", "verify", str(unit_path)], capture_output=True, text=True,
                          env={**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(ctx.home)}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "shade.service" not in proc.stderr, proc.stderr


def test_systemd_analyze_catches_a_broken_unit(make_ctx, tmp_path):
    """The verification above can fail: a unit whose program is missing is refused."""
    analyze = require_tool("systemd-analyze", "systemd")
    ctx = make_ctx("linux", python=tmp_path / "no-such-python")
    install(ctx, ALL)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    proc = subprocess.run([analyze, "--user", "verify", str(systemd_unit_path(ctx))], capture_output=True,
                          text=True, env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)}, timeout=60)
    assert proc.returncode != 0 and "no-such-python" in proc.stderr


def test_linux_desktop_entry_starts_the_tray_launcher(make_ctx):
    ctx = make_ctx("linux")
    install(ctx, ALL)
    path = desktop_entry_path(ctx)
    assert path == ctx.home / ".config/autostart/shade-tray.desktop"
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read_string(path.read_text())
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["Terminal"] == "false"
    launcher = shlex.split(desktop["Exec"])[0]
    assert _executable(launcher)
    script = Path(launcher).read_text()
    assert "systemctl --user" in script and f"{sys.executable}" in script and "SHADE_HOME=" in script
    validate = require_tool("desktop-file-validate", "desktop-file-utils")
    proc = subprocess.run([validate, str(path)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_tray_launcher_without_systemd_starts_the_daemon(make_ctx, tmp_path):
    """With no systemd user service the session launcher runs the daemon itself; shown with
    a stand-in Python that records its arguments and environment."""
    fake_python = tmp_path / "python"
    log = tmp_path / "ran.txt"
    fake_python.write_text(f'#!/bin/sh\necho "$SHADE_HOME $*" > {log}\n')
    fake_python.chmod(0o755)
    ctx = make_ctx("linux", python=fake_python)
    install(ctx, ALL)
    entry = configparser.ConfigParser(interpolation=None)
    entry.read_string(desktop_entry_path(ctx).read_text())
    launcher = shlex.split(entry["Desktop Entry"]["Exec"])[0]
    proc = subprocess.run([launcher], env={"PATH": str(tmp_path), "HOME": str(ctx.home)}, timeout=30)
    assert proc.returncode == 0
    assert log.read_text().split() == [ctx.env["SHADE_HOME"], "-m", "shade_daemon", "daemon"]


# macOS --------------------------------------------------------------------------------
def test_macos_launch_agent_plist(make_ctx):
    ctx = make_ctx("macos")
    install(ctx, ALL)
    path = launch_agent_path(ctx)
    assert path == ctx.home / "Library/LaunchAgents/org.shade_art.daemon.plist"
    with path.open("rb") as fh:
        plist = plistlib.load(fh)
    assert plist["Label"] == "org.shade_art.daemon"
    assert _executable(plist["ProgramArguments"][0])
    assert plist["ProgramArguments"][1:] == ["-m", "shade_daemon", "daemon"]
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] == {"SuccessfulExit": False}  # restarted after a crash, not after quitting
    assert plist["EnvironmentVariables"] == {"SHADE_HOME": ctx.env["SHADE_HOME"]}
    assert Path(plist["StandardErrorPath"]).parent == ctx.paths.log_dir


# Windows ------------------------------------------------------------------------------
def test_windows_logon_task_and_registry(make_ctx):
    ctx = make_ctx("windows")
    install(ctx, ALL)
    raw = task_xml_path(ctx).read_bytes()
    assert raw.startswith((b"\xff\xfe", b"\xfe\xff"))  # UTF-16 with a BOM, as schtasks /XML wants
    task = ET.fromstring(raw)
    assert task.find("t:Triggers/t:LogonTrigger", TASK_NS) is not None
    restart = task.find("t:Settings/t:RestartOnFailure", TASK_NS)
    assert restart is not None and int(restart.find("t:Count", TASK_NS).text) > 0
    assert task.find("t:Principals/t:Principal/t:RunLevel", TASK_NS).text == "LeastPrivilege"
    exec_ = task.find("t:Actions/t:Exec", TASK_NS)
    assert exec_.find("t:Command", TASK_NS).text == str(ctx.gui_python)
    assert exec_.find("t:Arguments", TASK_NS).text == "-m shade_daemon daemon"

    # Per-user registry keys, each pointing at a manifest that exists.
    for browser in BROWSERS.values():
        value = ctx.registry.get_default(registry_key(browser))
        assert value is not None, browser.key
        manifest = json.loads(Path(value).read_text())
        assert Path(manifest["path"]).is_file() and manifest["path"].endswith(".bat")
    assert ctx.registry.get_default(r"Software\Google\Chrome\NativeMessagingHosts\org.shade_art.host")
    assert ctx.registry.get_default(r"Software\Mozilla\NativeMessagingHosts\org.shade_art.host")
    bat = Path(json.loads(Path(ctx.registry.get_default(registry_key(BROWSERS["chrome"]))).read_text())["path"])
    text = bat.read_bytes().decode("utf-8")
    assert text.startswith("@echo off") and "-m shade_daemon.nativehost %*" in text and "\r\n" in text


# Browsers on every OS ------------------------------------------------------------------
EXPECTED_LINUX = {
    "chrome": ".config/google-chrome/NativeMessagingHosts",
    "chromium": ".config/chromium/NativeMessagingHosts",
    "edge": ".config/microsoft-edge/NativeMessagingHosts",
    "brave": ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
    "firefox": ".mozilla/native-messaging-hosts",
}
EXPECTED_MACOS = {
    "chrome": "Library/Application Support/Google/Chrome/NativeMessagingHosts",
    "chromium": "Library/Application Support/Chromium/NativeMessagingHosts",
    "edge": "Library/Application Support/Microsoft Edge/NativeMessagingHosts",
    "brave": "Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts",
    "firefox": "Library/Application Support/Mozilla/NativeMessagingHosts",
}


@pytest.mark.parametrize("system", ["linux", "macos", "windows"])
def test_native_host_manifests(make_ctx, system):
    ctx = make_ctx(system)
    install(ctx, ALL)
    expected = {"linux": EXPECTED_LINUX, "macos": EXPECTED_MACOS}.get(system)
    for key, browser in BROWSERS.items():
        path = manifest_path(ctx, browser)
        if expected:
            assert path == ctx.home / expected[key] / f"{NATIVE_HOST_NAME}.json"
        manifest = json.loads(path.read_text())
        assert re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+)*", manifest["name"]) and manifest["name"] == NATIVE_HOST_NAME
        assert manifest["type"] == "stdio"
        assert Path(manifest["path"]).is_absolute() and Path(manifest["path"]).is_file()
        if system != "windows":
            assert _executable(manifest["path"])
        if browser.family == "firefox":
            assert manifest["allowed_extensions"] == [FIREFOX_ADDON_ID] and "allowed_origins" not in manifest
        else:
            assert manifest["allowed_origins"] == [CHROME_ORIGIN + "/"] and "allowed_extensions" not in manifest


def test_linux_honours_xdg_config_home(home, env, make_ctx):
    env["XDG_CONFIG_HOME"] = str(home / "xdg")
    ctx = make_ctx("linux")
    install(ctx, ALL)
    assert (home / "xdg/systemd/user/shade.service").is_file()
    assert (home / "xdg/google-chrome/NativeMessagingHosts" / f"{NATIVE_HOST_NAME}.json").is_file()
    assert (home / ".mozilla/native-messaging-hosts" / f"{NATIVE_HOST_NAME}.json").is_file()  # Firefox: always ~


def test_paths_with_spaces_survive_every_format(tmp_path, env):
    """macOS folders have spaces; a HOME with quotes and % must not break the unit, entry or launcher."""
    from shade_daemon.install import InstallContext

    odd = tmp_path / "my home's 100% \"art\""
    odd.mkdir()
    env = {**env, "HOME": str(odd), "SHADE_HOME": str(odd / "shade data")}
    fake = odd / "venv dir" / "python"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$(dirname \"$0\")/args.txt\"\n")
    fake.chmod(0o755)
    ctx = InstallContext.for_os("linux", odd, env, python=fake)
    install(ctx, ALL)
    unit = _parse_unit(systemd_unit_path(ctx).read_text())
    exec_start = shlex.split(unit["Service"]["ExecStart"].replace("%%", "%").replace("$$", "$"))
    # systemd takes no quote in an executable's path: the odd path goes through /bin/sh.
    assert exec_start == ["/bin/sh", "-c", 'exec "$0" "$@"', str(fake), "-m", "shade_daemon", "daemon"]
    subprocess.run(exec_start, check=True, timeout=30)
    assert (fake.parent / "args.txt").read_text().split("\n")[:3] == ["-m", "shade_daemon", "daemon"]
    entry = configparser.ConfigParser(interpolation=None)
    entry.read_string(desktop_entry_path(ctx).read_text())
    # Desktop Exec: undo the value escaping, then the quoting.
    exec_value = entry["Desktop Entry"]["Exec"].replace("\\\\", "\\").replace("%%", "%")
    assert shlex.split(exec_value)[0] == str(ctx.bin_dir / "shade-session")
    analyze = require_tool("systemd-analyze", "systemd")
    validate = require_tool("desktop-file-validate", "desktop-file-utils")
    # systemd itself reads the quoting back as the same program
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    proc = subprocess.run([analyze, "--user", "verify", str(systemd_unit_path(ctx))], capture_output=True,
                          text=True, env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([validate, str(desktop_entry_path(ctx))], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout
    host = json.loads(manifest_path(ctx, BROWSERS["chrome"]).read_text())["path"]
    subprocess.run([host, "chrome-extension://x/"], check=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    assert (fake.parent / "args.txt").read_text().split("\n")[:3] == ["-m", "shade_daemon.nativehost", "chrome-extension://x/"]
