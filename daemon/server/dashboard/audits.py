"""Audits of posted copies: ``POST /v1/audits`` (multipart: ``posted``, the copy the
platform serves; optionally ``original``, the file it was made from, and/or ``entry``, a
history id, for an explicit pair; ``target``/``mode``/``style`` when the original is not in
the history), ``GET /v1/audits``, ``GET /v1/audits/{id}`` and its thumbnail.

Without an explicit pair the copy is matched to a history entry by perceptual hash. The
original's pixels come from the explicit file, else the job's folder while it is kept,
else the place the watched folder moved the original to."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Optional

from aiohttp import web

from ..errors import ApiError
from ..jobs import safe_filename
from ..keys import HISTORY, SERVICE
from . import measure
from .forms import image_form
from .history import thumbnail
from .history_routes import CATCH_UP

FILE_PARTS = ("posted", "original")
TEXT_PARTS = ("entry", "mode", "target", "style")


def _original_of(request: web.Request, entry_id: str) -> tuple[Optional[Path], Optional[Path], Optional[Path]]:
    """(original, anchor image, style image) files still kept for a history entry."""
    store = request.app[SERVICE].store
    job = store.get(entry_id)
    if job is not None:
        original = store.path_of(job, job.input_file)
        if original is not None and original.is_file():
            return original, store.path_of(job, job.anchor_file), store.path_of(job, job.style_file)
    entry = request.app[HISTORY].get(entry_id)
    kept = Path(entry.original_path) if entry and entry.original_path else None
    return (kept if kept is not None and kept.is_file() else None), None, None


async def create_audit(request: web.Request) -> web.Response:
    service, history = request.app[SERVICE], request.app[HISTORY]
    settings = service.settings
    async with image_form(request, service, FILE_PARTS, TEXT_PARTS,
                          "the posted copy in a part named 'posted' (optionally 'original' and/or 'entry')") as form:
        posted = form.path("posted")
        if posted is None:
            raise ApiError(400, "bad_request", "no posted copy: put the image the platform serves in a part named "
                                               "'posted'")
        posted_rgb = await asyncio.to_thread(measure.load_rgb, posted)
        copy_print = await asyncio.to_thread(measure.fingerprint_of, posted_rgb)
        entry_id = form.fields.get("entry") or None
        matched: Optional[dict[str, Any]] = None
        if entry_id is None and form.path("original") is None:
            await asyncio.to_thread(history.backfill, CATCH_UP)
            matched = await asyncio.to_thread(measure.match, copy_print, history.candidates())
            if matched is None:
                raise ApiError(404, "no_match", "no image in the history matches this copy; drop the original too "
                                                "(an explicit pair), or check that it was shaded on this computer")
            entry_id = matched["entry_id"]
        entry = history.get(entry_id) if entry_id else None
        if entry_id and entry is None:
            raise ApiError(404, "entry_not_found", "no such history entry (it may have been cleared)")
        anchor = style = None
        if form.path("original") is not None:
            original_file = form.path("original")
        else:
            original_file, anchor, style = _original_of(request, entry_id)
            if original_file is None:
                raise ApiError(409, "original_not_kept",
                               f"the original of {entry.filename} is no longer kept (its job was pruned and the "
                               "watched folder did not keep it); drop the original too, as an explicit pair")
        original_rgb = await asyncio.to_thread(measure.load_rgb, original_file)
        options = dict(entry.options) if entry else {}
        for key in ("mode", "target", "style"):
            if form.fields.get(key):
                options[key] = form.fields[key]
        report = await asyncio.to_thread(measure.audit, posted, original_rgb, options,
                                         entry.measurements if entry else {}, settings,
                                         anchor=anchor if anchor and anchor.is_file() else None,
                                         style=style if style and style.is_file() else None)
        report["match"] = matched or {"how": "explicit pair"}
        report["entry_filename"] = entry.filename if entry else None
        name = safe_filename(form.filename("posted"), "posted" + form.facts["posted"].extension)
        thumb = await asyncio.to_thread(thumbnail, posted_rgb)
    audit_id = history.add_audit(entry_id, name, report, thumb)
    return web.json_response(history.audit(audit_id), status=201, headers={"Location": f"/v1/audits/{audit_id}"})


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
