"""Multipart forms for the dashboard's uploads (audits, anchors): the same metered,
size-capped streaming to private temporary files as job uploads, for any set of parts."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator, Optional

from aiohttp import BodyPartReader, MultipartReader, web

from shading.imagecheck import ImageFacts, inspect_image

from ..errors import ApiError
from ..jobs import JobService
from ..uploads import MULTIPART_SLACK, _malformed, _MeteredBody, _read_field, _save_part, _too_large


class Form:
    def __init__(self) -> None:
        self.files: dict[str, tuple[Path, Optional[str]]] = {}
        self.fields: dict[str, str] = {}
        self.facts: dict[str, ImageFacts] = {}

    def path(self, name: str) -> Optional[Path]:
        return self.files[name][0] if name in self.files else None

    def filename(self, name: str) -> Optional[str]:
        return self.files[name][1] if name in self.files else None


@asynccontextmanager
async def image_form(request: web.Request, service: JobService, file_parts: tuple[str, ...],
                     text_parts: tuple[str, ...], what: str) -> AsyncIterator[Form]:
    """The parsed form, its images checked by the core's validator; temporary files go
    when the block ends."""
    settings = service.settings
    if request.content_type != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", f"send multipart/form-data: {what}")
    cap_mb = settings.max_upload_mb
    cap = cap_mb * 1024 * 1024
    if request.content_length is not None and request.content_length > len(file_parts) * cap + MULTIPART_SLACK:
        raise _too_large(cap_mb)
    try:
        reader = MultipartReader(request.headers, _MeteredBody(request.content, len(file_parts) * cap + MULTIPART_SLACK,
                                                               cap_mb), max_field_size=8190, max_headers=32)
    except (ValueError, AssertionError, KeyError) as exc:
        raise ApiError(400, "bad_request", f"the multipart/form-data Content-Type lacks a usable boundary ({exc})") \
            from None
    form = Form()
    try:
        while True:
            try:
                part = await reader.next()
            except ApiError:
                raise
            except Exception as exc:  # noqa: BLE001 - any parser failure is the client's malformed body
                raise _malformed(str(exc)[:200] or type(exc).__name__) from None
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, "bad_request", "nested multipart bodies are not supported")
            name = part.name or ""
            if name in form.files or name in form.fields:
                raise ApiError(400, "bad_request", f"part {name!r} was sent twice; send each part once")
            if name in file_parts:
                tmp = service.store.incoming_dir / f"{uuid.uuid4().hex}.part"
                form.files[name] = (tmp, part.filename)
                await _save_part(part, tmp, [cap], cap_mb)
            elif name in text_parts:
                form.fields[name] = await _read_field(part)
            else:
                raise ApiError(400, "bad_request", f"unknown part {name!r}; known parts: "
                                                   f"{', '.join(file_parts + text_parts)}")
        for name, (tmp, _) in form.files.items():
            form.facts[name] = await asyncio.to_thread(inspect_image, tmp, settings.max_pixels,
                                                       what=f"the {name} image")
        yield form
    finally:
        for tmp, _ in form.files.values():
            tmp.unlink(missing_ok=True)
