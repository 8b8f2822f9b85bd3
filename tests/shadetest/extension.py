"""The extension tests' part of the test library: where the extension and chromium are, its ids."""

from __future__ import annotations

import base64
import socket
from pathlib import Path

from shade_daemon.extension_ids import (  # noqa: F401 - re-exported for the extension tests
    CHROME_EXTENSION_ID,
    CHROME_MANIFEST_KEY,
    FIREFOX_ADDON_ID,
    NATIVE_HOST_NAME,
)

REPO = Path(__file__).resolve().parents[2]
EXT_DIR = REPO / "extension"
PAGES_DIR = REPO / "tests" / "extension" / "pages"
CHROMIUM = "/usr/bin/chromium"

EXT_ORIGIN = f"chrome-extension://{CHROME_EXTENSION_ID}"


def b64(path_or_bytes) -> str:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    return base64.b64encode(data).decode("ascii")


def native_host_override(user_data: Path) -> Path:
    """A shell file the native host's wrapper reads when it exists: a test points the helper
    at another Shade home there (one where no daemon runs yet)."""
    return user_data.parent / "native-host-env.sh"


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
