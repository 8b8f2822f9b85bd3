"""``POST /v1/jobs``: stream a multipart upload to disk under the size cap, sniff the
images, validate the options, queue the job. Nothing is read into memory whole."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Optional

from aiohttp import BodyPartReader, web

from shading.imagecheck import ImageFacts, inspect_image

from . import shader
from .errors import ApiError
from .jobs import JobService, safe_filename
from .store import Job

FILE_PARTS = ("image", "anchor", "style")
CHUNK = 256 * 1024
FIELD_LIMIT = 256            # bytes per text field
MULTIPART_SLACK = 1 << 20    # headers and boundaries on top of the file bytes


def _too_large(cap_mb: int) -> ApiError:
    return ApiError(413, "upload_too_large", f"the upload is larger than {cap_mb} MB (setting max_upload_mb); "
                                             "send a smaller image")


async def _save_part(part: BodyPartReader, dest: Path, budget: list[int], cap_mb: int) -> None:
    with open(dest, "wb") as fh:
        while True:
            chunk = await part.read_chunk(CHUNK)
            if not chunk:
                return
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise _too_large(cap_mb)
            fh.write(chunk)


async def _read_field(part: BodyPartReader) -> str:
    data = bytearray()
    while True:
        chunk = await part.read_chunk(FIELD_LIMIT + 1)
        if not chunk:
            break
        data += chunk
        if len(data) > FIELD_LIMIT:
            raise ApiError(400, "bad_options", f"field {part.name!r} is longer than {FIELD_LIMIT} bytes")
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ApiError(400, "bad_options", f"field {part.name!r} is not UTF-8 text") from None


async def handle_upload(request: web.Request, service: JobService) -> Job:
    settings = service.settings
    if request.content_type != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type",
                       f"send multipart/form-data (got {request.content_type or 'no content type'}) with the image in a "
                       "part named 'image' and optional fields mode, target, intensity, quality")
    cap_mb = settings.max_upload_mb
    cap = cap_mb * 1024 * 1024
    if request.content_length is not None and request.content_length > cap + MULTIPART_SLACK:
        raise _too_large(cap_mb)
    service.check_capacity()

    reader = await request.multipart()
    budget = [cap]
    files: dict[str, tuple[Path, Optional[str]]] = {}
    fields: dict[str, str] = {}
    try:
        while True:
            try:
                part = await reader.next()
            except (ValueError, AssertionError, RuntimeError) as exc:
                raise ApiError(400, "bad_request", f"malformed multipart body ({exc}); send multipart/form-data "
                                                   "as a browser or HTTP library writes it") from None
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, "bad_request", "nested multipart bodies are not supported")
            name = part.name or ""
            # "style" is a file (a style image) when it has a file name, else a style's name.
            if name in FILE_PARTS and not (name == "style" and part.filename is None):
                if name in files:
                    raise ApiError(400, "bad_request", f"part {name!r} was sent twice")
                tmp = service.store.incoming_dir / f"{uuid.uuid4().hex}.part"
                files[name] = (tmp, part.filename)
                await _save_part(part, tmp, budget, cap_mb)
            elif name in shader.OPTION_FIELDS:
                fields[name] = await _read_field(part)
            else:
                known = ", ".join(FILE_PARTS + shader.OPTION_FIELDS)
                raise ApiError(400, "bad_request", f"unknown part {name!r}; known parts: {known}")
        if "image" not in files:
            raise ApiError(400, "bad_request", "no image: put the image file in a part named 'image'")

        checked: dict[str, ImageFacts] = {}
        for name, (tmp, _) in files.items():
            what = "the image" if name == "image" else f"the {name} image"
            checked[name] = await asyncio.to_thread(inspect_image, tmp, settings.max_pixels, what=what)
        options = await asyncio.to_thread(shader.job_options, fields, settings,
                                          has_anchor="anchor" in files, has_style="style" in files)
        service.check_capacity()
        return service.create(
            source="api", filename=safe_filename(files["image"][1], "image" + checked["image"].extension),
            image=files["image"][0], facts=checked["image"], options=options,
            anchor=(files["anchor"][0], checked["anchor"]) if "anchor" in files else None,
            style=(files["style"][0], checked["style"]) if "style" in files else None,
        )
    finally:
        for tmp, _ in files.values():
            tmp.unlink(missing_ok=True)
