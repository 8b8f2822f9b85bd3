"""The history over HTTP: ``GET /v1/history?q=NAME`` (newest first, searched by file
name), ``DELETE /v1/history`` (forget every entry and audit), ``GET /v1/history/{id}``
(one entry with its audits) and its thumbnail."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ...service.history import Entry
from ..errors import ApiError
from ..keys import HISTORY, SERVICE

CATCH_UP = 20       # before a read: the newest jobs that may have ended a moment ago


def entry_view(request: web.Request, entry: Entry) -> dict:
    """An entry as the API shows it, with what of its job is still there (preview, result)."""
    job = request.app[SERVICE].store.get(entry.id)
    view = entry.view()
    view["job_kept"] = job is not None
    view["preview_url"] = f"/v1/jobs/{entry.id}/preview" if job is not None else None
    view["result_url"] = f"/v1/jobs/{entry.id}/result" if job is not None else None
    return view


async def list_history(request: web.Request) -> web.Response:
    query = request.query.get("q", "")[:200]
    history = request.app[HISTORY]
    await asyncio.to_thread(history.backfill, CATCH_UP)
    entries = await asyncio.to_thread(history.search, query)
    return web.json_response({"entries": [entry_view(request, e) for e in entries], "query": query})


async def get_entry(request: web.Request) -> web.Response:
    history = request.app[HISTORY]
    entry = history.get(request.match_info["id"])
    if entry is None:
        raise ApiError(404, "entry_not_found", "no such history entry (it may have been cleared)")
    return web.json_response({**entry_view(request, entry), "audits": history.audits(entry.id)})


async def clear_history(request: web.Request) -> web.Response:
    removed = await asyncio.to_thread(request.app[HISTORY].clear)
    return web.json_response({"cleared": True, **removed})


async def thumbnail(request: web.Request) -> web.Response:
    data = request.app[HISTORY].thumbnail_of(request.match_info["id"])
    if data is None:
        raise ApiError(404, "entry_not_found", "no such history entry (it may have been cleared)")
    return web.Response(body=data, content_type="image/jpeg")


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/history", list_history, allow_head=False)
    app.router.add_delete("/v1/history", clear_history)
    app.router.add_get("/v1/history/{id}", get_entry, allow_head=False)
    app.router.add_get("/v1/history/{id}/thumbnail", thumbnail, allow_head=False)
