"""The per-OS entry scripts. The shell scripts are syntax-checked (bash -n, and
shellcheck where installed) and run for real with a stand-in Python that records
what it is asked to do, so their flow is tested without downloading PyTorch."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from shadetest import powershell_errors, require_tool

REPO = Path(__file__).resolve().parents[2]
LINUX = REPO / "installers/linux/install.sh"
MACOS = REPO / "installers/macos/install.sh"
WINDOWS = REPO / "installers/windows/install.ps1"

# Stands in for python3 and for the environment's python and shade: logs each call.
FAKE_PYTHON = r"""#!/bin/sh
echo "python $*" >> "$SHADE_TEST_LOG"
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
    mkdir -p "$3/bin"
    cp "$0" "$3/bin/python"
    printf '#!/bin/sh\necho "shade $*" >> "$SHADE_TEST_LOG"\n' > "$3/bin/shade"
    chmod +x "$3/bin/python" "$3/bin/shade"
    echo "home = /nowhere" > "$3/pyvenv.cfg"
fi
exit 0
"""


@pytest.mark.parametrize("script", [LINUX, MACOS], ids=["linux", "macos"])
def test_shell_scripts_parse(script):
    assert os.access(script, os.X_OK), f"{script} must be executable"
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    shellcheck = require_tool("shellcheck", "shellcheck")
    proc = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout


def test_powershell_script_parses():
    """install.ps1 is parsed for real by the tree-sitter PowerShell grammar (pwsh itself
    is not in the registries this project installs from)."""
    source = WINDOWS.read_bytes()
    assert powershell_errors(source) == []
    # The parser does catch what PowerShell would refuse: an unclosed block, a stray brace.
    assert powershell_errors(source.replace(b"}", b"", 1))
    assert powershell_errors(b"function Test-It {\n    if ($x) { Write-Host 'a'\n}\n")


@pytest.fixture
def sandbox(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    home = tmp_path / "home"
    (home / ".local/bin").mkdir(parents=True)
    log = tmp_path / "calls.log"
    env = {"HOME": str(home), "PATH": f"{bin_dir}:{home}/.local/bin:/usr/bin:/bin", "SHADE_TEST_LOG": str(log)}
    return env, bin_dir, home, log


def _fake_nvidia_smi(bin_dir: Path, works: bool) -> None:
    smi = bin_dir / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\nexit {0 if works else 9}\n")
    smi.chmod(0o755)


def test_linux_torch_choice(sandbox):
    env, bin_dir, _, _ = sandbox

    def dry(extra_env=None):
        proc = subprocess.run([str(LINUX), "--dry-run"], env={**env, **(extra_env or {})}, capture_output=True,
                              text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert "torch from https://download.pytorch.org/whl/cpu" in dry()  # no nvidia-smi at all
    _fake_nvidia_smi(bin_dir, works=False)
    assert "whl/cpu" in dry() and "no working NVIDIA driver" in dry()
    _fake_nvidia_smi(bin_dir, works=True)
    assert "torch from PyPI" in dry() and "CUDA" in dry()
    out = dry({"SHADE_TORCH_INDEX": "https://example.invalid/whl/rocm", "SHADE_TORCH": "torch==2.5.1"})
    assert "torch==2.5.1 from https://example.invalid/whl/rocm" in out and "SHADE_TORCH_INDEX is set" in out


def test_linux_install_and_uninstall_flow(sandbox):
    env, _, home, log = sandbox
    venv = home / ".local/share/shade-venv"
    proc = subprocess.run([str(LINUX), "--no-browsers", "--pull-models"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    calls = log.read_text().splitlines()
    assert calls[-4:] == [
        "python -m pip install --quiet --upgrade pip",
        "python -m pip install --quiet --index-url https://download.pytorch.org/whl/cpu torch",
        f"python -m pip install --quiet {REPO}",
        f"shade install --extension-dir {REPO}/extension --no-browsers --pull-models",
    ]
    assert f"python -m venv {venv}" in calls
    link = home / ".local/bin/shade"
    assert link.is_symlink() and os.readlink(link) == str(venv / "bin/shade")
    assert "--uninstall" in proc.stdout and str(venv) in proc.stdout

    log.write_text("")
    undo = subprocess.run([str(LINUX), "--uninstall"], env=env, capture_output=True, text=True, timeout=60)
    assert undo.returncode == 0, undo.stderr
    assert log.read_text().splitlines() == ["shade uninstall"]
    assert not venv.exists() and not link.exists() and not link.is_symlink()


def test_linux_refuses_an_old_python(sandbox):
    env, bin_dir, _, _ = sandbox
    (bin_dir / "python3").write_text("#!/bin/sh\n[ \"$1\" = --version ] && echo 'Python 3.8.10'\nexit 1\n")
    proc = subprocess.run([str(LINUX)], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "3.10 or newer" in proc.stderr


def test_macos_script_picks_mps_on_apple_silicon_and_refuses_intel(sandbox):
    env, bin_dir, _, _ = sandbox
    uname = bin_dir / "uname"

    def with_machine(machine: str) -> subprocess.CompletedProcess:
        uname.write_text(f"#!/bin/sh\n[ \"$1\" = -m ] && echo {machine} || echo Darwin\n")
        uname.chmod(0o755)
        return subprocess.run([str(MACOS), "--dry-run"], env=env, capture_output=True, text=True, timeout=30)

    arm = with_machine("arm64")
    assert arm.returncode == 0 and "torch from PyPI" in arm.stdout and "MPS" in arm.stdout
    assert "Library/Application Support/Shade-venv" in arm.stdout
    intel = with_machine("x86_64")
    assert intel.returncode == 1 and "Intel" in intel.stderr and "SHADE_TORCH" in intel.stderr
