"""Small launcher scripts that the browsers and the desktop session run. They
pin the Python of Shade's environment and carry SHADE_HOME / SHADE_MODEL_DIR,
because browsers and login sessions start programs without the user's shell."""

from __future__ import annotations

from pathlib import Path

from .artifacts import FileArtifact
from .context import InstallContext
from .quoting import batch_set, sh_command, windows_command

HEADER = "Written by `shade install`; removed by `shade uninstall`."
SERVICE_NAME = "shade.service"


def host_launcher_path(ctx: InstallContext) -> Path:
    name = "shade-native-host.bat" if ctx.os == "windows" else "shade-native-host"
    return ctx.bin_dir / name


def _posix_script(ctx: InstallContext, purpose: str, body: list[str]) -> bytes:
    lines = ["#!/bin/sh", f"# {HEADER}", f"# {purpose}"]
    for name, value in ctx.carried_env().items():
        lines.append(f"{name}={sh_command([value])}; export {name}")
    lines += body
    return ("\n".join(lines) + "\n").encode("utf-8")


def host_launcher(ctx: InstallContext) -> FileArtifact:
    args = [str(ctx.python), "-m", "shade_daemon.nativehost"]
    if ctx.os == "windows":
        lines = ["@echo off", f"rem {HEADER}", "rem Browsers run this to start Shade's native-messaging host."]
        lines += [batch_set(k, v) for k, v in ctx.carried_env().items()]
        lines.append(windows_command(args).replace("%", "%%") + " %*")
        content = ("\r\n".join(lines) + "\r\n").encode("utf-8")
        return FileArtifact(host_launcher_path(ctx), content, "native-messaging host launcher", "launchers")
    content = _posix_script(ctx, "Browsers run this to start Shade's native-messaging host.",
                            [f'exec {sh_command(args)} "$@"'])
    return FileArtifact(host_launcher_path(ctx), content, "native-messaging host launcher", "launchers", 0o755)


def session_launcher_path(ctx: InstallContext) -> Path:
    return ctx.bin_dir / "shade-session"


def session_launcher(ctx: InstallContext) -> FileArtifact:
    """Linux, run at desktop login (XDG autostart) so the daemon gets a tray icon:
    the systemd user service starts before the desktop exists, so hand it the
    display and restart it; without systemd, start the daemon directly."""
    daemon = sh_command([str(ctx.python), "-m", "shade_daemon", "daemon"])
    body = [
        "if command -v systemctl >/dev/null 2>&1 && systemctl --user is-enabled --quiet " + SERVICE_NAME + " 2>/dev/null; then",
        "    systemctl --user import-environment DISPLAY WAYLAND_DISPLAY XAUTHORITY DBUS_SESSION_BUS_ADDRESS XDG_CURRENT_DESKTOP 2>/dev/null",
        "    exec systemctl --user restart " + SERVICE_NAME,
        "fi",
        f"exec {daemon}",
    ]
    content = _posix_script(ctx, "The desktop session runs this at login to show Shade's tray icon.", body)
    return FileArtifact(session_launcher_path(ctx), content, "tray launcher for the desktop session", "autostart", 0o755)
