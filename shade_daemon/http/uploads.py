"""``POST /v1/jobs``: the upload (through the one multipart reader), the images sniffed by
the core's validator, the options checked, the job queued. Nothing is read into memory whole."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..service.core import OPTION_FIELDS
from ..service.jobs import JobService, safe_filename
from ..service.store import Job
from .errors import ApiError
from .multipart import check_form_request, read_form

FILE_PARTS = ("image", "anchor")
EITHER_PARTS = ("style",)        # a style image (a file part) or a style's name (a text field)
WHAT = "the image in a part named 'image' and optional fields mode, target, style, intensity, quality"


async def handle_upload(request: web.Request, service: JobService) -> Job:
    settings = service.settings
    check_form_request(request, settings.max_upload_mb, 1, WHAT)
    service.check_capacity()
    model = service.worker.model_state
    if model.get("code") == "device_unavailable":   # the daemon cannot shade here at all: say so now
        raise ApiError(503, "device_unavailable", model.get("error") or "the configured device cannot be used")
    async with read_form(request, incoming=service.store.incoming_dir, cap_mb=settings.max_upload_mb,
                         max_pixels=settings.max_pixels, file_parts=FILE_PARTS, either=EITHER_PARTS,
                         text_parts=OPTION_FIELDS, what=WHAT, caps=1) as form:
        if "image" not in form.files:
            raise ApiError(400, "bad_request", "no image: put the image file in a part named 'image'")
        options = await asyncio.to_thread(service.core.job_options, form.fields,
                                          has_anchor="anchor" in form.files, has_style="style" in form.files)
        service.check_capacity()
        facts = form.facts
        return await asyncio.to_thread(
            service.create, source="api",
            filename=safe_filename(form.filename("image"), "image" + facts["image"].extension),
            image=form.files["image"][0], facts=facts["image"], options=options,
            anchor=(form.files["anchor"][0], facts["anchor"]) if "anchor" in form.files else None,
            style=(form.files["style"][0], facts["style"]) if "style" in form.files else None)
