"""Job events, from the worker (or the service) to whoever listens: server-sent-event
streams (one asyncio queue per listener, on the event loop) and finished-job listeners
(the watched folder's delivery). Publishers never know their listeners: the worker only
publishes, the folder only subscribes.

``job_state`` and ``job_progress`` may be called from any thread. SSE listeners get
``(event, data)`` on the loop; finished-job listeners are called on the publishing thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any, Callable, Optional

from .store import FINAL_STATES, Job
from .telling import eta_words, stage_words

log = logging.getLogger("shade.daemon")

CLOSE = None  # sentinel put on a queue when the daemon shuts down
ALL = "*"     # subscribe(ALL): every job's events (the dashboard's queue)

JobListener = Callable[[Job], None]


class EventHub:
    def __init__(self, view: Callable[[Job], dict[str, Any]]) -> None:
        self._view = view                        # a Job -> what GET /v1/jobs/{id} answers
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._subs: dict[str, set[asyncio.Queue]] = defaultdict(set)
        self._finished: list[JobListener] = []
        self._final: dict[str, list[asyncio.Future]] = defaultdict(list)    # wait_final's waiters

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    # --- listeners ---------------------------------------------------------------------------
    def subscribe(self, job_id: str) -> asyncio.Queue:
        """An SSE listener for one job (on the loop thread)."""
        q: asyncio.Queue = asyncio.Queue()
        self._subs[job_id].add(q)
        return q

    def unsubscribe(self, job_id: str, q: asyncio.Queue) -> None:
        subs = self._subs.get(job_id)
        if subs is not None:
            subs.discard(q)
            if not subs:
                self._subs.pop(job_id, None)

    def listening(self, job_id: str) -> int:
        """How many SSE listeners follow ``job_id``."""
        return len(self._subs.get(job_id, ()))

    def on_finished(self, listener: JobListener) -> Callable[[], None]:
        """Call ``listener(job)`` each time a job reaches a final state; returns the unsubscribe."""
        self._finished.append(listener)
        return lambda: self._finished.remove(listener) if listener in self._finished else None

    async def wait_final(self, job_id: str, is_final: Callable[[], bool], timeout: float) -> bool:
        """Wait (on the loop) until ``job_id``'s final state is published, at most ``timeout``
        seconds; ``is_final`` reads the store once the waiter is in place, so a job that ended
        just before is not missed. True when it ended."""
        future = asyncio.get_running_loop().create_future()
        self._final[job_id].append(future)
        try:
            if is_final():
                return True
            await asyncio.wait_for(future, timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            waiters = self._final.get(job_id)
            if waiters is not None and future in waiters:
                waiters.remove(future)
                if not waiters:
                    self._final.pop(job_id, None)

    # --- publishing ----------------------------------------------------------------------------
    def job_state(self, job: Job) -> None:
        """The job changed state (any thread)."""
        self._to_streams(job.id, "state", self._view(job))
        if job.finished:
            for listener in list(self._finished):
                try:
                    listener(job)
                except Exception:  # noqa: BLE001 - one listener must not stop the others
                    log.exception("a finished-job listener failed for %s", job.id)

    def job_progress(self, job_id: str, step: int, total: int, stage: str, eta: Optional[float] = None) -> None:
        """A running job's progress (any thread); ``eta``: the seconds it has left, when known."""
        self._to_streams(job_id, "progress", {
            "id": job_id, "status": "running", "step": step, "total": total, "stage": stage,
            "progress": round(step / total, 4) if total else 0.0,
            "words": stage_words(stage, step, total), "eta_seconds": eta, "eta_words": eta_words(eta)})

    def _to_streams(self, job_id: str, event: str, data: dict[str, Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._put, job_id, event, data)
        except RuntimeError:  # loop closing
            pass

    def _put(self, job_id: str, event: str, data: dict[str, Any]) -> None:
        if event == "state" and data.get("status") in FINAL_STATES:
            for future in self._final.pop(job_id, ()):
                if not future.done():
                    future.set_result(None)
        for q in [*self._subs.get(job_id, ()), *self._subs.get(ALL, ())]:
            q.put_nowait((event, data))

    def close_all(self) -> None:
        for subs in list(self._subs.values()):
            for q in list(subs):
                q.put_nowait(CLOSE)
