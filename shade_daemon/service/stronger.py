"""Shade again, stronger: a finished job's original queued again one step up the intensity
ladder (the verdict's next step), with the same mode, target and files. The next step a
weak verdict advises is one that can be taken from the page that shows it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shading import inspect_image, next_intensity

from .errors import Conflict, Gone
from .store import DONE, Job

if TYPE_CHECKING:
    from .jobs import JobService


def intensity_of(job: Job, default: str) -> str:
    """The intensity the job ran at (its measurements say it; its options asked for it)."""
    return str((job.measurements or {}).get("intensity") or job.options.get("intensity") or default)


def shade_again_stronger(service: "JobService", job_id: str) -> tuple[Job, dict[str, Any]]:
    """Queue ``job_id``'s original again at the next intensity; the new job and what changed.
    Conflict (409) with words when the job is not done or is already at the strongest."""
    job = service.get(job_id)
    if job.status != DONE:
        raise Conflict(f"{job.filename} is {job.status}; it can be shaded again once it is done",
                       code="job_not_done")
    was = intensity_of(job, service.settings.intensity)
    stronger = next_intensity(was)
    if stronger is None:
        raise Conflict(f"{job.filename} was shaded at the {was} intensity, already the strongest: shading it again "
                       "will not make it stronger; another target may work better", code="no_stronger_intensity")
    original = service.store.path_of(job, job.input_file)
    if original is None or not original.is_file():
        raise Gone(f"the original of {job.filename} is no longer kept; add the image again at the {stronger} "
                   "intensity")
    service.check_capacity()
    max_pixels = service.settings.max_pixels
    facts = inspect_image(original, max_pixels, what="the original")
    extra = {}
    for part, name in (("anchor", job.anchor_file), ("style", job.style_file)):
        path = service.store.path_of(job, name)
        if path is not None and path.is_file():
            extra[part] = (path, inspect_image(path, max_pixels, what=f"the {part} image"))
    new = service.create(source=job.source if job.source != "folder" else "api", filename=job.filename,
                         image=original, facts=facts, options={**job.options, "intensity": stronger},
                         copy=True, **extra)
    return new, {"from_intensity": was, "intensity": stronger}
