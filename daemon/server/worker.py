"""The single shading worker: one thread that owns the model and runs queued jobs one
after another, off the event loop.

Pause holds the running job at its next step (nothing is lost, the CPU/GPU is freed)
and stops new jobs from starting. Cancel and shutdown stop a job at its next step by
raising the core's ``Cancelled`` from the progress callback. On shutdown the running job
goes back to the queue the moment the stop is asked for (so a kill that follows a SIGTERM
is not counted as a crash of that job), and the daemon waits for the worker at most
``STOP_WAIT`` seconds: some stages of the core (the final render and self-check) do not
report progress, and the thread, a daemon thread, is then simply left to die with the
process; what it would write afterwards is dropped. Each job runs with its own fixed seed
and a checkpoint file (resume.py), so a job queued again after a crash or a stop resumes
from the optimizer's last saved state rather than step 0.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from shading.options import format_extension

from ..config import Settings
from . import shader
from .errors import job_error_fields
from .hub import EventHub
from .resume import FileCheckpoint, job_seed
from .store import QUEUED, Job, JobStore

log = logging.getLogger("shade.daemon")

STOP_WAIT = 1.0          # seconds a stopping daemon waits for the running job to notice
PRIVATE_FILE = 0o600


@dataclass
class Current:
    job_id: str
    filename: str
    step: int = 0
    total: int = 0
    stage: str = "load"


class ShadingWorker:
    def __init__(self, store: JobStore, settings: Settings, hub: EventHub):
        self.store = store
        self.settings = settings
        self.hub = hub
        self._cond = threading.Condition()
        self._stopping = False
        self._detached = False
        self._paused = False
        self._cancel: set[str] = set()
        self._current: Optional[Current] = None
        self._thread: Optional[threading.Thread] = None
        self.model_state: dict[str, Any] = {"state": "loading", "device": None, "encoders": list(settings.encoders),
                                            "error": None}
        self.last_error: Optional[str] = None

    # --- control (any thread) ----------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="shade-worker", daemon=True)
        self._thread.start()

    def begin_stop(self) -> None:
        """The daemon is stopping (any thread, at once on SIGTERM): no new job starts, and
        the running one is back in the queue right now, not counted as a crash."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            cur = self._current
        if cur is not None:
            try:
                self.store.requeue(cur.job_id)
            except Exception:  # noqa: BLE001 - the store may be closing; recovery requeues it anyway
                log.warning("could not put job %s back in the queue", cur.job_id, exc_info=True)

    def stop(self, timeout: float = STOP_WAIT) -> None:
        self.begin_stop()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                with self._cond:
                    self._detached = True     # whatever it finishes now is not recorded
                log.info("the running job is in a stage that cannot stop at once; it stays queued and the "
                         "daemon exits without waiting for it")

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    def request_cancel(self, job_id: str) -> bool:
        """Ask the running job to stop; False when it is not the running one."""
        with self._cond:
            if self._current is None or self._current.job_id != job_id:
                return False
            self._cancel.add(job_id)
            self._cond.notify_all()
            return True

    def current(self) -> Optional[Current]:
        cur = self._current
        return Current(cur.job_id, cur.filename, cur.step, cur.total, cur.stage) if cur else None

    # --- the thread ----------------------------------------------------------------------
    def _preload(self) -> None:
        try:
            info = shader.preload(self.settings)
            self.model_state.update(state="ready", device=info["device"], encoders=info["encoders"], error=None,
                                    code=None)
            log.info("model ready: %s on %s", ", ".join(info["encoders"]), info["device"])
        except Exception as exc:  # noqa: BLE001 - reported in status; jobs will fail with the reason
            code, message = job_error_fields(exc)
            self.model_state.update(state="error", error=message, code=code)
            self.last_error = message
            log.error("could not load the model: %s", message)

    def _run(self) -> None:
        self._preload()
        while True:
            with self._cond:
                while not self._stopping and self._paused:
                    self._cond.wait()
                if self._stopping:
                    return
            if self.model_state["state"] == "error" and self.store.count(QUEUED):
                # Retry the load before a job is claimed (the user may have installed the model
                # meanwhile): a crash while loading is no crash of that job.
                self._preload()
            with self._cond:
                if self._stopping:
                    return
                # Claimed under the lock, so a stop asked for meanwhile sees it as the current job.
                job = self.store.claim_next()
                if job is not None:
                    self._current = Current(job.id, job.filename)
            if job is None:
                with self._cond:
                    if not self._stopping:
                        self._cond.wait(timeout=2.0)
                continue
            self._run_job(job)

    def _progress(self, job: Job) -> Callable[[int, int, str], None]:
        Cancelled = shader.cancelled_error()
        last_write = [0.0]

        def progress(step: int, total: int, stage: str) -> None:
            with self._cond:
                while self._paused and not self._stopping and job.id not in self._cancel:
                    self._cond.wait()
                if self._stopping:
                    raise Cancelled("the daemon is stopping; the job goes back to the queue")
                if job.id in self._cancel:
                    raise Cancelled("cancelled by request")
                cur = self._current
                if cur is not None:
                    cur.step, cur.total, cur.stage = int(step), int(total), str(stage)
            now = time.monotonic()
            if now - last_write[0] > 0.25 or step >= total:
                last_write[0] = now
                self.store.set_progress(job.id, int(step), int(total), str(stage))
            self.hub.job_progress(job.id, int(step), int(total), str(stage))

        return progress

    def _names(self, job: Job) -> list[tuple[Path, str]]:
        """The job's server paths and the names the user knows them by (for messages)."""
        jdir = self.store.job_dir(job.id)
        names = [(jdir / job.input_file, job.filename), (jdir, "the job's folder"),
                 (self.store.root, "Shade's data folder")]
        if job.anchor_file:
            names.append((jdir / job.anchor_file, "the anchor image"))
        if job.style_file:
            names.append((jdir / job.style_file, "the style image"))
        return names

    def _run_job(self, job: Job) -> None:
        Cancelled = shader.cancelled_error()
        self.hub.job_state(job)
        log.info("job %s (%s) started", job.id, job.filename)
        final: Optional[Job] = None
        try:
            shader.check_device(self.settings)
            jdir = self.store.job_dir(job.id)
            # The job's own seed and checkpoint: a run cut short by a crash or a stop resumes
            # from the optimizer's last saved state (the store removes it when the job ends).
            opts = shader.protect_options(job.options, self.settings,
                                          anchor=self.store.path_of(job, job.anchor_file),
                                          style=self.store.path_of(job, job.style_file), seed=job_seed(job.id))
            result = shader.protect(jdir / job.input_file, opts, self._progress(job),
                                    checkpoint=FileCheckpoint(self.store.checkpoint_path(job.id)))
            with self._cond:
                if self._stopping:      # finished after the stop was asked for: it is queued again
                    raise Cancelled("the daemon is stopping; the job goes back to the queue")
            result_file = f"result{format_extension(result.format.upper())}"
            (jdir / result_file).unlink(missing_ok=True)  # a stale one from an attempt cut short
            result.save(jdir / result_file)
            os.chmod(jdir / result_file, PRIVATE_FILE)    # unposted art: private until delivered
            final = self.store.finish_done(job.id, result_file, result.format.upper(), dict(result.measurements))
            log.info("job %s done in %.1f s", job.id, float(result.measurements.get("seconds", 0) or 0))
        except Cancelled:
            if self._detached:
                pass
            elif self._stopping and job.id not in self._cancel:
                self.store.requeue(job.id)
                log.info("job %s put back in the queue (daemon stopping)", job.id)
                again = self.store.get(job.id)
                if again is not None:
                    self.hub.job_state(again)
            else:
                final = self.store.finish_cancelled(job.id)
                log.info("job %s cancelled", job.id)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job
            if self._detached or self._stopping:
                # Stopping: what failed may be the process going away under it; run it again next time.
                if not self._detached:
                    self.store.requeue(job.id)
                log.info("job %s stopped with the daemon (%s); it stays queued", job.id, type(exc).__name__)
            else:
                code, message = job_error_fields(exc, self._names(job))
                final = self.store.finish_failed(job.id, code, message)
                log.warning("job %s failed: %s", job.id, message)
        finally:
            with self._cond:
                self._current = None
                self._cancel.discard(job.id)
        if final is not None and not self._detached:
            self.hub.job_state(final)     # SSE streams, and the watched folder's delivery
