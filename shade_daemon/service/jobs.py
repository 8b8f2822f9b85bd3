"""Job operations shared by the HTTP API and the watched folder: create, describe,
cancel, pause/resume, status, retention."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
import time
from pathlib import Path, PurePath
from typing import Any, Optional
from urllib.parse import unquote

from shading import FORMATS, ImageFacts, choices, format_extension

from .. import __version__
from ..config import Paths, Settings
from ..private import PRIVATE_DIR, open_private
from . import telling
from .core import OPTION_FIELDS, Core
from .errors import (
    Busy,
    NotFound,
    StorageError,
    display_folder,  # noqa: F401 - where callers find it
    storage_error,
)
from .events import EventHub
from .store import DONE, QUEUED, RUNNING, Job, JobStore
from .worker import ShadingWorker

log = logging.getLogger("shade.daemon")

MIN_FREE_BYTES = 1 << 20       # below this, health says the disk is full (a job needs more anyway)
CONTENT_TYPES = {fmt: content_type for fmt, (content_type, _) in FORMATS.items()}


def safe_filename(name: Optional[str], fallback: str = "image") -> str:
    """A bare file name (no folders, no control characters), at most 200 characters."""
    name = unquote(name or "")   # clients percent-encode quotes, newlines (HTML spec) or everything (aiohttp)
    base = PurePath(name.replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '/\\:*?"<>|').strip(" .")
    return (base or fallback)[:200]


def copy_private(src: Path, dest: Path) -> None:
    """Copy a user's file into Shade's data as a new 0600 file, never through a symbolic link."""
    fd_in = os.open(src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd_in, "rb") as fin, open_private(dest) as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)


def result_filename(filename: str, fmt: str) -> str:
    """Same name as the upload; the extension follows the result's format when it differs."""
    p = PurePath(filename)
    if fmt in FORMATS and p.suffix.lower() in FORMATS[fmt][1]:
        return filename
    return f"{p.stem or 'image'}{format_extension(fmt)}"


class JobService:
    def __init__(self, settings: Settings, paths: Paths, store: JobStore):
        self.settings = settings
        self.paths = paths
        self.store = store
        self.hub = EventHub(self.job_view)
        store.on_change = self.hub.job_state      # every state change reaches the listeners
        self.core = Core(settings)
        self.worker = ShadingWorker(store, settings, self.hub, self.core)
        self.watched_folders: list[str] = []
        self.started_at = time.time()

    # --- views ---------------------------------------------------------------------------
    def job_view(self, job: Job) -> dict[str, Any]:
        step, total, stage, eta = job.step, job.total, job.stage, None
        cur = self.worker.current()
        if job.status == RUNNING and cur is not None and cur.job_id == job.id:
            step, total, stage, eta = cur.step, cur.total, cur.stage, cur.eta
        view: dict[str, Any] = {
            "id": job.id,
            "status": job.status,
            "source": job.source,
            "filename": job.filename,
            "options": job.options,
            "progress": 1.0 if job.status == DONE else (round(step / total, 4) if total else 0.0),
            "step": step,
            "total": total,
            "stage": stage,
            "created_at": job.created_at,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
            "measurements": job.measurements,
            "error": {"code": job.error_code, "message": job.error_message} if job.error_code else None,
            "result_url": f"/v1/jobs/{job.id}/result" if job.status == DONE else None,
        }
        if job.status == DONE and job.result_format:
            view["result_filename"] = result_filename(job.filename, job.result_format)
            view["result_content_type"] = CONTENT_TYPES.get(job.result_format, "application/octet-stream")
        if job.status == QUEUED:
            view["queue_position"] = self.store.queue_position(job)
            eta = self.worker.clock.wait(view["queue_position"] - 1, cur.eta if cur else None)
        view.update(telling.job_words(job.status, stage, step, total, eta, view.get("queue_position"),
                                      job.measurements))
        return view

    def get(self, job_id: str) -> Job:
        job = self.store.get(job_id) if job_id.isalnum() else None
        if job is None:
            raise NotFound(f"no job {job_id!r}; finished jobs are kept for "
                           f"{self.settings.result_retention_hours:g} hours", code="job_not_found")
        return job

    def status(self) -> dict[str, Any]:
        cur = self.worker.current()
        return {
            "version": __version__,
            "paused": self.worker.paused,
            "queue_length": self.store.count(QUEUED),
            "current_job": None if cur is None else {
                "id": cur.job_id, "filename": cur.filename, "step": cur.step, "total": cur.total, "stage": cur.stage,
                "progress": round(cur.step / cur.total, 4) if cur.total else 0.0,
                "words": telling.stage_words(cur.stage, cur.step, cur.total), "eta_words": telling.eta_words(cur.eta)},
            "device": self.worker.model_state.get("device"),
            "models": dict(self.worker.model_state),
            "watched_folders": [display_folder(Path(f)) for f in self.watched_folders],
            **self.core.library_status(),      # targets, styles, the modes that can work
            "defaults": {"mode": self.settings.mode, "target": self.settings.target, "style": self.settings.style,
                         "intensity": self.settings.intensity, "quality": self.settings.quality},
            "limits": {"max_upload_mb": self.settings.max_upload_mb, "max_pixels": self.settings.max_pixels},
            # The choices a job may name (the core's vocabulary): the extension builds its menus from them.
            "choices": {name: values for name, values in choices().items() if name in OPTION_FIELDS},
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "last_error": self.worker.last_error,
        }

    # --- the worker's health ------------------------------------------------------------------
    def worker_problem(self) -> Optional[str]:
        """Why the worker cannot shade now (dead, or stuck in a job), or None when it is well."""
        worker = self.worker
        if not worker.alive():
            return "the shading worker is not running"
        quiet = time.monotonic() - worker.beat
        if worker.current() is not None and quiet > self.settings.worker_stuck_seconds:
            return f"the shading worker has shown no progress for {quiet:.0f} s"
        return None

    def disk_problem(self) -> Optional[str]:
        """Whether Shade's data folder has too little room to take a job."""
        try:
            free = shutil.disk_usage(self.store.root).free
        except OSError:
            return None
        if free < MIN_FREE_BYTES:
            return "not enough disk space in Shade's data folder; free some space"
        return None

    def health(self) -> dict[str, Any]:
        """What /v1/health says (no token needed, so nothing about the user's files): ok only
        while the worker can shade and the data folder has room, with the problem in words."""
        problem = self.worker_problem() or self.disk_problem()
        return {"ok": problem is None, "version": __version__, "problem": problem,
                "worker": {"alive": self.worker.alive(), "restarts": self.worker.restarts}}

    def supervise(self) -> None:
        """Restart a dead or stuck worker (the supervisor calls this every second)."""
        problem = self.worker_problem()
        if problem is not None:
            self.worker.restart(problem.replace("the shading worker ", "").replace("has shown", "showed"))

    # --- creating ------------------------------------------------------------------------
    def check_capacity(self) -> None:
        if self.store.count(QUEUED) >= self.settings.max_queued_jobs:
            raise Busy(f"{self.settings.max_queued_jobs} jobs are already waiting (setting max_queued_jobs); "
                       "retry when some have finished", retry_after=30)

    def create(self, *, source: str, filename: str, image: Path, facts: ImageFacts, options: dict[str, Any],
               anchor: Optional[tuple[Path, ImageFacts]] = None, style: Optional[tuple[Path, ImageFacts]] = None,
               folder: Optional[dict[str, Any]] = None, copy: bool = False) -> Job:
        """Move (or copy) the checked files into a new job's folder and queue it."""
        job_id = self.store.new_job_id()
        jdir = self.store.job_dir(job_id)
        place = copy_private if copy else os.replace
        try:
            jdir.mkdir(parents=True, mode=PRIVATE_DIR)
            input_file = f"input{facts.extension}"
            place(image, jdir / input_file)
            anchor_file = style_file = None
            if anchor is not None:
                anchor_file = f"anchor{anchor[1].extension}"
                place(anchor[0], jdir / anchor_file)
            if style is not None:
                style_file = f"style{style[1].extension}"
                place(style[0], jdir / style_file)
            job = self.store.add(job_id, source=source, filename=filename, options=options, input_file=input_file,
                                 anchor_file=anchor_file, style_file=style_file, folder=folder)
        except BaseException as exc:
            shutil.rmtree(jdir, ignore_errors=True)       # nothing half-made stays behind
            if isinstance(exc, (OSError, sqlite3.OperationalError)) and not isinstance(exc, StorageError):
                raise storage_error(exc if isinstance(exc, OSError) else OSError(errno.ENOSPC, str(exc)),
                                    "Shade's data folder") from exc
            raise
        self.worker.wake()
        log.info("job %s queued (%s, from %s)", job_id, filename, source)
        return job

    # --- control ---------------------------------------------------------------------------
    async def cancel(self, job_id: str, wait: float = 5.0) -> Job:
        """Cancel a queued job at once, or ask the running one to stop and wait (at most
        ``wait`` s) for its final state to be published."""
        job = self.get(job_id)
        if job.status == QUEUED:
            cancelled = self.store.cancel_if_queued(job_id)
            if cancelled is not None:
                return cancelled
        if job.status == RUNNING and self.worker.request_cancel(job_id):
            await self.hub.wait_final(job_id, lambda: self.get(job_id).finished, wait)
        return self.get(job_id)

    def prune(self) -> list[str]:
        cutoff = time.time() - self.settings.result_retention_hours * 3600
        removed = self.store.prune(cutoff)
        if removed:
            log.info("pruned %d finished job(s) older than %g h", len(removed), self.settings.result_retention_hours)
        for leftover in self.store.incoming_dir.iterdir():  # uploads cut off by a crash
            if leftover.stat().st_mtime < time.time() - 3600:
                leftover.unlink(missing_ok=True)
        return removed
