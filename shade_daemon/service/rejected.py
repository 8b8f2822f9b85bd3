"""The files the watched folder set aside in rejected/, each with the reason written beside it
(NAME.txt), as the dashboard's queue and history list them: a file that was not shaded never
goes unmentioned."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .folder import FolderLayout

MOST = 200          # the newest rejections listed


def rejected_files(watch_folder: Path) -> list[dict[str, Any]]:
    """[{name, folder, reason, rejected_at}], newest first; empty when nothing was rejected."""
    root = FolderLayout.beside(watch_folder).rejected
    if not root.is_dir():
        return []
    found: list[dict[str, Any]] = []
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            if name.endswith(".txt") or name.startswith("."):
                continue
            path = Path(dirpath) / name
            note = path.with_name(f"{name}.txt")
            try:
                reason = note.read_text(encoding="utf-8", errors="replace").strip() if note.is_file() else ""
                when = path.lstat().st_mtime
            except OSError:
                continue
            rel = path.relative_to(root)
            # The note starts "<relative name>: "; the name is shown on its own.
            prefix = f"{rel.as_posix()}: "
            found.append({"name": rel.as_posix(), "reason": reason[len(prefix):] if reason.startswith(prefix) else reason
                          or "not an image Shade can shade", "rejected_at": when})
    found.sort(key=lambda r: r["rejected_at"], reverse=True)
    return found[:MOST]
