"""The one multipart reader: every upload route (jobs, audits, anchors, styles) reads its
body here.

The body is streamed to private temporary files, never read whole. Every byte (preamble,
part headers, boundaries, text fields, files) counts against a cap, text fields have their
own small cap, each part may come once, and anything the parser cannot make sense of (a
missing or overlong boundary, an unterminated body, a nested multipart, a NUL in a name)
is the client's malformed body: 400 at once, never a 500, and nothing kept.
"""

from __future__ import annotations

import asyncio
import errno
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Optional

from aiohttp import BodyPartReader, MultipartReader, web

from shading import ImageFacts, inspect_image

from ..private import open_private
from ..service.errors import storage_error
from .errors import ApiError

CHUNK = 256 * 1024
FIELD_LIMIT = 256            # bytes per text field
MULTIPART_SLACK = 1 << 20    # headers, boundaries and fields on top of the file bytes
YIELD_EVERY = 64 * 1024      # parsing gives the event loop a turn at least this often (bytes)


def too_large(cap_mb: int) -> ApiError:
    return ApiError(413, "upload_too_large", f"the upload is larger than {cap_mb} MB (setting max_upload_mb); "
                                             "send a smaller image")


def malformed(detail: str) -> ApiError:
    return ApiError(400, "bad_request", f"malformed multipart body ({detail}); send multipart/form-data "
                                        "as a browser or HTTP library writes it")


class _MeteredBody:
    """The request body as the multipart parser reads it, with every byte counted against
    the cap, and a turn for the event loop every YIELD_EVERY bytes even when the data is
    already buffered (a flood of tiny parts must not hold the loop)."""

    def __init__(self, stream: Any, limit: int, cap_mb: int):
        self._stream = stream
        self._limit = limit
        self._cap_mb = cap_mb
        self.consumed = 0
        self._since_yield = 0

    async def _count(self, data: bytes) -> bytes:
        self.consumed += len(data)
        if self.consumed > self._limit:
            raise too_large(self._cap_mb)
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


async def _save_part(part: BodyPartReader, dest: Path, cap: int, cap_mb: int) -> None:
    written = 0
    try:
        with open_private(dest) as fh:
            while chunk := await part.read_chunk(CHUNK):
                written += len(chunk)
                if written > cap:
                    raise too_large(cap_mb)
                fh.write(chunk)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS):
            raise storage_error(exc, "Shade's data folder") from None
        raise


async def _read_field(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(FIELD_LIMIT + 1):
        data += chunk
        if len(data) > FIELD_LIMIT:
            raise ApiError(400, "bad_options", f"field {part.name!r} is longer than {FIELD_LIMIT} bytes")
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ApiError(400, "bad_options", f"field {part.name!r} is not UTF-8 text") from None


class Form:
    """What an upload sent: files (a private temporary path and the name the client gave),
    text fields, and each file's facts as the core's validator found them."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[Path, Optional[str]]] = {}
        self.fields: dict[str, str] = {}
        self.facts: dict[str, ImageFacts] = {}

    def path(self, name: str) -> Optional[Path]:
        return self.files[name][0] if name in self.files else None

    def filename(self, name: str) -> Optional[str]:
        return self.files[name][1] if name in self.files else None


def check_form_request(request: web.Request, cap_mb: int, file_count: int, what: str) -> None:
    """The checks that need no body: a multipart content type and a declared size under the cap."""
    if request.content_type != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type",
                       f"send multipart/form-data (got {request.content_type or 'no content type'}): {what}")
    if request.content_length is not None and request.content_length > file_count * cap_mb * (1 << 20) + MULTIPART_SLACK:
        raise too_large(cap_mb)


@asynccontextmanager
async def read_form(request: web.Request, *, incoming: Path, cap_mb: int, max_pixels: int,
                    file_parts: tuple[str, ...], text_parts: tuple[str, ...], what: str,
                    either: tuple[str, ...] = (), caps: Optional[int] = None) -> AsyncIterator[Form]:
    """The parsed form, its images checked by the core's validator; the temporary files in
    ``incoming`` go when the block ends. ``either``: parts that are a file when they carry a
    file name, else a text field (a job's ``style``: an image or a style's name). ``caps``:
    how many times ``cap_mb`` the whole body may hold (default: one per file part)."""
    caps = len(file_parts) if caps is None else caps
    check_form_request(request, cap_mb, caps, what)
    cap = cap_mb * (1 << 20)
    try:
        reader = MultipartReader(request.headers, _MeteredBody(request.content, caps * cap + MULTIPART_SLACK, cap_mb),
                                 max_field_size=8190, max_headers=32)
    except (ValueError, AssertionError, KeyError, LookupError) as exc:
        raise ApiError(400, "bad_request", f"the multipart/form-data Content-Type lacks a usable boundary ({exc}); "
                                           "let the browser or HTTP library write the header") from None
    form = Form()
    known = ", ".join(dict.fromkeys(file_parts + either + text_parts))
    try:
        while True:
            try:
                part = await reader.next()
            except ApiError:
                raise
            except Exception as exc:  # noqa: BLE001 - any parser failure is the client's malformed body
                raise malformed(str(getattr(exc, "message", "") or exc)[:200] or type(exc).__name__) from None
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, "bad_request", "nested multipart bodies are not supported")
            try:
                name, filename = part.name or "", part.filename
            except (ValueError, LookupError, UnicodeError) as exc:
                raise malformed(f"unreadable Content-Disposition: {exc}") from None
            if "\x00" in name or (filename and "\x00" in filename):
                raise ApiError(400, "bad_request", "a part's name or filename contains a NUL byte; send the file's "
                                                   "real name")
            if name in form.files or name in form.fields:
                raise ApiError(400, "bad_request", f"part {name!r} was sent twice; send each part once")
            if name in file_parts or (name in either and filename is not None):
                tmp = incoming / f"{uuid.uuid4().hex}.part"
                form.files[name] = (tmp, filename)
                await _save_part(part, tmp, cap, cap_mb)
            elif name in text_parts or name in either:
                form.fields[name] = await _read_field(part)
            else:
                raise ApiError(400, "bad_request", f"unknown part {name!r}; known parts: {known}")
        for name, (tmp, _) in form.files.items():
            label = "the image" if name == "image" else f"the {name} image"
            form.facts[name] = await asyncio.to_thread(inspect_image, tmp, max_pixels, what=label)
        yield form
    finally:
        for tmp, _ in form.files.values():
            tmp.unlink(missing_ok=True)
