"""``GET /v1/jobs/{id}/preview`` (the verdict in words and the image addresses) and
``GET /v1/jobs/{id}/preview/progress`` (where its making is) and
``GET /v1/jobs/{id}/preview/{kind}.png``: original, shaded, difference x8, what the model
sees of the original and of the shaded image, and the whole sheet (``service/previews.py``
makes them)."""

from __future__ import annotations

from aiohttp import web

from ...service.previews import PREVIEW_KINDS
from ..errors import ApiError
from ..keys import PREVIEWS, SERVICE


async def preview(request: web.Request) -> web.Response:
    job = request.app[SERVICE].get(request.match_info["id"])
    folder, info = await request.app[PREVIEWS].ensure(job)
    base = f"/v1/jobs/{job.id}/preview"
    made = {k: f"{base}/{k}.png" for k in PREVIEW_KINDS if (folder / f"{k}.png").is_file()}   # no target: none
    return web.json_response({"id": job.id, "filename": job.filename, "decoder": info["decoder"],
                              **info["words"], "images": made})


async def preview_progress(request: web.Request) -> web.Response:
    """Where the making of a job's preview is (the first one loads the decoder): the dashboard
    shows it while it waits for ``/preview``."""
    job = request.app[PREVIEWS].done(request.app[SERVICE].get(request.match_info["id"]))
    return web.json_response({"id": job.id, **request.app[PREVIEWS].progress(job)})


async def preview_image(request: web.Request) -> web.StreamResponse:
    kind = request.match_info["kind"]
    if kind not in PREVIEW_KINDS:
        raise ApiError(404, "not_found", f"no preview {kind!r}; there are: {', '.join(PREVIEW_KINDS)}")
    job = request.app[SERVICE].get(request.match_info["id"])
    folder, _ = await request.app[PREVIEWS].ensure(job)
    if not (folder / f"{kind}.png").is_file():
        raise ApiError(404, "not_found", f"this job's preview has no {kind} image (it has no target image to show)")
    return web.FileResponse(folder / f"{kind}.png", headers={"Content-Type": "image/png"})


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/jobs/{id}/preview", preview, allow_head=False)
    app.router.add_get("/v1/jobs/{id}/preview/progress", preview_progress, allow_head=False)
    app.router.add_get("/v1/jobs/{id}/preview/{kind}.png", preview_image, allow_head=False)
