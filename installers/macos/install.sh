#!/usr/bin/env bash
# Shade installer for macOS. Run it from a Shade download (a clone or an unpacked
# release):  installers/macos/install.sh
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
#   SHADE_TORCH_INDEX  a wheel index for torch (default: PyPI, whose macOS build uses
#                      the Apple GPU through MPS on Apple Silicon)
#   SHADE_VENV         where the environment goes (default: ~/Library/Application Support/Shade-venv)
#   PYTHON             the Python 3.10+ to build the environment with (default: python3)
# shellcheck disable=SC2034  # VENV, LINK and TORCH_* are read by posix-common.sh
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${SHADE_VENV:-$HOME/Library/Application Support/Shade-venv}"
PY="${PYTHON:-python3}"
LINK="$HOME/.local/bin/shade"

# Which PyTorch build: PyPI's macOS wheel uses the Apple GPU (MPS) on Apple
# Silicon. PyTorch publishes no builds for Intel Macs since 2.2, older than Shade needs.
choose_torch() {
    TORCH_SPEC="${SHADE_TORCH:-torch}"
    TORCH_INDEX="${SHADE_TORCH_INDEX:-}"
    if [ "$(uname -s)" != "Darwin" ]; then
        die "this is the macOS installer; on Linux use installers/linux/install.sh"
    fi
    if [ -n "${SHADE_TORCH:-}${SHADE_TORCH_INDEX:-}" ]; then
        TORCH_WHY="chosen by SHADE_TORCH / SHADE_TORCH_INDEX"
    elif [ "$(uname -m)" = "arm64" ]; then
        TORCH_WHY="Apple Silicon: PyPI's build, which uses the Apple GPU (MPS)"
    else
        die "this Mac has an Intel processor; PyTorch no longer publishes builds for Intel Macs (the last, 2.2, is older than Shade needs). Set SHADE_TORCH to a torch you have built or found, or run Shade on another machine."
    fi
}

check_python() {
    command -v "$PY" >/dev/null 2>&1 || die "$PY not found. Install Python 3.10 or newer from python.org or Homebrew (brew install python@3.12), or set PYTHON."
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
        || die "$("$PY" --version 2>&1) is too old (the one Apple ships is 3.9); install Python 3.10 or newer from python.org or Homebrew and set PYTHON to it."
    "$PY" -c 'import venv, ensurepip' 2>/dev/null \
        || die "$PY cannot create environments; install Python from python.org or Homebrew and set PYTHON to it."
}

# shellcheck source=/dev/null
source "$SRC/installers/posix-common.sh"
