"""Which browser origins may talk to the daemon: the configured ones, the pinned Chrome
extension origin, and extension origins recorded at pairing (persisted in the data dir)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Iterable

from ..extension_ids import CHROME_ORIGIN

EXTENSION_SCHEMES = ("chrome-extension", "moz-extension", "safari-web-extension")
FILE_NAME = "paired-origins.json"


def normalize_origin(origin: str) -> str:
    """Lower-case scheme://host[:port] without a trailing slash."""
    origin = origin.strip().rstrip("/")
    scheme, sep, rest = origin.partition("://")
    return f"{scheme.lower()}{sep}{rest.lower()}" if sep else origin.lower()


def is_extension_origin(origin: str) -> bool:
    scheme, sep, rest = normalize_origin(origin).partition("://")
    return bool(sep) and scheme in EXTENSION_SCHEMES and bool(rest) and "/" not in rest


class OriginPolicy:
    def __init__(self, data_dir: Path, configured: Iterable[str] = ()):
        self._file = data_dir / FILE_NAME
        self._lock = threading.Lock()
        self._fixed = {normalize_origin(o) for o in configured} | {normalize_origin(CHROME_ORIGIN)}
        self._paired = set(self._read())

    def _read(self) -> list[str]:
        try:
            data = json.loads(self._file.read_text(encoding="utf-8"))
            return [normalize_origin(o) for o in data.get("origins", []) if isinstance(o, str)]
        except (OSError, ValueError, AttributeError):
            return []

    def is_allowed(self, origin: str) -> bool:
        o = normalize_origin(origin)
        return o in self._fixed or o in self._paired

    def paired(self) -> list[str]:
        return sorted(self._paired)

    def record(self, origin: str) -> str:
        """Remember a paired extension origin; returns it normalized."""
        o = normalize_origin(origin)
        with self._lock:
            if o not in self._paired:
                self._paired.add(o)
                self._file.parent.mkdir(parents=True, exist_ok=True)
                tmp = self._file.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
                tmp.write_text(json.dumps({"origins": sorted(self._paired)}, indent=2) + "\n", encoding="utf-8")
                os.replace(tmp, self._file)
        return o
