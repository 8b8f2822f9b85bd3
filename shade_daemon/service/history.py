"""The history: a lasting record of what was shaded, and of the audits of posted copies.

Two tables in the job store's SQLite database (``jobs.sqlite3``, its own connection):
``history`` (one row per finished job: when, the name, target and settings, where the
result and the original went, the figures, a thumbnail and the perceptual fingerprints
that audits match posted copies against) and ``audits``. Jobs are pruned after
``result_retention_hours``; their history rows stay until the user clears them. Nothing
here keeps a copy of an original: the row only remembers where the user's folder kept it.
"""

from __future__ import annotations

import io
import json
import logging
import queue
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import shading

from .errors import display_folder
from .store import DONE, Job, JobStore, finite
from .telling import verdict_view

log = logging.getLogger("shade.daemon")

THUMB_SIDE = 192

_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    id TEXT PRIMARY KEY,
    shaded_at REAL NOT NULL,
    filename TEXT NOT NULL,
    source TEXT NOT NULL,
    options TEXT NOT NULL,
    measurements TEXT,
    result_path TEXT,
    original_path TEXT,
    fingerprints TEXT NOT NULL,
    thumbnail BLOB
);
CREATE INDEX IF NOT EXISTS history_time ON history(shaded_at);
CREATE TABLE IF NOT EXISTS audits (
    id TEXT PRIMARY KEY,
    entry_id TEXT,
    created_at REAL NOT NULL,
    filename TEXT NOT NULL,
    report TEXT NOT NULL,
    thumbnail BLOB
);
CREATE INDEX IF NOT EXISTS audits_entry ON audits(entry_id, created_at);
CREATE TABLE IF NOT EXISTS history_meta (key TEXT PRIMARY KEY, value REAL NOT NULL);
"""


@dataclass
class Entry:
    id: str
    shaded_at: float
    filename: str
    source: str
    options: dict[str, Any]
    measurements: dict[str, Any]
    result_path: Optional[str]
    original_path: Optional[str]
    fingerprints: list[dict[str, str]]

    def view(self) -> dict[str, Any]:
        """What the API shows: no absolute server paths (folders as the user knows them)."""
        m = self.measurements
        return {
            "id": self.id, "shaded_at": self.shaded_at, "filename": self.filename, "source": self.source,
            "options": self.options, "target": m.get("target"), "mode": m.get("mode") or self.options.get("mode"),
            "measurements": m, "verdict": verdict_view(m),
            "result": _shown(self.result_path), "original": _shown(self.original_path),
            "thumbnail_url": f"/v1/history/{self.id}/thumbnail",
        }


def _shown(path: Optional[str]) -> Optional[str]:
    if not path:
        return None
    p = Path(path)
    return f"{display_folder(p.parent)}/{p.name}"


def thumbnail(picture: Any, side: int = THUMB_SIDE) -> bytes:
    """A small JPEG of an image (PIL, or H x W x 3 uint8), longest side ``side``."""
    from PIL import Image

    img = picture.copy() if isinstance(picture, Image.Image) else Image.fromarray(picture)
    img.thumbnail((side, side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


class History:
    def __init__(self, store: JobStore) -> None:
        self.store = store
        self._lock = threading.RLock()        # guards _closed and the recorder's start
        with store.connection() as db:
            db.executescript(_SCHEMA)
        self._closed = False
        self._pending: queue.SimpleQueue = queue.SimpleQueue()
        self._recorder: Optional[threading.Thread] = None

    def close(self) -> None:
        self._pending.put(None)
        with self._lock:
            self._closed = True

    def record_later(self, job: Job) -> None:
        """The finished-job listener (the worker's thread): queue the job for the history's own
        thread, so reading its files and hashing them never holds up the next job."""
        if job.status != DONE:
            return
        with self._lock:
            if self._closed:
                return
            if self._recorder is None:
                self._recorder = threading.Thread(target=self._drain, name="shade-history", daemon=True)
                self._recorder.start()
        self._pending.put(job)

    def _drain(self) -> None:
        while (job := self._pending.get()) is not None:
            try:
                self.record(job)
            except Exception:  # noqa: BLE001 - the next read's catch-up records it again
                log.exception("could not add job %s to the history", job.id)

    # --- recording ---------------------------------------------------------------------------
    def record(self, job: Job) -> Optional[Entry]:
        """Add a finished job (done ones only; any thread). Reads its files once for the
        thumbnail and the fingerprints; a job whose files are gone is skipped."""
        if job.status != DONE or self.get(job.id) is not None:
            return None
        jdir = self.store.job_dir(job.id)
        try:
            # Small copies only: a 50 MP job must not cost the daemon two more full-size images.
            original = shading.small_copy(jdir / job.input_file)
            shaded = shading.small_copy(jdir / (job.result_file or ""))
        except Exception:  # noqa: BLE001 - a pruned or broken job is simply not recorded
            log.warning("job %s: its files cannot be read; not added to the history", job.id, exc_info=True)
            return None
        prints = [shading.fingerprint_image(original).to_dict(), shading.fingerprint_image(shaded).to_dict()]
        meta = job.folder or {}
        with self._lock, self.store.connection() as db:
            if self._closed:            # the daemon is stopping; the next start's backfill adds it
                return None
            db.execute(
                "INSERT OR IGNORE INTO history (id, shaded_at, filename, source, options, measurements, result_path,"
                " original_path, fingerprints, thumbnail) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (job.id, job.finished_at or time.time(), job.filename, job.source, json.dumps(job.options),
                 json.dumps(job.measurements or {}), meta.get("ready"), meta.get("moved_to"), json.dumps(prints),
                 thumbnail(shaded)))
        return self.get(job.id)

    def backfill(self, recent: Optional[int] = None) -> int:
        """Record the done jobs the store still has that the history lacks: all of them at
        start, the ``recent`` newest before a read (a job's listener may still be at work)."""
        with self._lock, self.store.connection() as db:
            known = {row[0] for row in db.execute("SELECT id FROM history")}
            row = db.execute("SELECT value FROM history_meta WHERE key = 'cleared_at'").fetchone()
        cleared_at = row[0] if row else 0.0        # what the user cleared stays forgotten
        added = 0
        for job in (self.store.all_jobs() if recent is None else self.store.latest(recent)):
            if job.status == DONE and job.id not in known and (job.finished_at or 0) > cleared_at \
                    and self.record(job) is not None:
                added += 1
        return added

    def _refresh_paths(self, entry: Entry) -> Entry:
        """Where the watched folder put the result and the original, once it has."""
        if entry.source != "folder" or (entry.result_path and entry.original_path):
            return entry
        job = self.store.get(entry.id)
        meta = (job.folder or {}) if job else {}
        result, original = meta.get("ready") or entry.result_path, meta.get("moved_to") or entry.original_path
        if (result, original) != (entry.result_path, entry.original_path):
            with self._lock, self.store.connection() as db:
                db.execute("UPDATE history SET result_path = ?, original_path = ? WHERE id = ?",
                                 (result, original, entry.id))
            entry.result_path, entry.original_path = result, original
        return entry

    # --- reading -------------------------------------------------------------------------------
    @staticmethod
    def _entry(row: sqlite3.Row) -> Entry:
        return Entry(row["id"], row["shaded_at"], row["filename"], row["source"], json.loads(row["options"]),
                     json.loads(row["measurements"] or "{}"), row["result_path"], row["original_path"],
                     json.loads(row["fingerprints"]))

    def get(self, entry_id: str) -> Optional[Entry]:
        with self._lock, self.store.connection() as db:
            row = db.execute("SELECT * FROM history WHERE id = ?", (entry_id,)).fetchone()
        return self._refresh_paths(self._entry(row)) if row else None

    def search(self, query: str = "", limit: int = 200) -> list[Entry]:
        """Newest first; ``query`` matches the file name (case-insensitive substring)."""
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._lock, self.store.connection() as db:
            rows = db.execute("SELECT * FROM history WHERE filename LIKE ? ESCAPE '\\' ORDER BY shaded_at DESC"
                                    " LIMIT ?", (pattern, int(limit))).fetchall()
        return [self._refresh_paths(self._entry(r)) for r in rows]

    def candidates(self) -> list[tuple[str, list[dict[str, str]]]]:
        """(entry id, fingerprints) of every entry: what an audit matches against."""
        with self._lock, self.store.connection() as db:
            rows = db.execute("SELECT id, fingerprints FROM history").fetchall()
        return [(r[0], json.loads(r[1])) for r in rows]

    def thumbnail_of(self, entry_id: str) -> Optional[bytes]:
        with self._lock, self.store.connection() as db:
            row = db.execute("SELECT thumbnail FROM history WHERE id = ?", (entry_id,)).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def clear(self) -> dict[str, int]:
        """Forget every entry and audit (the files stay where they are)."""
        with self._lock, self.store.connection() as db:
            entries = db.execute("DELETE FROM history").rowcount
            audits = db.execute("DELETE FROM audits").rowcount
            db.execute("INSERT OR REPLACE INTO history_meta (key, value) VALUES ('cleared_at', ?)",
                             (time.time(),))
        return {"entries": entries, "audits": audits}

    # --- audits --------------------------------------------------------------------------------
    def add_audit(self, entry_id: Optional[str], filename: str, report: dict[str, Any], thumb: Optional[bytes]) -> str:
        audit_id = uuid.uuid4().hex
        with self._lock, self.store.connection() as db:
            db.execute("INSERT INTO audits (id, entry_id, created_at, filename, report, thumbnail)"
                             " VALUES (?,?,?,?,?,?)",
                             (audit_id, entry_id, time.time(), filename, json.dumps(finite(report), allow_nan=False), thumb))
        return audit_id

    def audits(self, entry_id: Optional[str] = None, limit: int = 100) -> list[dict[str, Any]]:
        sql, args = "SELECT id, entry_id, created_at, filename, report FROM audits", ()
        if entry_id is not None:
            sql, args = sql + " WHERE entry_id = ?", (entry_id,)
        with self._lock, self.store.connection() as db:
            rows = db.execute(sql + " ORDER BY created_at DESC LIMIT ?", (*args, int(limit))).fetchall()
        return [self._audit_view(r) for r in rows]

    def audit(self, audit_id: str) -> Optional[dict[str, Any]]:
        with self._lock, self.store.connection() as db:
            row = db.execute("SELECT id, entry_id, created_at, filename, report FROM audits WHERE id = ?",
                                   (audit_id,)).fetchone()
        return self._audit_view(row) if row else None

    def audit_thumbnail(self, audit_id: str) -> Optional[bytes]:
        with self._lock, self.store.connection() as db:
            row = db.execute("SELECT thumbnail FROM audits WHERE id = ?", (audit_id,)).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    @staticmethod
    def _audit_view(row: sqlite3.Row) -> dict[str, Any]:
        return {"id": row["id"], "entry_id": row["entry_id"], "created_at": row["created_at"],
                "filename": row["filename"], **json.loads(row["report"]),
                "thumbnail_url": f"/v1/audits/{row['id']}/thumbnail"}
