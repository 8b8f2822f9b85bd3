"""The anchor library over HTTP, beside the style library (``server/styles.py``):
``GET /v1/anchors`` (the user's concepts first, then the built-in ones), ``POST
/v1/anchors`` (multipart ``name`` and ``image``: kept in the first anchor folder, so jobs
name the concept as their target), ``DELETE /v1/anchors/{name}`` (the user's own only),
and a preview of each: ``GET /v1/anchors/{name}/image`` and ``GET /v1/styles/{name}/image``."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from aiohttp import web

from ..errors import ApiError
from ..keys import SERVICE
from ..styles import user_files
from .forms import image_form

PREVIEW_SIDE = 256


def _anchors(settings) -> dict:
    from shading.targets import anchor_library

    return {"anchors": [{"name": name, "builtin": builtin} for name, _, builtin in anchor_library(settings.anchor_dirs)],
            "default": settings.target}


async def list_anchors(request: web.Request) -> web.Response:
    return web.json_response(_anchors(request.app[SERVICE].settings))


async def add_anchor(request: web.Request) -> web.Response:
    from shading.targets import normalize_concept

    service = request.app[SERVICE]
    settings = service.settings
    async with image_form(request, service, ("image",), ("name",),
                          "a field 'name' and the anchor image in a part named 'image'") as form:
        if not form.fields.get("name"):
            raise ApiError(400, "bad_options", "name the concept: a field 'name' (letters, digits, '-', '_', spaces)")
        name = normalize_concept(form.fields["name"])
        tmp = form.path("image")
        if tmp is None:
            raise ApiError(400, "bad_request", "no image: put the anchor image in a part named 'image'")
        folder = Path(settings.anchor_dirs[0])
        folder.mkdir(parents=True, exist_ok=True)
        if user_files(folder, name):
            raise ApiError(409, "anchor_exists", f"your anchor library already has {name!r}; delete it first "
                                                 f"(DELETE /v1/anchors/{name}) or choose another name")
        dest = folder / f"{name}{form.facts['image'].extension}"
        try:
            os.link(tmp, dest)              # never replaces a file
        except FileExistsError:
            raise ApiError(409, "anchor_exists", f"your anchor library already has {name!r}") from None
        except OSError:
            os.replace(tmp, dest)
    return web.json_response({"name": name, **_anchors(settings)}, status=201)


async def delete_anchor(request: web.Request) -> web.Response:
    from shading.targets import normalize_concept

    settings = request.app[SERVICE].settings
    name = normalize_concept(request.match_info["name"])
    removed = [p for d in settings.anchor_dirs for p in user_files(Path(d), name)]
    if not removed:
        raise ApiError(404, "anchor_not_found", f"{name!r} is not one of your anchors (built-in ones cannot be removed)")
    for p in removed:
        p.unlink(missing_ok=True)
    return web.json_response({"removed": name, **_anchors(settings)})


def _preview_jpeg(path: Path) -> bytes:
    import io

    from PIL import Image

    from shading.imageio import load_image

    img = Image.fromarray(load_image(path, max_pixels=10 ** 9).rgb)
    img.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


async def anchor_image(request: web.Request) -> web.Response:
    from shading.targets import find_anchor

    path = find_anchor(request.match_info["name"], request.app[SERVICE].settings.anchor_dirs)
    if path is None:
        raise ApiError(404, "anchor_not_found", "no such concept in the anchor library")
    return web.Response(body=await asyncio.to_thread(_preview_jpeg, path), content_type="image/jpeg")


async def style_image(request: web.Request) -> web.Response:
    from shading.targets import find_style

    path = find_style(request.match_info["name"], request.app[SERVICE].settings.style_dirs)
    if path is None:
        raise ApiError(404, "style_not_found", "no such style in the style library")
    return web.Response(body=await asyncio.to_thread(_preview_jpeg, path), content_type="image/jpeg")


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/anchors", list_anchors, allow_head=False)
    app.router.add_post("/v1/anchors", add_anchor)
    app.router.add_delete("/v1/anchors/{name}", delete_anchor)
    app.router.add_get("/v1/anchors/{name}/image", anchor_image, allow_head=False)
    app.router.add_get("/v1/styles/{name}/image", style_image, allow_head=False)
