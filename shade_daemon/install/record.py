"""The install record: exactly what ``shade install`` wrote, so ``shade
uninstall`` removes those things and nothing else. A JSON file in the data dir."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__

RECORD_NAME = "install-record.json"
FORMAT = 1


class RecordError(RuntimeError):
    pass


@dataclass
class InstallRecord:
    path: Path
    os: str
    items: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, os_name: str) -> "InstallRecord":
        if not path.exists():
            return cls(path, os_name)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            items = list(data["items"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RecordError(f"{path} is damaged ({exc}); move it aside and run `shade install` again") from None
        return cls(path, data.get("os", os_name), items, dict(data.get("options", {})))

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def find(self, kind: str, ident: str) -> dict[str, Any] | None:
        for item in self.items:
            if item["kind"] == kind and item_id(item) == ident:
                return item
        return None

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "format": FORMAT, "shade_version": __version__, "os": self.os,
            "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "options": self.options, "items": self.items,
        }
        atomic_write(self.path, (json.dumps(data, indent=2) + "\n").encode("utf-8"), 0o644)

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)


def item_id(item: dict[str, Any]) -> str:
    """What identifies an item across installs: its path, registry key or name."""
    if item["kind"] in ("registry", "regkey"):
        return item["key"].lower()
    if item["kind"] == "command":
        return item["what"]
    return item["path"]


def atomic_write(path: Path, content: bytes, mode: int) -> None:
    """Write via a temp file in the same folder and rename, so a crash never
    leaves half a file where the OS or a browser will read it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
