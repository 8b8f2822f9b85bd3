"""Quoting a command line for the formats the installer writes into."""

from __future__ import annotations

import shlex
from typing import Sequence


def sh_command(args: Sequence[str]) -> str:
    """POSIX shell."""
    return " ".join(shlex.quote(a) for a in args)


def systemd_command(args: Sequence[str]) -> str:
    """systemd ExecStart=: double-quoted words; % and $ are specifiers/variables."""
    def one(arg: str) -> str:
        arg = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
        return f'"{arg}"'
    return " ".join(one(a) for a in args)


def systemd_env_value(name: str, value: str) -> str:
    """An Environment= assignment, quoted as a whole."""
    escaped = f"{name}={value}".replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def desktop_exec(args: Sequence[str]) -> str:
    """Desktop Entry Exec=: reserved characters force quoting, inside which
    " ` $ and backslash are escaped; then the value's own backslash escaping
    applies and % becomes %%."""
    reserved = set(" \t\n\"'\\><~|&;$*?#()`")

    def one(arg: str) -> str:
        arg = arg.replace("%", "%%")
        if not any(c in reserved for c in arg):
            return arg
        inner = "".join("\\" + c if c in '"`$\\' else c for c in arg)
        return '"' + inner + '"'

    return " ".join(one(a) for a in args).replace("\\", "\\\\")


def windows_command(args: Sequence[str]) -> str:
    """A Windows command line as CreateProcess parses it (what subprocess uses)."""
    import subprocess

    return subprocess.list2cmdline(list(args))


def batch_set(name: str, value: str) -> str:
    """A cmd.exe ``set`` line; % must be doubled inside batch files."""
    return f'set "{name}={value.replace("%", "%%")}"'
