"""What a job record says to people: the one verdict (the core's ``shading.verdict``), the
stage in words, and a time estimate from the time per step measured on this machine.

Every surface (the job API, the event streams, the dashboard, the extension) reads these
fields rather than making up words of its own.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Mapping, Optional

from shading import verdict

STAGE_WORDS = {"load": "loading the model", "check": "checking after recompression", "save": "saving the result"}


def verdict_view(measurements: Optional[Mapping[str, Any]]) -> Optional[dict[str, Any]]:
    """The verdict of a finished job as a dict (level, words, advice, next_intensity, effect);
    None when there is nothing measured to judge."""
    if not measurements:
        return None
    try:
        return verdict(measurements).as_dict()
    except ValueError:
        return None


def stage_words(stage: str, step: int, total: int) -> str:
    """"loading the model", "shading 12 of 26", "checking after recompression"..."""
    if stage == "optimize":
        return f"shading {step} of {total}" if total else "shading"
    return STAGE_WORDS.get(stage, stage or "starting")


# A preview's stages (``Protector.preview``'s progress, then the sheet), as the dashboard says them.
PREVIEW_WORDS = {"load": "loading the model's decoder (the first preview does this once)",
                 "original": "what the model sees of the original", "shaded": "what the model sees of the shaded image",
                 "target": "what the model sees of the target", "sheet": "drawing the preview"}


def preview_words(stage: str) -> str:
    return PREVIEW_WORDS.get(stage, "starting")


def queue_words(position: Optional[int]) -> str:
    if not position or position <= 1:
        return "waiting: next in line"
    return f"waiting: {position - 1} ahead in the queue"


def eta_words(seconds: Optional[float]) -> Optional[str]:
    if seconds is None:
        return None
    if seconds < 60:
        return f"about {max(5, int(round(seconds / 5.0)) * 5)} s left"
    return f"about {int(round(seconds / 60.0))} min left"


def job_words(status: str, stage: str, step: int, total: int, eta: Optional[float],
              queue_position: Optional[int], measurements: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    """The fields of a job record meant for people: ``words`` (where the job is), the ETA, and
    the ``verdict`` of a finished job."""
    if status == "queued":
        words = queue_words(queue_position)
    elif status == "running":
        words = stage_words(stage, step, total)
    else:
        words = {"done": "finished", "failed": "failed", "cancelled": "cancelled"}.get(status, status)
    judged = verdict_view(measurements) if status == "done" else None
    if judged is not None:
        words = judged["words"]
    waiting = status in ("running", "queued")
    return {"words": words, "eta_seconds": eta if waiting else None,
            "eta_words": eta_words(eta) if waiting else None, "verdict": judged}


class StepClock:
    """The time per optimizer step on this machine, measured while jobs run (an average that
    follows the latest jobs), and the time a running job has left from it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds_per_step: Optional[float] = None
        self.seconds_per_job: Optional[float] = None     # whole jobs, load to figures
        self._job: Optional[str] = None
        self._last: Optional[tuple[int, float]] = None   # (step, when) of the running job

    def job_done(self, seconds: float) -> None:
        """Record how long a finished job took, from start to its written result."""
        with self._lock:
            old = self.seconds_per_job
            self.seconds_per_job = seconds if old is None else 0.7 * old + 0.3 * seconds

    def wait(self, ahead: int, running_left: Optional[float]) -> Optional[float]:
        """Seconds until a queued job is done: what the running job has left, then ``ahead``
        jobs before it and itself, each at the time jobs have taken here; None before one finished."""
        with self._lock:
            per = self.seconds_per_job
        if per is None:
            return None
        return round((running_left or 0.0) + (ahead + 1) * per, 1)

    def tick(self, job_id: str, step: int, total: int, stage: str) -> Optional[float]:
        """Record a progress report; the seconds the job has left, or None before any step was timed."""
        now = time.monotonic()
        with self._lock:
            if job_id != self._job:
                self._job, self._last = job_id, None
            if stage == "optimize":
                if self._last is not None and step > self._last[0]:
                    per = (now - self._last[1]) / (step - self._last[0])
                    old = self.seconds_per_step
                    self.seconds_per_step = per if old is None else 0.7 * old + 0.3 * per
                self._last = (step, now)
            if self.seconds_per_step is None or not total:
                return None
            left = max(0, total - step) if stage in ("load", "optimize") else 0
            return round(left * self.seconds_per_step, 1)
