"""The style library over HTTP: ``GET /v1/styles`` (the user's styles first, then the
built-in reference styles), ``POST /v1/styles`` (multipart: ``name`` and ``image``; kept in
the first style folder, so a client names the style in later jobs instead of sending the
image each time) and ``DELETE /v1/styles/{name}`` (the user's own styles only)."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

from aiohttp import BodyPartReader, web

from shading.imagecheck import inspect_image

from .errors import ApiError
from .keys import SERVICE
from .uploads import CHUNK, FIELD_LIMIT, MULTIPART_SLACK


def _library(settings) -> dict:
    from shading.targets import style_library

    return {"styles": [{"name": name, "builtin": builtin} for name, _, builtin in style_library(settings.style_dirs)],
            "default": settings.style}


def user_files(folder: Path, name: str) -> list[Path]:
    """The files in a user's library folder that hold ``name`` (spaces or underscores)."""
    from shading.targets import ANCHOR_EXTENSIONS

    stems = {name, name.replace(" ", "_")}
    return [folder / f"{stem}{ext}" for stem in stems for ext in ANCHOR_EXTENSIONS if (folder / f"{stem}{ext}").is_file()]


async def list_styles(request: web.Request) -> web.Response:
    return web.json_response(_library(request.app[SERVICE].settings))


async def add_style(request: web.Request) -> web.Response:
    from shading.targets import normalize_style

    service = request.app[SERVICE]
    settings = service.settings
    if request.content_type != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", "send multipart/form-data with a field 'name' and the style "
                                                      "image in a part named 'image'")
    cap = settings.max_upload_mb * 1024 * 1024
    if request.content_length is not None and request.content_length > cap + MULTIPART_SLACK:
        raise ApiError(413, "upload_too_large", f"the style image is larger than {settings.max_upload_mb} MB "
                                                "(setting max_upload_mb); send a smaller one")
    reader = await request.multipart()
    tmp = service.store.incoming_dir / f"style-{uuid.uuid4().hex}.part"
    name = None
    got_image = False
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, "bad_request", "nested multipart bodies are not supported")
            if part.name == "name":
                raw = await part.read(decode=True)
                if len(raw) > FIELD_LIMIT:
                    raise ApiError(400, "bad_options", f"field 'name' is longer than {FIELD_LIMIT} bytes")
                name = normalize_style(raw.decode("utf-8", "replace"))
            elif part.name == "image" and not got_image:
                got_image = True
                size = 0
                with open(tmp, "wb") as fh:
                    while chunk := await part.read_chunk(CHUNK):
                        size += len(chunk)
                        if size > cap:
                            raise ApiError(413, "upload_too_large", f"the style image is larger than "
                                                                    f"{settings.max_upload_mb} MB; send a smaller one")
                        fh.write(chunk)
            else:
                raise ApiError(400, "bad_request", f"unknown part {part.name!r}; known parts: name, image")
        if not name:
            raise ApiError(400, "bad_options", "name the style: a field 'name' (letters, digits, '-', '_', spaces)")
        if not got_image:
            raise ApiError(400, "bad_request", "no image: put the style image in a part named 'image'")
        facts = await asyncio.to_thread(inspect_image, tmp, settings.max_pixels, what="the style image")
        folder = Path(settings.style_dirs[0])
        folder.mkdir(parents=True, exist_ok=True)
        if user_files(folder, name):
            raise ApiError(409, "style_exists", f"your style library already has {name!r}; delete it first "
                                                f"(DELETE /v1/styles/{name}) or choose another name")
        dest = folder / f"{name}{facts.extension}"
        try:
            os.link(tmp, dest)              # never replaces a file
        except FileExistsError:
            raise ApiError(409, "style_exists", f"your style library already has {name!r}") from None
        except OSError:
            if dest.exists():
                raise ApiError(409, "style_exists", f"your style library already has {name!r}") from None
            os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return web.json_response({"name": name, **_library(settings)}, status=201)


async def delete_style(request: web.Request) -> web.Response:
    from shading.targets import normalize_style

    settings = request.app[SERVICE].settings
    name = normalize_style(request.match_info["name"])
    removed = [p for d in settings.style_dirs for p in user_files(Path(d), name)]
    if not removed:
        raise ApiError(404, "style_not_found", f"{name!r} is not one of your styles (built-in styles cannot be "
                                               "removed)")
    for p in removed:
        p.unlink(missing_ok=True)
    return web.json_response({"removed": name, **_library(settings)})
