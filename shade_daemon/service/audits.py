"""Audits of posted copies: how much protection the copy a platform serves still carries.

Without an explicit pair the copy is matched to a history entry by perceptual hash. The
original's pixels come from the explicit file, else the job's folder while it is kept,
else the place the watched folder moved the original to. Every audit runs, whole, on the
audit threads (``max_audits`` of them, apart from the default pool that uploads use), so
a burst of audits waits its turn and never holds up an upload or the shading worker.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Optional

from .core import Core, fingerprint_of, load_rgb, match
from .errors import Conflict, NotFound
from .history import History, thumbnail
from .store import JobStore

CATCH_UP = 20       # before a read: the newest jobs that may have ended a moment ago
OVERRIDES = ("mode", "target", "style")


class AuditService:
    def __init__(self, store: JobStore, history: History, core: Core, executor: Executor) -> None:
        self.store = store
        self.history = history
        self.core = core
        self.executor = executor

    async def audit(self, posted: Path, name: str, *, original: Optional[Path] = None,
                    entry_id: Optional[str] = None, overrides: Optional[dict[str, str]] = None) -> dict[str, Any]:
        """Measure ``posted`` (a checked image file) and record the audit; returns it as the API shows it."""
        loop = asyncio.get_running_loop()
        audit_id = await loop.run_in_executor(self.executor, self._run, posted, name, original, entry_id,
                                              dict(overrides or {}))
        found = self.history.audit(audit_id)
        assert found is not None
        return found

    def _original_of(self, entry_id: str) -> tuple[Optional[Path], Optional[Path], Optional[Path]]:
        """(original, anchor image, style image) files still kept for a history entry."""
        job = self.store.get(entry_id)
        if job is not None:
            kept = self.store.path_of(job, job.input_file)
            if kept is not None and kept.is_file():
                return kept, self.store.path_of(job, job.anchor_file), self.store.path_of(job, job.style_file)
        entry = self.history.get(entry_id)
        moved = Path(entry.original_path) if entry and entry.original_path else None
        return (moved if moved is not None and moved.is_file() else None), None, None

    def _run(self, posted: Path, name: str, original: Optional[Path], entry_id: Optional[str],
             overrides: dict[str, str]) -> str:
        posted_rgb = load_rgb(posted)
        matched: Optional[dict[str, Any]] = None
        if entry_id is None and original is None:
            self.history.backfill(CATCH_UP)
            matched = match(fingerprint_of(posted_rgb), self.history.candidates())
            if matched is None:
                raise NotFound("no image in the history matches this copy; drop the original too (an explicit "
                               "pair), or check that it was shaded on this computer", code="no_match")
            entry_id = matched["entry_id"]
        entry = self.history.get(entry_id) if entry_id else None
        if entry_id and entry is None:
            raise NotFound("no such history entry (it may have been cleared)", code="entry_not_found")
        anchor = style = None
        if original is None:
            assert entry is not None and entry_id is not None
            original, anchor, style = self._original_of(entry_id)
            if original is None:
                raise Conflict(f"the original of {entry.filename} is no longer kept (its job was pruned and the "
                               "watched folder did not keep it); drop the original too, as an explicit pair",
                               code="original_not_kept")
        options = dict(entry.options) if entry else {}
        options.update({k: v for k, v in overrides.items() if k in OVERRIDES and v})
        report = self.core.audit(posted, load_rgb(original), options, entry.measurements if entry else {},
                                 anchor=anchor if anchor and anchor.is_file() else None,
                                 style=style if style and style.is_file() else None)
        report["match"] = matched or {"how": "explicit pair"}
        report["entry_filename"] = entry.filename if entry else None
        return self.history.add_audit(entry_id, name, report, thumbnail(posted_rgb))
