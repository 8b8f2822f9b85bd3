"""Fixtures for the installer tests: a temporary HOME (and SHADE_HOME) per test, and
helpers to run Shade's programs as subprocesses the way the OS or a browser would."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import shadetest
from shade_daemon.install import InstallContext

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    """A minimal environment aimed at the temporary HOME; nothing from the real user."""
    return {
        "HOME": str(home),
        "SHADE_HOME": str(home / "shade-home"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
    }


@pytest.fixture
def make_ctx(home: Path, env: dict[str, str]):
    def make(system: str, **kw) -> InstallContext:
        return InstallContext.for_os(system, home, env, extension_src=kw.pop("extension_src", None), **kw)
    return make


def _run_shade(args: list[str], env: dict[str, str], timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    """``shade ARGS`` through the installed console script, as a separate process."""
    return shadetest.run_shade(args, env, timeout=timeout, cwd=REPO, **kw)


@pytest.fixture
def run_shade():
    return _run_shade


@pytest.fixture
def snapshot():
    return _snapshot


def _snapshot(root: Path) -> dict[str, str]:
    """Every file, link and folder under ``root`` with its kind and content hash."""
    import hashlib

    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
