# Shared by installers/linux/install.sh and installers/macos/install.sh, which set
# SRC, VENV, PY and LINK and define choose_torch and check_python, then source this:
# argument parsing, --uninstall, and the install itself.
# shellcheck shell=bash disable=SC2154

DRY_RUN=0
UNINSTALL=0
SHADE_ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --uninstall) UNINSTALL=1 ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) SHADE_ARGS+=("$1") ;;
    esac
    shift
done

say() { printf '%s\n' "$*"; }
die() { printf 'shade installer: %s\n' "$*" >&2; exit 1; }

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
