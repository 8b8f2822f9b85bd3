"""A done job's preview: the images (original, shaded, difference, what the model sees,
the sheet) and the verdict in words. Made once per job, on the audit threads (it runs the
models), and kept (0600) in the job's folder until the job is pruned."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from ..private import private_dir, write_private
from .core import PREVIEW_KINDS, Core
from .errors import Conflict, Gone
from .preview_target import target_file
from .store import DONE, Job, JobStore
from .telling import preview_words

WORDS_FILE = "words.json"
__all__ = ["PREVIEW_KINDS", "PreviewService"]


class PreviewService:
    """One preview computation per job at a time; the rest wait for it."""

    def __init__(self, store: JobStore, core: Core, executor: Executor, retention_hours: float) -> None:
        self.store = store
        self.core = core
        self.executor = executor
        self.retention_hours = retention_hours
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._making: dict[str, dict[str, Any]] = {}      # job id -> where its preview is, while made

    def progress(self, job: Job) -> dict[str, Any]:
        """Where the making of ``job``'s preview is: {making, made, stage, words, step, total}."""
        folder = self.store.job_dir(job.id) / "preview"
        now = self._making.get(job.id)
        if now is None:
            return {"making": False, "made": (folder / WORDS_FILE).is_file(), "stage": None, "words": None,
                    "step": 0, "total": 0}
        return {"making": True, "made": False, **now}

    @staticmethod
    def done(job: Job) -> Job:
        if job.status != DONE:
            raise Conflict(f"job {job.id} is {job.status}; its preview exists once it is done", code="job_not_done")
        return job

    async def ensure(self, job: Job) -> tuple[Path, dict[str, Any]]:
        """(the folder of the preview's PNGs, {words, decoder}), made now if need be."""
        self.done(job)
        folder = self.store.job_dir(job.id) / "preview"
        words_file = folder / WORDS_FILE
        async with self._locks[job.id]:
            if not words_file.is_file():
                original = self.store.path_of(job, job.input_file)
                result = self.store.path_of(job, job.result_file)
                if original is None or result is None or not original.is_file() or not result.is_file():
                    raise Gone(f"this job's files are gone (pruned after {self.retention_hours:g} hours); its "
                               "history entry stays")
                loop = asyncio.get_running_loop()
                target = target_file(job, self.store, self.core.library)
                making = self._making

                def tell(step: int, total: int, stage: str) -> None:     # on the executor's thread
                    making[job.id] = {"stage": stage, "words": preview_words(stage), "step": step, "total": total}

                tell(0, 0, "starting")
                try:
                    pngs, words, decoder = await loop.run_in_executor(
                        self.executor, self.core.preview_images, original, result, job.measurements or {},
                        job.filename, target, tell)
                finally:
                    making.pop(job.id, None)
                private_dir(folder)
                for kind, data in pngs.items():
                    write_private(folder / f"{kind}.png", data)
                write_private(words_file, json.dumps({"words": words, "decoder": decoder}))
        self._locks.pop(job.id, None)
        return folder, json.loads(words_file.read_text())
