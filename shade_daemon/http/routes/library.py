"""The anchor and style libraries over HTTP, one set of routes for both kinds:
``GET /v1/{anchors,styles}`` (the user's first, then the built-in ones), ``POST`` (multipart
``name`` and ``image``, through the one multipart reader), ``DELETE /v1/{kind}/{name}`` (the
user's own only) and ``GET /v1/{kind}/{name}/image`` (a small preview)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ...service.library import ANCHORS, STYLES, Kind
from ..errors import ApiError
from ..keys import LIBRARY, SERVICE
from ..multipart import read_form


def _routes(kind: Kind):
    async def listing(request: web.Request) -> web.Response:
        return web.json_response(request.app[LIBRARY].listing(kind))

    async def add(request: web.Request) -> web.Response:
        service, library = request.app[SERVICE], request.app[LIBRARY]
        settings = service.settings
        async with read_form(request, incoming=service.store.incoming_dir, cap_mb=settings.max_upload_mb,
                             max_pixels=settings.max_pixels, file_parts=("image",), text_parts=("name",),
                             what=f"a field 'name' and the {kind.name} image in a part named 'image'") as form:
            image = form.path("image")
            if image is None:
                raise ApiError(400, "bad_request", f"no image: put the {kind.name} image in a part named 'image'")
            name = await asyncio.to_thread(library.add, kind, form.fields.get("name", ""), image,
                                           form.facts["image"].extension)
        return web.json_response({"name": name, **library.listing(kind)}, status=201)

    async def delete(request: web.Request) -> web.Response:
        library = request.app[LIBRARY]
        name = library.delete(kind, request.match_info["name"])
        return web.json_response({"removed": name, **library.listing(kind)})

    async def image(request: web.Request) -> web.Response:
        data = await asyncio.to_thread(request.app[LIBRARY].preview_jpeg, kind, request.match_info["name"])
        return web.Response(body=data, content_type="image/jpeg")

    return listing, add, delete, image


def setup(app: web.Application) -> None:
    for kind in (ANCHORS, STYLES):
        listing, add, delete, image = _routes(kind)
        base = f"/v1/{kind.plural}"
        app.router.add_get(base, listing, allow_head=False)
        app.router.add_post(base, add)
        app.router.add_delete(base + "/{name}", delete)
        app.router.add_get(base + "/{name}/image", image, allow_head=False)
