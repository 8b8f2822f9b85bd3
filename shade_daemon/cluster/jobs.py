"""The upload API's jobs: ``POST /v1/jobs`` answers at once with an id, and the shaded file is
fetched later from ``/v1/jobs/{id}/result``, so a large image never holds a connection open
while it is shaded.

A job belongs to the key that made it (only that key's requests see it), its id is random
and unguessable, and a finished job is kept for ``ttl_s`` seconds after it ends. The results
held are bounded in bytes: the oldest finished jobs are let go first, and while unfinished
work alone would pass the bound, new jobs are refused (503, retry later) rather than risking
the replica's memory.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..service.store import DONE, FAILED, QUEUED, RUNNING  # the job vocabulary is the daemon's

__all__ = ["DONE", "FAILED", "QUEUED", "RUNNING", "Job", "JobStore", "JobsFull"]


@dataclass
class Job:
    id: str
    owner: str                      # the digest of the key that made it
    size: int                       # bytes held: the upload while it waits, then the result
    created: float
    status: str = QUEUED
    ended: Optional[float] = None
    result: dict[str, Any] = field(default_factory=dict)    # shade_one's answer once it ends
    task: Any = field(default=None, repr=False)             # the asyncio task shading it (held, so it runs on)

    def view(self) -> dict[str, Any]:
        """What ``GET /v1/jobs/{id}`` answers."""
        out: dict[str, Any] = {"id": self.id, "status": self.status, "status_url": f"/v1/jobs/{self.id}",
                               "result_url": f"/v1/jobs/{self.id}/result"}
        if self.status == DONE:
            out["format"] = self.result.get("format")
            out["measurements"] = self.result.get("measurements", {})
        elif self.status == FAILED:
            out["error"] = {"code": self.result.get("code", "internal"), "message": self.result.get("error", "")}
        return out


class JobsFull(Exception):
    """Unfinished jobs already hold as many bytes as the store may."""


class JobStore:
    def __init__(self, max_bytes: int, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes, self.ttl_s, self.clock = max_bytes, ttl_s, clock
        self.jobs: dict[str, Job] = {}

    def held(self) -> int:
        return sum(job.size for job in self.jobs.values())

    def prune(self) -> None:
        """Let go of finished jobs past their time."""
        now = self.clock()
        for job in list(self.jobs.values()):
            if job.ended is not None and now - job.ended > self.ttl_s:
                del self.jobs[job.id]

    def _make_room(self, size: int) -> None:
        finished = sorted((j for j in self.jobs.values() if j.ended is not None), key=lambda j: j.ended or 0.0)
        while self.held() + size > self.max_bytes and finished:
            del self.jobs[finished.pop(0).id]
        if self.held() + size > self.max_bytes:
            raise JobsFull(f"the server holds {self.held() // 2 ** 20} MB of unfinished jobs; retry later")

    def add(self, owner: str, size: int) -> Job:
        self.prune()
        self._make_room(size)
        job = Job(secrets.token_urlsafe(18), owner, size, self.clock())
        self.jobs[job.id] = job
        return job

    def get(self, job_id: str, owner: str) -> Optional[Job]:
        """The job, if it exists and belongs to ``owner`` (another key's job is as unknown as none)."""
        self.prune()
        job = self.jobs.get(job_id)
        return job if job is not None and secrets.compare_digest(job.owner, owner) else None

    def finish(self, job: Job, result: dict[str, Any]) -> None:
        job.result = result
        job.status = DONE if result.get("ok") else FAILED
        job.size = len(result.get("data") or b"")
        job.ended = self.clock()
