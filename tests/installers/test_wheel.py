"""The distribution: the wheel builds under its own name (shade-art), installs into a fresh
environment, and its ``shade`` command runs from there, not from this checkout."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from shadetest import REPO

pytestmark = pytest.mark.timeout(300)


def test_wheel_installs_in_a_fresh_venv_and_shade_help_works(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
                    str(REPO)], check=True, timeout=240, cwd=tmp_path)
    wheels = list(dist.glob("shade_art-*.whl"))
    assert len(wheels) == 1, list(dist.iterdir())
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert "shade_daemon/cli.py" in names and "shade_daemon/http/app.py" in names and "shading/models/encoders.py" in names
    assert not any(n.startswith(("daemon/", "tests/")) for n in names), "the import names are shading and shade_daemon"
    packages = _packages()
    missing = {f"{pkg.replace('.', '/')}/__init__.py" for pkg in packages} - set(names)
    assert not missing, f"packages left out of the wheel: {sorted(missing)}"

    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # The dependencies (torch and the rest) come from the test environment, read-only; Shade
    # itself only from the wheel (this .pth does not run the checkout's editable finder).
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                    str(wheels[0])], check=True, timeout=120)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SHADE_HOME": str(tmp_path / "home")}
    res = subprocess.run([str(venv / "bin" / "shade"), "--help"], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "protect" in res.stdout and "daemon" in res.stdout
    where = subprocess.run([str(python), "-c", "import importlib.metadata as m, shade_daemon, shading; "
                            "print(m.version('shade-art')); print(shade_daemon.__file__); print(shading.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    version, daemon_file, shading_file = where.stdout.split()
    assert version and daemon_file.startswith(str(site)) and shading_file.startswith(str(site)), where.stdout
    # The lab (benchmark, experiment) ships too: its command parses, and every package imports.
    res = subprocess.run([str(venv / "bin" / "shade"), "experiment", "poison", "--fast", "--help"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert res.returncode == 0 and "--fast" in res.stdout, res.stderr
    res = subprocess.run([str(python), "-c", "import importlib, sys\nfor name in sys.argv[1:]: importlib.import_module(name)",
                          *packages], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=240)
    assert res.returncode == 0, res.stderr


def _packages() -> list[str]:
    """Every package in the checkout's two import packages, by import name."""
    return sorted(".".join(init.parent.relative_to(REPO).parts)
                  for top in ("shading", "shade_daemon") for init in (REPO / top).rglob("__init__.py"))
