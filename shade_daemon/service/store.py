"""The job store: SQLite (WAL) in the data dir, each job's files in ``jobs/<id>/``.

States: queued -> running -> done | failed | cancelled; a running job goes back to
queued on a graceful stop and, after a crash, when the store opens again.
One connection shared by the event loop, the worker thread and the history (its tables
live in the same file; it reaches them through ``connection()``), guarded by a lock;
every call is a short local transaction.

Every state change is one call here: it writes the row and then tells ``on_change`` (the
event hub), so no caller can change a job without its listeners hearing of it.
A database that SQLite cannot read at start-up is set aside, with the job folders it
described, and a fresh one is made (``set_aside``): the daemon starts, and the log says
what happened and what to do.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from ..private import PRIVATE_FILE, private_dir, restrict

log = logging.getLogger("shade.daemon")

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINAL_STATES = (DONE, FAILED, CANCELLED)
MAX_CRASHES = 3
CHECKPOINT_FILE = "checkpoint.pt"            # the optimizer's state while the job is unfinished (resume.py)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    filename TEXT NOT NULL,
    options TEXT NOT NULL,
    input_file TEXT NOT NULL,
    anchor_file TEXT,
    style_file TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    step INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    stage TEXT,
    measurements TEXT,
    error_code TEXT,
    error_message TEXT,
    result_file TEXT,
    result_format TEXT,
    folder TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, seq);
"""


@dataclass
class Job:
    seq: int
    id: str
    status: str
    source: str
    filename: str
    options: dict[str, Any]
    input_file: str
    anchor_file: Optional[str]
    style_file: Optional[str]
    created_at: float
    started_at: Optional[float]
    finished_at: Optional[float]
    attempts: int
    step: int
    total: int
    stage: Optional[str]
    measurements: Optional[dict[str, Any]]
    error_code: Optional[str]
    error_message: Optional[str]
    result_file: Optional[str]
    result_format: Optional[str]
    folder: Optional[dict[str, Any]] = field(default=None)

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATES


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None: the API's JSON must parse in browsers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def _row_to_job(row: sqlite3.Row) -> Job:
    d = dict(row)
    for key in ("options", "measurements", "folder"):
        d[key] = json.loads(d[key]) if d[key] else ({} if key == "options" else None)
    return Job(**d)


DB_FILE = "jobs.sqlite3"
_DB_SIDE_FILES = ("-wal", "-shm")


def _open_db(db_path: Path) -> sqlite3.Connection:
    """Open (creating) the database and check that SQLite can read it; raises
    ``sqlite3.DatabaseError`` for a damaged file."""
    # SQLite gives its -wal and -shm files the database file's permissions.
    os.close(os.open(db_path, os.O_CREAT | os.O_RDWR, PRIVATE_FILE))
    for p in (db_path, *(db_path.with_name(db_path.name + s) for s in _DB_SIDE_FILES)):
        if p.exists():
            restrict(p)
    db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None, timeout=30)
    try:
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("the integrity check failed")
    except BaseException:
        db.close()
        raise
    return db


def set_aside(data_dir: Path, why: BaseException) -> Path:
    """Move a damaged database (and the job folders it described) out of the way, under a
    name with the time, and say so in the log; returns where it went."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = private_dir(data_dir / f"damaged-{stamp}")
    db_path = data_dir / DB_FILE
    for p in (db_path, *(db_path.with_name(db_path.name + s) for s in _DB_SIDE_FILES)):
        if p.exists():
            os.replace(p, aside / p.name)
    if (data_dir / "jobs").is_dir():
        os.replace(data_dir / "jobs", aside / "jobs")
    log.error("Shade's job database %s could not be read (%s); it was set aside in %s with the job folders it "
              "described, and an empty queue was started. Jobs queued before are not resumed: images in the "
              "to-post folder are picked up again, images sent from the browser must be sent again. The history of "
              "earlier jobs is in the set-aside database; delete that folder once you no longer need it.",
              db_path, why, aside)
    return aside


class JobStore:
    def __init__(self, data_dir: Path):
        self.root = data_dir
        private_dir(data_dir)
        self._lock = threading.RLock()
        self.on_change: Callable[[Job], None] = lambda job: None     # the event hub, once it exists
        self.set_aside_to: Optional[Path] = None
        try:
            self._db = _open_db(data_dir / DB_FILE)
        except sqlite3.DatabaseError as exc:
            self.set_aside_to = set_aside(data_dir, exc)
            self._db = _open_db(data_dir / DB_FILE)
        self.jobs_dir = private_dir(data_dir / "jobs")
        self.incoming_dir = private_dir(data_dir / "incoming")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The store's connection, held for one short transaction: for the tables that live
        beside the jobs in the same file (the history's)."""
        with self._lock:
            yield self._db

    def _changed(self, job: Optional[Job]) -> Optional[Job]:
        if job is not None:
            self.on_change(job)
        return job

    # --- helpers -------------------------------------------------------------------------
    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    def path_of(self, job: Job, name: Optional[str]) -> Optional[Path]:
        return self.job_dir(job.id) / name if name else None

    def checkpoint_path(self, job_id: str) -> Path:
        return self.job_dir(job_id) / CHECKPOINT_FILE

    def _drop_checkpoint(self, job_id: str) -> None:
        """A job that ended keeps no optimizer state (it would only be unposted art's traces)."""
        try:
            self.checkpoint_path(job_id).unlink(missing_ok=True)
        except OSError:
            log.warning("could not remove the checkpoint of job %s", job_id, exc_info=True)

    def _one(self, sql: str, args: tuple = ()) -> Optional[Job]:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return _row_to_job(row) if row else None

    # --- creating and reading ----------------------------------------------------------
    def new_job_id(self) -> str:
        return uuid.uuid4().hex

    def add(self, job_id: str, *, source: str, filename: str, options: dict[str, Any], input_file: str,
            anchor_file: str | None = None, style_file: str | None = None,
            folder: dict[str, Any] | None = None) -> Job:
        """Insert a queued job whose files are already in ``job_dir(job_id)``."""
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, status, source, filename, options, input_file, anchor_file, style_file,"
                " created_at, folder) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (job_id, QUEUED, source, filename, json.dumps(options), input_file, anchor_file, style_file,
                 time.time(), json.dumps(folder) if folder else None))
        job = self.get(job_id)
        assert job is not None
        return self._changed(job)

    def get(self, job_id: str) -> Optional[Job]:
        return self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))

    def count(self, status: str) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM jobs WHERE status = ?", (status,)).fetchone()[0])

    def queue_position(self, job: Job) -> int:
        """1-based place among queued jobs."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM jobs WHERE status = ? AND seq <= ?",
                                        (QUEUED, job.seq)).fetchone()[0])

    def _many(self, sql: str, args: tuple = ()) -> list[Job]:
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_row_to_job(r) for r in rows]

    # The store's named queries: no SQL text comes from outside this module.
    def latest(self, limit: int = 100) -> list[Job]:
        """The ``limit`` newest jobs, newest first."""
        return self._many("SELECT * FROM jobs ORDER BY seq DESC LIMIT ?", (int(limit),))

    def all_jobs(self) -> list[Job]:
        """Every job, oldest first."""
        return self._many("SELECT * FROM jobs ORDER BY seq")

    def folder_jobs(self, *, finished: bool) -> list[Job]:
        """Jobs from the watched folder that have ended (``finished``) or not yet, oldest first."""
        states = FINAL_STATES if finished else (QUEUED, RUNNING)
        marks = ",".join("?" * len(states))
        return self._many(f"SELECT * FROM jobs WHERE source = 'folder' AND status IN ({marks}) ORDER BY seq", states)

    def finished_before(self, cutoff: float) -> list[Job]:
        """Jobs that reached a final state before ``cutoff`` (a time.time())."""
        marks = ",".join("?" * len(FINAL_STATES))
        return self._many(f"SELECT * FROM jobs WHERE status IN ({marks}) AND finished_at < ? ORDER BY seq",
                          (*FINAL_STATES, cutoff))

    # --- worker transitions ------------------------------------------------------------
    def claim_next(self) -> Optional[Job]:
        """Atomically move the oldest queued job to running."""
        return self._changed(self._one(
            "UPDATE jobs SET status = ?, started_at = ?, attempts = attempts + 1, step = 0, total = 0, stage = NULL"
            " WHERE seq = (SELECT seq FROM jobs WHERE status = ? ORDER BY seq LIMIT 1) RETURNING *",
            (RUNNING, time.time(), QUEUED)))

    def set_progress(self, job_id: str, step: int, total: int, stage: str) -> None:
        with self._lock:
            self._db.execute("UPDATE jobs SET step = ?, total = ?, stage = ? WHERE id = ? AND status = ?",
                             (step, total, stage, job_id, RUNNING))

    def finish_done(self, job_id: str, result_file: str, result_format: str, measurements: dict[str, Any]) -> Job:
        return self._finish(job_id, DONE, result_file=result_file, result_format=result_format,
                            measurements=json.dumps(finite(measurements), default=str, allow_nan=False))

    def finish_failed(self, job_id: str, code: str, message: str) -> Job:
        return self._finish(job_id, FAILED, error_code=code, error_message=message)

    def fail_after_done(self, job_id: str, code: str, message: str) -> Optional[Job]:
        """A done job whose result could not be delivered (a read-only or full ``ready/``):
        it is failed after all, with the reason."""
        with self._lock:
            cur = self._db.execute("UPDATE jobs SET status = ?, error_code = ?, error_message = ? WHERE id = ? AND "
                                   "status = ?", (FAILED, code, message, job_id, DONE))
            if cur.rowcount != 1:
                return None
        return self._changed(self.get(job_id))

    def finish_cancelled(self, job_id: str) -> Job:
        return self._finish(job_id, CANCELLED, error_code="cancelled", error_message="cancelled by request")

    def _finish(self, job_id: str, status: str, **cols: Any) -> Job:
        sets = ", ".join(f"{k} = ?" for k in cols)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET status = ?, finished_at = ?, {sets} WHERE id = ?",
                             (status, time.time(), *cols.values(), job_id))
        self._drop_checkpoint(job_id)
        job = self.get(job_id)
        assert job is not None
        return self._changed(job)

    def requeue(self, job_id: str) -> Optional[Job]:
        """Put a running job back at its place in the queue (graceful stop). The attempt
        does not count: ``attempts`` counts only runs cut short by a crash."""
        with self._lock:
            self._db.execute("UPDATE jobs SET status = ?, step = 0, total = 0, stage = NULL, started_at = NULL,"
                             " attempts = MAX(attempts - 1, 0) WHERE id = ? AND status = ?", (QUEUED, job_id, RUNNING))
        return self._changed(self.get(job_id))

    def recover(self) -> int:
        """After a crash: jobs left running go back to queued, unless the daemon died
        MAX_CRASHES times while running the same one (then it fails, with its input kept).
        Returns how many were queued again."""
        with self._lock:
            given_up = self._db.execute(
                "UPDATE jobs SET status = ?, finished_at = ?, error_code = 'crashed', error_message = ?"
                " WHERE status = ? AND attempts >= ? RETURNING id",
                (FAILED, time.time(), f"the daemon stopped unexpectedly {MAX_CRASHES} times while shading this "
                 "image; it was given up (see the daemon log)", RUNNING, MAX_CRASHES)).fetchall()
            for (job_id,) in given_up:
                self._drop_checkpoint(job_id)
            cur = self._db.execute("UPDATE jobs SET status = ?, step = 0, total = 0, stage = NULL, started_at = NULL"
                                   " WHERE status = ?", (QUEUED, RUNNING))
            return cur.rowcount

    def clean_leftovers(self) -> int:
        """At start (one daemon per data dir, so nothing is being written): remove what a
        crash left half-made: uploads cut off, job folders whose job was never recorded,
        temporary files in job folders. Returns how many were removed."""
        removed = 0
        for leftover in self.incoming_dir.iterdir():
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
            removed += 1
        with self._lock:
            known = {row[0]: row[1] for row in self._db.execute("SELECT id, status FROM jobs")}
        for jdir in self.jobs_dir.iterdir():
            if jdir.name not in known:
                shutil.rmtree(jdir, ignore_errors=True) if jdir.is_dir() else jdir.unlink(missing_ok=True)
                removed += 1
                continue
            if known[jdir.name] in FINAL_STATES and (jdir / CHECKPOINT_FILE).exists():
                (jdir / CHECKPOINT_FILE).unlink(missing_ok=True)     # the job ended just before a crash
                removed += 1
            for tmp in jdir.glob(".shade-*"):
                tmp.unlink(missing_ok=True)
                removed += 1
        if removed:
            log.info("removed %d file(s) left half-made by an earlier crash", removed)
        return removed

    def cancel_if_queued(self, job_id: str) -> Optional[Job]:
        """The job, cancelled, if it was still queued; None otherwise."""
        with self._lock:
            cur = self._db.execute("UPDATE jobs SET status = ?, finished_at = ?, error_code = 'cancelled',"
                                   " error_message = 'cancelled by request' WHERE id = ? AND status = ?",
                                   (CANCELLED, time.time(), job_id, QUEUED))
            if cur.rowcount != 1:
                return None
        self._drop_checkpoint(job_id)       # a job queued again after a crash may have one
        return self._changed(self.get(job_id))

    def update_folder(self, job_id: str, folder: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("UPDATE jobs SET folder = ? WHERE id = ?", (json.dumps(folder), job_id))

    # --- retention ---------------------------------------------------------------------
    def prune(self, older_than: float, keep: set[str] = frozenset()) -> list[str]:
        """Delete finished jobs (rows and files) that finished before ``older_than``; folder jobs
        are pruned only once delivered. Returns the removed ids."""
        removed = []
        for job in self.finished_before(older_than):
            if job.id in keep or (job.folder and not job.folder.get("delivered")):
                continue
            with self._lock:
                self._db.execute("DELETE FROM jobs WHERE id = ?", (job.id,))
            shutil.rmtree(self.job_dir(job.id), ignore_errors=True)
            removed.append(job.id)
        return removed
