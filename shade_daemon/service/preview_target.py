"""Which image a job's shading pulls towards, for the preview to show beside what the model
sees: the job's own anchor or style upload, else the library's anchor for its target (poison)
or its named style (cloak). None when there is none to show (a target rendered on the fly)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from .store import Job, JobStore

log = logging.getLogger("shade.daemon")


def target_file(job: Job, store: JobStore, library: Any) -> Optional[Path]:
    mode = str(job.options.get("mode") or "poison")
    own = job.style_file if mode == "cloak" else (job.anchor_file or job.style_file)
    path = store.path_of(job, own)
    if path is not None and path.is_file():
        return path
    try:
        if mode == "cloak":
            return library.resolve_style(str(job.options.get("style") or ""))
        concept = str(job.options.get("target") or (job.measurements or {}).get("target") or "")
        return library.find_anchor(concept) if concept else None
    except Exception as exc:  # noqa: BLE001 - the preview shows the rest without the target
        log.info("no target image to show for job %s: %s", job.id, exc)
        return None
