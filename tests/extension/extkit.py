"""Helpers shared by the extension's tests (a plain module: conftest.py names clash across parts)."""

from __future__ import annotations

import base64
import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXT_DIR = REPO / "extension"
PAGES_DIR = Path(__file__).resolve().parent / "pages"
CHROMIUM = "/usr/bin/chromium"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from shade_daemon.extension_ids import (  # noqa: E402
    CHROME_EXTENSION_ID, CHROME_MANIFEST_KEY, FIREFOX_ADDON_ID, NATIVE_HOST_NAME,
)

EXT_ORIGIN = f"chrome-extension://{CHROME_EXTENSION_ID}"


def b64(path_or_bytes) -> str:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    return base64.b64encode(data).decode("ascii")


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
