"""Which browser origins may talk to the daemon: the configured ones, the pinned Chrome
extension origin, and extension origins recorded at pairing (persisted in the data dir)."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Iterable

from ..extension_ids import CHROME_ORIGIN
from ..private import write_private

EXTENSION_SCHEMES = ("chrome-extension", "moz-extension", "safari-web-extension")
FILE_NAME = "paired-origins.json"


def normalize_origin(origin: str) -> str:
    """Lower-case scheme://host[:port] without a trailing slash."""
    origin = origin.strip().rstrip("/")
    scheme, sep, rest = origin.partition("://")
    return f"{scheme.lower()}{sep}{rest.lower()}" if sep else origin.lower()


# What browsers really send: Chrome/Edge/Brave IDs are 32 letters a-p; Firefox and Safari use a UUID.
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_EXTENSION_ORIGIN = re.compile(rf"(?:chrome-extension://[a-p]{{32}}|moz-extension://{_UUID}|safari-web-extension://{_UUID})")
ORIGIN_FORMS = "chrome-extension://<32 letters a-p>, moz-extension://<UUID> or safari-web-extension://<UUID>"


def is_extension_origin(origin: str) -> bool:
    """Whether ``origin`` is a well-formed browser-extension origin (the only kind that can pair)."""
    return bool(_EXTENSION_ORIGIN.fullmatch(normalize_origin(origin)))


class OriginPolicy:
    """The allowed origins. The paired ones live in a 0600 JSON file in the data dir, read
    again whenever it changes, so `shade token --unpair` takes effect in a running daemon."""

    def __init__(self, data_dir: Path, configured: Iterable[str] = ()):
        self._file = data_dir / FILE_NAME
        self._lock = threading.Lock()
        self._fixed = {normalize_origin(o) for o in configured} | {normalize_origin(CHROME_ORIGIN)}
        self._signature: object = None
        self._paired: set[str] = set()
        self._refresh()

    def _stat(self) -> object:
        try:
            st = self._file.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _read(self) -> list[str]:
        try:
            data = json.loads(self._file.read_text(encoding="utf-8"))
            return [normalize_origin(o) for o in data.get("origins", [])
                    if isinstance(o, str) and is_extension_origin(o)]
        except (OSError, ValueError, AttributeError):
            return []

    def _refresh(self) -> None:
        sig = self._stat()
        if sig != self._signature:
            with self._lock:
                self._signature, self._paired = sig, set(self._read())

    def _write(self, origins: set[str]) -> None:
        self._file.parent.mkdir(parents=True, exist_ok=True)
        write_private(self._file, json.dumps({"origins": sorted(origins)}, indent=2) + "\n")
        self._paired, self._signature = set(origins), self._stat()

    def is_allowed(self, origin: str) -> bool:
        o = normalize_origin(origin)
        if o in self._fixed:
            return True
        self._refresh()
        return o in self._paired

    def paired(self) -> list[str]:
        self._refresh()
        return sorted(self._paired)

    def record(self, origin: str) -> str:
        """Remember a paired extension origin; returns it normalized."""
        o = normalize_origin(origin)
        if not is_extension_origin(o):
            raise ValueError(f"not an extension origin: {origin!r} (expected {ORIGIN_FORMS})")
        with self._lock:
            current = set(self._read())
            if o not in current or o not in self._paired:
                self._write(current | {o})
        return o

    def remove(self, origin: str) -> list[str]:
        """Forget a paired origin (``all``: every one); returns the ones removed."""
        with self._lock:
            current = set(self._read())
            gone = sorted(current) if origin == "all" else sorted(current & {normalize_origin(origin)})
            if gone:
                self._write(current - set(gone))
        return gone
