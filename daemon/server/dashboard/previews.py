"""``GET /v1/jobs/{id}/preview`` (the verdict in words and the image addresses) and
``GET /v1/jobs/{id}/preview/{kind}.png``: original, shaded, difference x8, what the model
sees of the original and of the shaded image, and the whole sheet. Made once per job, in
a worker thread, and kept (0600) in the job's folder until the job is pruned."""

from __future__ import annotations

import asyncio
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from aiohttp import web

from ..errors import ApiError
from ..keys import SERVICE
from ..store import DONE, PRIVATE_FILE, Job, private_dir
from . import measure

WORDS_FILE = "words.json"


class PreviewCache:
    """One preview computation per job at a time; the rest wait for it."""

    def __init__(self) -> None:
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def ensure(self, request: web.Request, job: Job) -> tuple[Path, dict[str, Any]]:
        service = request.app[SERVICE]
        folder = service.store.job_dir(job.id) / "preview"
        async with self._locks[job.id]:
            words_file = folder / WORDS_FILE
            if not words_file.is_file():
                original = service.store.path_of(job, job.input_file)
                result = service.store.path_of(job, job.result_file)
                if original is None or result is None or not original.is_file() or not result.is_file():
                    raise ApiError(410, "result_gone", "this job's files are gone (pruned after "
                                   f"{service.settings.result_retention_hours:g} hours); its history entry stays")
                pngs, words, decoder = await asyncio.to_thread(
                    measure.preview_images, original, result, job.measurements or {}, job.filename, service.settings)
                private_dir(folder)
                for kind, data in pngs.items():
                    _write_private(folder / f"{kind}.png", data)
                _write_private(words_file, json.dumps({"words": words, "decoder": decoder}).encode())
        self._locks.pop(job.id, None)
        return folder, json.loads(words_file.read_text())


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".shade-{path.name}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _done_job(request: web.Request) -> Job:
    service = request.app[SERVICE]
    job = service.get(request.match_info["id"])
    if job.status != DONE:
        raise ApiError(409, "job_not_done", f"job {job.id} is {job.status}; its preview exists once it is done")
    return job


PREVIEWS = web.AppKey("shade.previews", PreviewCache)


async def preview(request: web.Request) -> web.Response:
    job = _done_job(request)
    _, info = await request.app[PREVIEWS].ensure(request, job)
    base = f"/v1/jobs/{job.id}/preview"
    return web.json_response({"id": job.id, "filename": job.filename, "decoder": info["decoder"],
                              **info["words"], "images": {k: f"{base}/{k}.png" for k in measure.PREVIEW_KINDS}})


async def preview_image(request: web.Request) -> web.StreamResponse:
    kind = request.match_info["kind"]
    if kind not in measure.PREVIEW_KINDS:
        raise ApiError(404, "not_found", f"no preview {kind!r}; there are: {', '.join(measure.PREVIEW_KINDS)}")
    job = _done_job(request)
    folder, _ = await request.app[PREVIEWS].ensure(request, job)
    return web.FileResponse(folder / f"{kind}.png", headers={"Content-Type": "image/png"})


def setup(app: web.Application) -> None:
    app[PREVIEWS] = PreviewCache()
    app.router.add_get("/v1/jobs/{id}/preview", preview, allow_head=False)
    app.router.add_get("/v1/jobs/{id}/preview/{kind}.png", preview_image, allow_head=False)
