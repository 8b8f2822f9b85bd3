"""``GET /v1/events``: one server-sent-event stream for the whole queue (the dashboard's
queue page): ``jobs`` (the newest jobs) and ``status`` first, then every job's ``state``
and ``progress`` events as they happen, and ``status`` again every few seconds (pause
state, queue length)."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from aiohttp_sse import sse_response

from ...service.events import ALL, CLOSE
from ..keys import SERVICE

STATUS_EVERY = 2.0


async def events(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    queue = service.hub.subscribe(ALL)
    try:
        async with sse_response(request) as resp:
            await resp.send(json.dumps({"jobs": [service.job_view(j) for j in service.store.latest(100)]}),
                            event="jobs")
            await resp.send(json.dumps(service.status()), event="status")
            closed = asyncio.ensure_future(resp.wait())
            try:
                while True:
                    getter = asyncio.ensure_future(queue.get())
                    await asyncio.wait({getter, closed}, timeout=STATUS_EVERY, return_when=asyncio.FIRST_COMPLETED)
                    if closed.done():
                        getter.cancel()
                        break
                    if not getter.done():
                        getter.cancel()
                        await resp.send(json.dumps(service.status()), event="status")
                        continue
                    item = getter.result()
                    if item is CLOSE:
                        break
                    event, data = item
                    await resp.send(json.dumps(data), event=event)
            finally:
                closed.cancel()
        return resp
    finally:
        service.hub.unsubscribe(ALL, queue)


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/events", events, allow_head=False)
