"""Start Shade's daemon at login and restart it if it crashes:
systemd user unit + XDG autostart entry (tray) on Linux, a launchd LaunchAgent on
macOS, a logon-triggered scheduled task on Windows."""

from __future__ import annotations

import plistlib
import re
from pathlib import Path
from xml.sax.saxutils import escape

from .artifacts import Artifact, CommandStep, FileArtifact, SymlinkArtifact
from .context import InstallContext
from .launchers import SERVICE_NAME, session_launcher, session_launcher_path
from .quoting import desktop_exec, systemd_command, systemd_env_value, windows_command

LAUNCHD_LABEL = "org.shade_art.daemon"
TASK_NAME = "Shade"
DESKTOP_FILE = "shade-tray.desktop"


def daemon_args(ctx: InstallContext, python: Path | None = None) -> list[str]:
    return [str(python or ctx.python), "-m", "shade_daemon", "daemon"]


# Linux ---------------------------------------------------------------------
def systemd_unit_path(ctx: InstallContext) -> Path:
    return ctx.xdg_config_home / "systemd" / "user" / SERVICE_NAME


def systemd_wants_path(ctx: InstallContext) -> Path:
    return ctx.xdg_config_home / "systemd" / "user" / "default.target.wants" / SERVICE_NAME


def desktop_entry_path(ctx: InstallContext) -> Path:
    return ctx.xdg_config_home / "autostart" / DESKTOP_FILE


_SYSTEMD_SAFE = re.compile(r"[A-Za-z0-9 /._+@:,=~%-]+")


def _systemd_exec(args: list[str]) -> list[str]:
    """systemd refuses an executable path with quotes, backslashes and the like in it
    (arguments may hold anything); run such a path through /bin/sh instead."""
    if _SYSTEMD_SAFE.fullmatch(args[0]):
        return args
    return ["/bin/sh", "-c", 'exec "$0" "$@"', *args]


def systemd_unit(ctx: InstallContext) -> str:
    lines = [
        "# Written by `shade install`; removed by `shade uninstall`.",
        "[Unit]",
        "Description=Shade: protects images before you post them",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={systemd_command(_systemd_exec(daemon_args(ctx)))}",
        "Restart=on-failure",
        "RestartSec=5",
        # The daemon checkpoints or re-queues the running job on SIGTERM.
        "TimeoutStopSec=30",
    ]
    lines += [f"Environment={systemd_env_value(k, v)}" for k, v in ctx.carried_env().items()]
    lines += ["", "[Install]", "WantedBy=default.target", ""]
    return "\n".join(lines)


def desktop_entry(ctx: InstallContext) -> str:
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Name=Shade",
        "Comment=Shade's tray icon: protects images before you post them",
        f"Exec={desktop_exec([str(session_launcher_path(ctx))])}",
        "Terminal=false",
        "NoDisplay=true",
        "X-GNOME-Autostart-enabled=true",
        "",
    ])


def _linux(ctx: InstallContext) -> list[Artifact]:
    unit = systemd_unit_path(ctx)
    return [
        session_launcher(ctx),
        FileArtifact(unit, systemd_unit(ctx).encode(), "systemd user service (restarts on failure)", "autostart"),
        # What `systemctl --user enable` would create; written directly so the
        # service starts at the next login even when no user manager runs now.
        SymlinkArtifact(systemd_wants_path(ctx), f"../{SERVICE_NAME}", "start the service at login", "autostart"),
        FileArtifact(desktop_entry_path(ctx), desktop_entry(ctx).encode(), "XDG autostart entry for the tray", "autostart"),
        CommandStep(
            "start the service now", "autostart",
            run=(("systemctl", "--user", "daemon-reload"), ("systemctl", "--user", "restart", SERVICE_NAME)),
            run_unchanged=(("systemctl", "--user", "start", SERVICE_NAME),),
            undo=(("systemctl", "--user", "stop", SERVICE_NAME),),
            after_undo=(("systemctl", "--user", "daemon-reload"),),
        ),
    ]


# macOS ---------------------------------------------------------------------
def launch_agent_path(ctx: InstallContext) -> Path:
    return ctx.home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"


def launch_agent(ctx: InstallContext) -> bytes:
    plist = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": daemon_args(ctx),
        "RunAtLoad": True,
        # Restart when it crashes; a clean exit (shade quit from the tray) stays quit.
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,
        "ProcessType": "Interactive",
        "StandardOutPath": str(ctx.paths.log_dir / "launchd.out.log"),
        "StandardErrorPath": str(ctx.paths.log_dir / "launchd.err.log"),
    }
    if ctx.carried_env():
        plist["EnvironmentVariables"] = ctx.carried_env()
    return plistlib.dumps(plist)


def _macos(ctx: InstallContext) -> list[Artifact]:
    path = launch_agent_path(ctx)
    domain = f"gui/{ctx.uid}"
    return [
        FileArtifact(path, launch_agent(ctx), "launchd LaunchAgent (starts at login, restarts on crash)", "autostart"),
        CommandStep(
            "load the LaunchAgent now", "autostart",
            prepare=(("launchctl", "bootout", f"{domain}/{LAUNCHD_LABEL}"),),
            run=(("launchctl", "bootstrap", domain, str(path)),),
            run_unchanged=(("launchctl", "kickstart", f"{domain}/{LAUNCHD_LABEL}"),),
            undo=(("launchctl", "bootout", f"{domain}/{LAUNCHD_LABEL}"),),
        ),
    ]


# Windows -------------------------------------------------------------------
def task_xml_path(ctx: InstallContext) -> Path:
    return ctx.paths.data_dir / "autostart" / "shade-task.xml"


def task_xml(ctx: InstallContext) -> bytes:
    """Task Scheduler XML: at logon of this user, run the daemon; restart it up to
    99 times, a minute apart, if it fails; no time limit. schtasks wants UTF-16."""
    args = daemon_args(ctx, ctx.gui_python)
    command, arguments = args[0], windows_command(args[1:])
    text = f"""<?xml version="1.0" encoding="UTF-16"?>
<!-- Written by `shade install`; removed by `shade uninstall`. -->
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>Shade: protects images before you post them</Description>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger><Enabled>true</Enabled></LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>99</Count>
    </RestartOnFailure>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{escape(command)}</Command>
      <Arguments>{escape(arguments)}</Arguments>
    </Exec>
  </Actions>
</Task>
"""
    return text.encode("utf-16")


def _windows(ctx: InstallContext) -> list[Artifact]:
    path = task_xml_path(ctx)
    return [
        FileArtifact(path, task_xml(ctx), "scheduled-task definition (at logon, restart on failure)", "autostart"),
        CommandStep(
            "register the logon task and start it", "autostart",
            run=(("schtasks", "/Create", "/TN", TASK_NAME, "/XML", str(path), "/F"), ("schtasks", "/Run", "/TN", TASK_NAME)),
            run_unchanged=(("schtasks", "/Run", "/TN", TASK_NAME),),
            undo=(("schtasks", "/End", "/TN", TASK_NAME), ("schtasks", "/Delete", "/TN", TASK_NAME, "/F")),
        ),
    ]


def autostart_artifacts(ctx: InstallContext) -> list[Artifact]:
    return {"linux": _linux, "macos": _macos, "windows": _windows}[ctx.os](ctx)
