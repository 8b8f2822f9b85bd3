"""``POST /v1/jobs``: stream a multipart upload to disk under the size cap, sniff the
images, validate the options, queue the job. Nothing is read into memory whole."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any, Optional

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from shading.imagecheck import ImageFacts, inspect_image

from . import shader
from .errors import ApiError
from .jobs import JobService, safe_filename
from .store import Job

FILE_PARTS = ("image", "anchor", "style")
CHUNK = 256 * 1024
FIELD_LIMIT = 256            # bytes per text field
MULTIPART_SLACK = 1 << 20    # headers, boundaries and fields on top of the file bytes
YIELD_EVERY = 64 * 1024      # parsing gives the event loop a turn at least this often (bytes)
PRIVATE_FILE = 0o600


def _too_large(cap_mb: int) -> ApiError:
    return ApiError(413, "upload_too_large", f"the upload is larger than {cap_mb} MB (setting max_upload_mb); "
                                             "send a smaller image")


class _MeteredBody:
    """The request body as the multipart parser reads it, with every byte (preamble, part
    headers, boundaries, text fields, files) counted against the cap, and a turn for the
    event loop every YIELD_EVERY bytes even when the data is already buffered."""

    def __init__(self, stream: Any, limit: int, cap_mb: int):
        self._stream = stream
        self._limit = limit
        self._cap_mb = cap_mb
        self.consumed = 0
        self._since_yield = 0

    async def _count(self, data: bytes) -> bytes:
        self.consumed += len(data)
        if self.consumed > self._limit:
            raise _too_large(self._cap_mb)
        self._since_yield += len(data) + 64        # a line costs something even when short
        if self._since_yield >= YIELD_EVERY:
            self._since_yield = 0
            await asyncio.sleep(0)
        return data

    async def readline(self, **kw: Any) -> bytes:
        return await self._count(await self._stream.readline(**kw))

    async def read(self, n: int = -1) -> bytes:
        return await self._count(await self._stream.read(n))

    async def readany(self) -> bytes:
        return await self._count(await self._stream.readany())

    async def readexactly(self, n: int) -> bytes:
        return await self._count(await self._stream.readexactly(n))

    def unread_data(self, data: bytes) -> None:
        self.consumed -= len(data)
        self._stream.unread_data(data)

    def __getattr__(self, name: str) -> Any:     # at_eof and the rest, unchanged
        return getattr(self._stream, name)


def _malformed(detail: str) -> ApiError:
    return ApiError(400, "bad_request", f"malformed multipart body ({detail}); send multipart/form-data "
                                        "as a browser or HTTP library writes it")


async def _save_part(part: BodyPartReader, dest: Path, budget: list[int], cap_mb: int) -> None:
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), PRIVATE_FILE)
    with os.fdopen(fd, "wb") as fh:
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
    model = service.worker.model_state
    if model.get("code") == "device_unavailable":   # the daemon cannot shade here at all: say so now
        raise ApiError(503, "device_unavailable", model.get("error") or "the configured device cannot be used")

    try:
        reader = MultipartReader(request.headers, _MeteredBody(request.content, cap + MULTIPART_SLACK, cap_mb),
                                 max_field_size=8190, max_headers=32)
    except (ValueError, AssertionError, KeyError) as exc:
        raise ApiError(400, "bad_request", f"the multipart/form-data Content-Type lacks a usable boundary ({exc}); "
                                           "let the browser or HTTP library write the header") from None
    budget = [cap]
    files: dict[str, tuple[Path, Optional[str]]] = {}
    fields: dict[str, str] = {}
    try:
        while True:
            try:
                part = await reader.next()
            except ApiError:
                raise
            except HttpProcessingError as exc:     # a part header line too long, too many headers...
                raise _malformed(getattr(exc, "message", "") or type(exc).__name__) from None
            except (ValueError, AssertionError, RuntimeError, LookupError) as exc:
                raise _malformed(str(exc)[:200]) from None
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, "bad_request", "nested multipart bodies are not supported")
            try:
                name, filename = part.name or "", part.filename
            except (ValueError, LookupError, UnicodeError) as exc:
                raise _malformed(f"unreadable Content-Disposition: {exc}") from None
            if "\x00" in name or (filename and "\x00" in filename):
                raise ApiError(400, "bad_request", "a part's name or filename contains a NUL byte; send the file's "
                                                   "real name")
            if name in files or name in fields:
                raise ApiError(400, "bad_request", f"part {name!r} was sent twice; send each part once")
            # "style" is a file (a style image) when it has a file name, else a style's name.
            if name in FILE_PARTS and not (name == "style" and filename is None):
                tmp = service.store.incoming_dir / f"{uuid.uuid4().hex}.part"
                files[name] = (tmp, filename)
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
