#!/usr/bin/env bash
# Shade installer for Linux. Run it from a Shade download (a clone or an unpacked
# release):  installers/linux/install.sh
#
# It makes a private Python environment, installs Shade there with the PyTorch
# build that suits this machine, then runs `shade install`, which starts Shade at
# login and registers it with your browsers. Nothing outside your home folder is
# changed and nothing needs root.
#
#   --dry-run     say what would be done, change nothing
#   --uninstall   undo everything this script did
#   other options are passed to `shade install` (see `shade install --help`),
#   e.g. --no-autostart, --no-browsers, --model-dir DIR, --pull-models
#
# Environment overrides:
#   SHADE_TORCH        the torch requirement to install (default: torch)
#   SHADE_TORCH_INDEX  the wheel index for torch, e.g. https://download.pytorch.org/whl/cu126
#                      (default: chosen from nvidia-smi, see below)
#   SHADE_VENV         where the environment goes (default: ~/.local/share/shade-venv)
#   PYTHON             the Python 3.10+ to build the environment with (default: python3)
# shellcheck disable=SC2034  # VENV, LINK and TORCH_* are read by posix-common.sh
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${SHADE_VENV:-${XDG_DATA_HOME:-$HOME/.local/share}/shade-venv}"
PY="${PYTHON:-python3}"
LINK="$HOME/.local/bin/shade"
CPU_INDEX="https://download.pytorch.org/whl/cpu"

# Which PyTorch build: PyPI's Linux wheels carry CUDA, which only helps with an
# NVIDIA driver; without one the CPU build is a far smaller download.
choose_torch() {
    TORCH_SPEC="${SHADE_TORCH:-torch}"
    if [ -n "${SHADE_TORCH_INDEX:-}" ]; then
        TORCH_INDEX="$SHADE_TORCH_INDEX"
        TORCH_WHY="SHADE_TORCH_INDEX is set"
    elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
        TORCH_INDEX=""
        TORCH_WHY="nvidia-smi found a working NVIDIA driver: the CUDA build from PyPI, so Shade uses the GPU"
    else
        TORCH_INDEX="$CPU_INDEX"
        TORCH_WHY="no working NVIDIA driver (nvidia-smi): the CPU-only build (shading works, more slowly)"
    fi
}

check_python() {
    command -v "$PY" >/dev/null 2>&1 || die "$PY not found. Install Python 3.10 or newer (e.g. sudo apt install python3 python3-venv), or set PYTHON."
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
        || die "$("$PY" --version 2>&1) is too old; Shade needs Python 3.10 or newer (set PYTHON to another one)."
    "$PY" -c 'import venv, ensurepip' 2>/dev/null \
        || die "$PY cannot create environments; install the venv module (Debian/Ubuntu: sudo apt install python3-venv)."
}

# shellcheck source=/dev/null
source "$SRC/installers/posix-common.sh"
