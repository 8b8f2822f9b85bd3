"""Audits of posted copies over HTTP: ``POST /v1/audits`` (multipart: ``posted``, the copy
the platform serves; optionally ``original``, the file it was made from, and/or ``entry``, a
history id, for an explicit pair; ``target``/``mode``/``style`` when the original is not in
the history), ``GET /v1/audits``, ``GET /v1/audits/{id}`` and its thumbnail. The measuring is
``service/audits.py``'s, on its own threads."""

from __future__ import annotations

from aiohttp import web

from ...service.jobs import safe_filename
from ..errors import ApiError
from ..keys import AUDITS, HISTORY, SERVICE
from ..multipart import read_form

FILE_PARTS = ("posted", "original")
TEXT_PARTS = ("entry", "mode", "target", "style")


async def create_audit(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    settings = service.settings
    async with read_form(request, incoming=service.store.incoming_dir, cap_mb=settings.max_upload_mb,
                         max_pixels=settings.max_pixels, file_parts=FILE_PARTS, text_parts=TEXT_PARTS,
                         what="the posted copy in a part named 'posted' (optionally 'original' and/or "
                              "'entry')") as form:
        posted = form.path("posted")
        if posted is None:
            raise ApiError(400, "bad_request", "no posted copy: put the image the platform serves in a part named "
                                               "'posted'")
        name = safe_filename(form.filename("posted"), "posted" + form.facts["posted"].extension)
        found = await request.app[AUDITS].audit(posted, name, original=form.path("original"),
                                                entry_id=form.fields.get("entry") or None, overrides=form.fields)
    return web.json_response(found, status=201, headers={"Location": f"/v1/audits/{found['id']}"})


async def list_audits(request: web.Request) -> web.Response:
    return web.json_response({"audits": request.app[HISTORY].audits()})


async def get_audit(request: web.Request) -> web.Response:
    found = request.app[HISTORY].audit(request.match_info["id"])
    if found is None:
        raise ApiError(404, "audit_not_found", "no such audit (the history may have been cleared)")
    return web.json_response(found)


async def audit_thumbnail(request: web.Request) -> web.Response:
    data = request.app[HISTORY].audit_thumbnail(request.match_info["id"])
    if data is None:
        raise ApiError(404, "audit_not_found", "no such audit (the history may have been cleared)")
    return web.Response(body=data, content_type="image/jpeg")


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/audits", create_audit)
    app.router.add_get("/v1/audits", list_audits, allow_head=False)
    app.router.add_get("/v1/audits/{id}", get_audit, allow_head=False)
    app.router.add_get("/v1/audits/{id}/thumbnail", audit_thumbnail, allow_head=False)
