"""The batch's manifest: one JSON line per image shaded or refused, appended (and synced) as
each result arrives, so a run cut short anywhere leaves a true record, and running the same
command again skips what is done and retries what failed."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

from ..service.store import DONE, FAILED  # a row's status, in the daemon's job vocabulary

MANIFEST_NAME = "shade-manifest.jsonl"

__all__ = ["DONE", "FAILED", "MANIFEST_NAME", "Manifest", "sha256_bytes"]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Manifest:
    """``path``'s rows, read once; ``append`` adds one."""

    path: Path
    rows: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def open(cls, out_dir: Path) -> "Manifest":
        path = Path(out_dir) / MANIFEST_NAME
        manifest = cls(path)
        if path.exists():
            manifest.rows = list(_read_rows(path))
        return manifest

    def done_for(self, source: Path, digest: str) -> Optional[dict[str, Any]]:
        """The row that shaded this very file (same path and same bytes) before, if any."""
        key = str(Path(source).resolve())
        for row in self.rows:
            if row.get("status") == DONE and row.get("input") == key and row.get("input_sha256") == digest:
                return row
        return None

    def append(self, row: dict[str, Any]) -> dict[str, Any]:
        row = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **row}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One write of one line in append mode, then fsync: a crash leaves whole rows only
        # (a torn last line is skipped when read back).
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.rows.append(row)
        return row


def _read_rows(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except ValueError:
                continue            # a line torn by a crash: that image is simply shaded again
            if isinstance(row, dict):
                yield row
