# Sourced by ./shade and ./run-tests: makes .venv beside this repo and installs
# Shade into it (editable), with the dev extra when SHADE_DEV=1. Re-installs only
# when pyproject.toml changed. Torch comes first and pinned (SHADE_TORCH), so a
# CPU-only machine never pulls a multi-GB CUDA build by accident.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "shade: creating $VENV" >&2
    "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    echo "shade: installing ${SHADE_TORCH:=torch==2.13.0} (set SHADE_TORCH to choose another build)" >&2
    "$VENV/bin/pip" install -q "$SHADE_TORCH"
fi
extra=""; [ "${SHADE_DEV:-0}" = 1 ] && extra="[dev]"
stamp="$VENV/.stamp-install$extra"
want="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "shade: installing Shade$extra into $VENV" >&2
    "$VENV/bin/pip" install -q -e "$ROOT$extra"
    echo "$want" > "$stamp"
fi
# Weights for a checkout that sits beside ../shared (CI, the developers' machines).
if [ -z "${SHADE_MODEL_DIR:-}" ] && [ -d "$ROOT/../shared/models" ]; then
    export SHADE_MODEL_DIR="$(cd "$ROOT/../shared/models" && pwd)"
fi
