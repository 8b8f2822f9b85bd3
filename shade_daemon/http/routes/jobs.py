"""HTTP handlers for /v1. State changes are POST or DELETE only; every GET is read-only."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

from aiohttp import web
from aiohttp_sse import sse_response

from ...service.events import CLOSE
from ...service.jobs import CONTENT_TYPES, result_filename
from ...service.open_folder import open_in_file_manager
from ...service.rejected import rejected_files
from ...service.store import DONE, FINAL_STATES
from ...service.stronger import shade_again_stronger
from ..errors import ApiError
from ..keys import GUARD, ORIGINS, SERVICE
from ..openapi import openapi_document
from ..origins import is_extension_origin
from ..security import CORS_ORIGIN_KEY
from ..uploads import handle_upload


async def health(request: web.Request) -> web.Response:
    """Liveness (any answer: the daemon runs) and health (``ok``: the worker can shade; when
    it cannot, ``problem`` says why while the supervisor restarts it)."""
    return web.json_response(request.app[SERVICE].health())


async def status(request: web.Request) -> web.Response:
    return web.json_response(request.app[SERVICE].status())


async def create_job(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    job = await handle_upload(request, service)
    return web.json_response({"id": job.id, "status": job.status}, status=202,
                             headers={"Location": f"/v1/jobs/{job.id}"})


async def list_jobs(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    return web.json_response({"jobs": [service.job_view(j) for j in service.store.latest(100)]})


async def get_job(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    return web.json_response(service.job_view(service.get(request.match_info["id"])))


async def cancel_job(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    job = await service.cancel(request.match_info["id"])
    view = service.job_view(job)
    if not job.finished:
        view["cancel_requested"] = True
        return web.json_response(view, status=202)
    return web.json_response(view)


async def stronger_job(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    job, step = await asyncio.to_thread(shade_again_stronger, service, request.match_info["id"])
    return web.json_response({**service.job_view(job), **step}, status=202, headers={"Location": f"/v1/jobs/{job.id}"})


async def rejected(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    files = await asyncio.to_thread(rejected_files, service.settings.watch_folder)
    return web.json_response({"rejected": files})


async def open_to_post(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    await asyncio.to_thread(open_in_file_manager, service.settings.watch_folder)
    return web.json_response({"opened": True})


async def job_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: 'state' (the job as GET returns it) first and on every state
    change, 'progress' ({step, total, stage, progress}) while running; the stream ends
    after the final state."""
    service = request.app[SERVICE]
    job_id = request.match_info["id"]
    service.get(job_id)  # 404 before the stream starts
    queue = service.hub.subscribe(job_id)
    try:
        async with sse_response(request) as resp:
            job = service.get(job_id)
            await resp.send(json.dumps(service.job_view(job)), event="state")
            if job.finished:
                return resp
            closed = asyncio.ensure_future(resp.wait())        # ends when the client goes away
            try:
                while True:
                    getter = asyncio.ensure_future(queue.get())
                    await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():
                        getter.cancel()
                        break
                    item = getter.result()
                    if item is CLOSE:
                        break
                    event, data = item
                    await resp.send(json.dumps(data), event=event)
                    if event == "state" and data.get("status") in FINAL_STATES:
                        break
            finally:
                closed.cancel()
        return resp
    finally:
        service.hub.unsubscribe(job_id, queue)


def _disposition(filename: str) -> str:
    """RFC 6266: the exact name in filename* (first, for simple parsers), an ASCII fallback."""
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\%' else "_" for ch in filename)
    return f"attachment; filename*=UTF-8''{quote(filename, safe='')}; filename=\"{ascii_name}\""


async def job_result(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    job = service.get(request.match_info["id"])
    if job.status != DONE:
        detail = f": {job.error_message}" if job.error_message else ""
        raise ApiError(409, "job_not_done", f"job {job.id} is {job.status}{detail}; the result exists once it is done")
    path = service.store.path_of(job, job.result_file)
    if path is None or not path.is_file():
        raise ApiError(410, "result_gone", "the result file is gone (pruned or removed); submit the image again")
    fmt = job.result_format or ""
    return web.FileResponse(path, headers={
        "Content-Type": CONTENT_TYPES.get(fmt, "application/octet-stream"),
        "Content-Disposition": _disposition(result_filename(job.filename, fmt)),
    })


async def pause(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    service.worker.pause()
    return web.json_response({"paused": True, "queue_length": service.status()["queue_length"]})


async def resume(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    service.worker.resume()
    return web.json_response({"paused": False, "queue_length": service.status()["queue_length"]})


async def pair(request: web.Request) -> web.Response:
    origin = request.headers.get("Origin")
    if not origin:
        raise ApiError(400, "origin_required", "pairing records the calling extension's origin: send this request "
                                               "from the Shade extension (it carries an Origin header)")
    if not is_extension_origin(origin):
        raise ApiError(403, "origin_not_allowed", "only browser-extension origins can pair")
    recorded = request.app[ORIGINS].record(origin)
    request[CORS_ORIGIN_KEY] = recorded
    return web.json_response({"ok": True, "origin": recorded})


async def reload_token(request: web.Request) -> web.Response:
    """The control channel of `shade token --rotate` where there is no SIGHUP: read the token
    store again. The caller proves itself with the token it is replacing."""
    changed = await asyncio.to_thread(request.app[GUARD].reload)
    return web.json_response({"reloaded": True, "changed": changed})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/health", health, allow_head=False)
    app.router.add_get("/v1/status", status, allow_head=False)
    app.router.add_post("/v1/jobs", create_job)
    app.router.add_get("/v1/jobs", list_jobs, allow_head=False)
    app.router.add_get("/v1/jobs/{id}", get_job, allow_head=False)
    app.router.add_delete("/v1/jobs/{id}", cancel_job)
    app.router.add_get("/v1/jobs/{id}/events", job_events, allow_head=False)
    app.router.add_get("/v1/jobs/{id}/result", job_result, allow_head=False)
    app.router.add_post("/v1/jobs/{id}/stronger", stronger_job)
    app.router.add_get("/v1/rejected", rejected, allow_head=False)
    app.router.add_post("/v1/to-post/open", open_to_post)
    app.router.add_post("/v1/pause", pause)
    app.router.add_post("/v1/resume", resume)
    app.router.add_post("/v1/pair", pair)
    app.router.add_post("/v1/token/reload", reload_token)
    app.router.add_get("/v1/openapi.json", openapi, allow_head=False)
