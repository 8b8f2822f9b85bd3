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
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${SHADE_VENV:-$HOME/Library/Application Support/Shade-venv}"
PY="${PYTHON:-python3}"
LINK="$HOME/.local/bin/shade"

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
