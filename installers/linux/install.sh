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
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${SHADE_VENV:-${XDG_DATA_HOME:-$HOME/.local/share}/shade-venv}"
PY="${PYTHON:-python3}"
LINK="$HOME/.local/bin/shade"
CPU_INDEX="https://download.pytorch.org/whl/cpu"

DRY_RUN=0
UNINSTALL=0
SHADE_ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --uninstall) UNINSTALL=1 ;;
        -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) SHADE_ARGS+=("$1") ;;
    esac
    shift
done

say() { printf '%s\n' "$*"; }
die() { printf 'shade installer: %s\n' "$*" >&2; exit 1; }

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

undo() {
    if [ -x "$VENV/bin/shade" ]; then
        say "Removing what 'shade install' set up:"
        "$VENV/bin/shade" uninstall
    fi
    if [ -L "$LINK" ] && [ "$(readlink "$LINK")" = "$VENV/bin/shade" ]; then
        rm -f "$LINK" && say "removed $LINK"
    fi
    if [ -f "$VENV/pyvenv.cfg" ]; then
        rm -rf "$VENV" && say "removed $VENV"
    fi
    say "Shade is uninstalled. Your images, the Shade picture folders, settings and downloaded models were kept."
}

if [ "$UNINSTALL" = 1 ]; then
    if [ "$DRY_RUN" = 1 ]; then
        say "Would run: $VENV/bin/shade uninstall; remove $LINK (if it points there); remove $VENV"
        exit 0
    fi
    undo
    exit 0
fi

[ -f "$SRC/pyproject.toml" ] || die "run this script from a Shade download: $SRC has no pyproject.toml"
choose_torch
if [ "$DRY_RUN" = 1 ]; then
    say "Shade installer (dry run: nothing is changed)"
    say "  environment:  $VENV"
    say "  torch:        $TORCH_SPEC from ${TORCH_INDEX:-PyPI}"
    say "                ($TORCH_WHY)"
    say "  Shade from:   $SRC"
    say "  then:         shade install --extension-dir $SRC/extension ${SHADE_ARGS[*]:-}"
    exit 0
fi
check_python

say "Installing Shade into $VENV"
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
say "PyTorch: $TORCH_SPEC from ${TORCH_INDEX:-PyPI} ($TORCH_WHY)"
if [ -n "$TORCH_INDEX" ]; then
    "$VENV/bin/python" -m pip install --quiet --index-url "$TORCH_INDEX" "$TORCH_SPEC"
else
    "$VENV/bin/python" -m pip install --quiet "$TORCH_SPEC"
fi
"$VENV/bin/python" -m pip install --quiet "$SRC"

"$VENV/bin/shade" install --extension-dir "$SRC/extension" ${SHADE_ARGS[@]+"${SHADE_ARGS[@]}"}

LINKED=""
case ":$PATH:" in
    *":$HOME/.local/bin:"*)
        if [ ! -e "$LINK" ] || { [ -L "$LINK" ] && [ "$(readlink "$LINK")" = "$VENV/bin/shade" ]; }; then
            mkdir -p "$(dirname "$LINK")"
            ln -sfn "$VENV/bin/shade" "$LINK"
            LINKED="$LINK"
        fi
        ;;
esac

say ""
say "Done. Shade is installed in $VENV."
if [ -n "$LINKED" ]; then
    say "The 'shade' command is on your PATH ($LINKED)."
else
    say "Run Shade's commands as: $VENV/bin/shade (e.g. $VENV/bin/shade doctor)"
fi
say "To undo all of it: $0 --uninstall"
