"""Where things go: the operating system being installed for, the user's home,
Shade's folders and the Python that runs Shade. Every per-OS path the installer
writes is derived from an ``InstallContext``, so tests can aim it at a temporary
HOME and pick the OS by parameter."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from ..config import Paths, Settings, load_settings
from .registry import MemoryRegistry, RegistryWriter, WinregWriter

OS_NAMES = ("linux", "macos", "windows")
# Environment variables that choose where Shade keeps its files or models; an
# install made with them set must hand them on to the autostarted daemon and the
# native host, which the OS starts without the user's shell environment.
CARRIED_ENV = ("SHADE_HOME", "SHADE_MODEL_DIR")


def current_os() -> str:
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "linux"


@dataclass
class InstallContext:
    os: str
    home: Path
    env: Mapping[str, str]
    paths: Paths
    settings: Settings
    python: Path  # the interpreter of Shade's environment (a venv's python)
    registry: RegistryWriter | None = None
    # Run systemctl / launchctl / schtasks: only for a real install on this OS.
    run_commands: bool = False
    extension_src: Path | None = None
    uid: int = field(default_factory=lambda: os.getuid() if hasattr(os, "getuid") else 0)

    @classmethod
    def for_this_machine(cls, env: Mapping[str, str] | None = None, settings: Settings | None = None,
                         paths: Paths | None = None) -> "InstallContext":
        env = dict(os.environ if env is None else env)
        paths = paths or Paths.resolve(env)
        system = current_os()
        registry: RegistryWriter | None = WinregWriter() if system == "windows" else None
        return cls(
            os=system, home=Path.home(), env=env, paths=paths,
            settings=settings or load_settings(env, paths), python=Path(sys.executable),
            registry=registry, run_commands=True, extension_src=default_extension_src(),
        )

    @classmethod
    def for_os(cls, system: str, home: Path, env: Mapping[str, str], python: Path | None = None,
               extension_src: Path | None = None) -> "InstallContext":
        """The layout of ``system`` rooted at ``home`` (any folder, on any machine), with an
        in-memory registry for Windows; it never runs OS tools. Tests use it to check
        every OS's files on one machine."""
        if system not in OS_NAMES:
            raise ValueError(f"unknown OS {system!r}; use one of {', '.join(OS_NAMES)}")
        paths = Paths.resolve(env)
        return cls(
            os=system, home=home, env=dict(env), paths=paths, settings=load_settings(env, paths),
            python=python or Path(sys.executable),
            registry=MemoryRegistry() if system == "windows" else None,
            run_commands=False, extension_src=extension_src,
        )

    # Per-OS base folders -------------------------------------------------
    @property
    def xdg_config_home(self) -> Path:
        value = self.env.get("XDG_CONFIG_HOME")
        return Path(value) if value else self.home / ".config"

    @property
    def app_support(self) -> Path:
        return self.home / "Library" / "Application Support"

    # What the installed entries run -------------------------------------
    @property
    def bin_dir(self) -> Path:
        """Launchers written by ``shade install``."""
        return self.paths.data_dir / "bin"

    @property
    def gui_python(self) -> Path:
        """On Windows, pythonw.exe starts without a console window."""
        if self.os == "windows":
            candidate = self.python.with_name("pythonw.exe")
            return candidate if candidate.exists() or not self.python.exists() else self.python
        return self.python

    def carried_env(self) -> dict[str, str]:
        return {name: self.env[name] for name in CARRIED_ENV if self.env.get(name)}

    @property
    def installed_extension_dir(self) -> Path:
        return self.paths.data_dir / "extension"


def default_extension_src() -> Path | None:
    """The ``extension/`` folder of the checkout Shade runs from, if there is one."""
    candidate = Path(__file__).resolve().parents[2] / "extension"
    return candidate if (candidate / "manifest.json").is_file() else None
