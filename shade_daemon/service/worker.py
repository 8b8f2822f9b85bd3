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
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from shading import Cancelled, format_extension

from ..cluster import ClusterUnavailable, offload
from ..config import Settings
from ..private import restrict
from .core import Core
from .errors import job_error_fields
from .events import EventHub
from .resume import FileCheckpoint, job_seed
from .store import QUEUED, Job, JobStore
from .telling import StepClock

log = logging.getLogger("shade.daemon")

STOP_WAIT = 1.0          # seconds a stopping daemon waits for the running job to notice
RETRY_AFTER_FAULT = 2.0  # seconds the loop rests after a fault around a job (a full disk, a store error)


@dataclass
class Current:
    job_id: str
    filename: str
    step: int = 0
    total: int = 0
    stage: str = "load"
    eta: Optional[float] = None     # seconds left, from the time per step measured here


class ShadingWorker:
    def __init__(self, store: JobStore, settings: Settings, hub: EventHub, core: Core):
        self.store = store
        self.settings = settings
        self.core = core
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
        self.clock = StepClock()
        self.beat = time.monotonic()      # the loop's last sign of life (health reads it)
        self.restarts = 0
        self.holding: Optional[str] = None  # the job held by a pause at its current step
        # Final states that could not be written (the disk was full): written before the next claim.
        self._unrecorded: dict[str, tuple[str, str]] = {}

    # --- control (any thread) ----------------------------------------------------------
    def start(self) -> None:
        thread = threading.Thread(target=self._run, name="shade-worker", daemon=True)
        with self._cond:
            self._thread = thread
            self.beat = time.monotonic()
        thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def restart(self, why: str) -> None:
        """Start a fresh thread in place of a dead (or stuck) one. A stuck thread that wakes
        later is no longer the worker: what it finishes is dropped (see ``_detached_here``),
        and its job, if any, fails with ``why`` so the queue moves on."""
        with self._cond:
            if self._stopping:
                return
            cur = self._current
            self._current = None
        self.restarts += 1
        self.last_error = why
        log.error("the shading worker %s; starting it again", why)
        if cur is not None:
            self._record_failure(cur.job_id, "worker_restarted", f"Shade's shading worker stopped working on this "
                                 f"image ({why}) and was restarted; send the image again.")
        self.start()

    def _detached_here(self) -> bool:
        """Whether the calling thread's work no longer counts: the daemon left it behind on exit,
        or a restart replaced it."""
        return self._detached or threading.current_thread() is not self._thread

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
        return Current(cur.job_id, cur.filename, cur.step, cur.total, cur.stage, cur.eta) if cur else None

    # --- the thread ----------------------------------------------------------------------
    def _preload(self) -> None:
        try:
            info = self.core.preload()
            self.model_state.update(state="ready", device=info["device"], encoders=info["encoders"], error=None,
                                    code=None)
            log.info("model ready: %s on %s", ", ".join(info["encoders"]), info["device"])
        except Exception as exc:  # noqa: BLE001 - reported in status; jobs will fail with the reason
            code, message = job_error_fields(exc)
            self.model_state.update(state="error", error=message, code=code)
            self.last_error = message
            log.error("could not load the model: %s", message)

    def _run(self) -> None:
        if self.model_state["state"] != "ready":
            self._preload()
        while not self._detached_here():
            self.beat = time.monotonic()
            try:
                if not self._turn():
                    return
            except Exception as exc:  # noqa: BLE001 - nothing around a job may end the worker
                # A fault outside a job's own failure path (claiming from a full disk's store):
                # say so, rest, and try again; freeing the space lets the queue move on.
                code, message = job_error_fields(exc, [(self.store.root, "Shade's data folder")])
                self.last_error = message
                log.error("the shading worker hit a fault (%s): %s; it tries again in %g s", code, message,
                          RETRY_AFTER_FAULT)
                with self._cond:
                    if not self._stopping:
                        self._cond.wait(timeout=RETRY_AFTER_FAULT)

    def _turn(self) -> bool:
        """One pass of the loop: wait while paused, run one job. False when the worker stops."""
        with self._cond:
            while not self._stopping and self._paused:
                self._cond.wait(timeout=5.0)
                self.beat = time.monotonic()
            if self._stopping:
                return False
        self._write_unrecorded()
        if self.model_state["state"] == "error" and self.store.count(QUEUED):
            # Retry the load before a job is claimed (the user may have installed the model
            # meanwhile): a crash while loading is no crash of that job.
            self._preload()
        with self._cond:
            if self._stopping:
                return False
            # Claimed under the lock, so a stop asked for meanwhile sees it as the current job.
            job = self.store.claim_next()
            if job is not None:
                self._current = Current(job.id, job.filename)
        if job is None:
            with self._cond:
                if not self._stopping:
                    self._cond.wait(timeout=2.0)
            return True
        self._run_job(job)
        return True

    def _release(self, job_id: str) -> None:
        """The job is no longer the running one: said before its final state is written, so
        whoever hears that state (a cancel waiting for it) finds the worker free."""
        with self._cond:
            if not self._detached_here() and self._current is not None and self._current.job_id == job_id:
                self._current = None

    def _record_failure(self, job_id: str, code: str, message: str) -> None:
        """Fail the job in the store; when the store cannot be written (a full disk) keep the
        failure to write before the next job, instead of letting the fault end the worker."""
        try:
            self.store.finish_failed(job_id, code, message)
            self._unrecorded.pop(job_id, None)
        except Exception as exc:  # noqa: BLE001 - the store itself is what failed
            self._unrecorded[job_id] = (code, message)
            log.error("job %s failed (%s) and the failure could not be recorded yet: %s", job_id, message, exc)

    def _write_unrecorded(self) -> None:
        for job_id, (code, message) in list(self._unrecorded.items()):
            self._record_failure(job_id, code, message)

    def _progress(self, job: Job) -> Callable[[int, int, str], None]:
        last_write = [0.0]

        def progress(step: int, total: int, stage: str) -> None:
            with self._cond:
                while self._paused and not self._stopping and job.id not in self._cancel:
                    self.holding = job.id
                    self._cond.wait(timeout=5.0)
                    self.beat = time.monotonic()      # paused is not stuck
                self.holding = None
                if self._stopping or self._detached_here():
                    raise Cancelled("the daemon is stopping; the job goes back to the queue")
                if job.id in self._cancel:
                    raise Cancelled("cancelled by request")
                self.beat = time.monotonic()
                eta = self.clock.tick(job.id, int(step), int(total), str(stage))
                cur = self._current
                if cur is not None:
                    cur.step, cur.total, cur.stage, cur.eta = int(step), int(total), str(stage), eta
            now = time.monotonic()
            if now - last_write[0] > 0.25 or step >= total:
                last_write[0] = now
                self.store.set_progress(job.id, int(step), int(total), str(stage))
            self.hub.job_progress(job.id, int(step), int(total), str(stage), eta)

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
        log.info("job %s (%s) started", job.id, job.filename)
        began = time.monotonic()
        try:
            self.core.check_device()
            jdir = self.store.job_dir(job.id)
            # The job's own seed and checkpoint: a run cut short by a crash or a stop resumes
            # from the optimizer's last saved state (the store removes it when the job ends).
            opts = self.core.protect_options(job.options, anchor=self.store.path_of(job, job.anchor_file),
                                             style=self.store.path_of(job, job.style_file), seed=job_seed(job.id))
            result = self.core.protect(jdir / job.input_file, opts, self._progress(job),
                                    checkpoint=FileCheckpoint(self.store.checkpoint_path(job.id)))
            with self._cond:
                if self._stopping:      # finished after the stop was asked for: it is queued again
                    raise Cancelled("the daemon is stopping; the job goes back to the queue")
            result_file = f"result{format_extension(result.format.upper())}"
            (jdir / result_file).unlink(missing_ok=True)  # a stale one from an attempt cut short
            try:
                result.save(jdir / result_file)           # whole or not at all
                restrict(jdir / result_file)              # unposted art: private until delivered
            except BaseException:
                (jdir / result_file).unlink(missing_ok=True)
                raise
            self._release(job.id)
            self.store.finish_done(job.id, result_file, result.format.upper(), dict(result.measurements))
            self.clock.job_done(time.monotonic() - began)
            log.info("job %s done in %.1f s", job.id, float(result.measurements.get("seconds", 0) or 0))
        except Cancelled:
            if self._detached_here():
                pass
            elif self._stopping and job.id not in self._cancel:
                self.store.requeue(job.id)          # publishes the job's queued state again
                log.info("job %s put back in the queue (daemon stopping)", job.id)
            else:
                self._release(job.id)
                self.store.finish_cancelled(job.id)
                log.info("job %s cancelled", job.id)
        except ClusterUnavailable as exc:       # the cluster setting's cluster is away: the job waits, queued
            self._release(job.id)
            offload.job_waits(self, job, exc)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job
            if self._detached_here() or self._stopping:
                # Stopping: what failed may be the process going away under it; run it again next time.
                if not self._detached_here():
                    self.store.requeue(job.id)
                log.info("job %s stopped with the daemon (%s); it stays queued", job.id, type(exc).__name__)
            else:
                code, message = job_error_fields(exc, self._names(job))
                self.last_error = message if code in ("disk_full", "storage_error", "internal_error") \
                    else self.last_error
                log.warning("job %s failed: %s", job.id, message)
                self._release(job.id)
                self._record_failure(job.id, code, message)
        finally:
            with self._cond:
                if not self._detached_here():
                    self._current = None
                self._cancel.discard(job.id)
