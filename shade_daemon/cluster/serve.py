"""``shade serve --ray ADDRESS``: a platform's upload API as a Ray Serve application.

Two deployments: ``ShadeAPI``, the ingress (no CPUs: checks the key, the size, the options and
the image's header, so bad requests are answered at once with a 4xx and never reach a model),
and ``ShadeModel``, the replicas holding the models (one image at a time each, autoscaled on
the queue). A replica that dies under a request is the ingress's to retry on another; after
``MODEL_ATTEMPTS`` the client gets a 503 saying to retry, never a hang.

API (errors are the daemon's JSON: ``{"error": {"code": ..., "message": ...}}``):
  GET  /v1/health                  -> 200 {"ok": true}
  POST /v1/protect                 -> 200 the shaded file (same format), X-Shade-Measurements: JSON
  POST /v1/jobs                    -> 202 {"id", "status", "status_url", "result_url"}: the same
       upload, answered at once (large files); then
  GET  /v1/jobs/{id}               -> 200 the job: status queued/running/done/failed, its
       measurements or its error
  GET  /v1/jobs/{id}/result        -> 200 the shaded file once done; 409 not_ready before (Retry-After)
  Every request but health: Authorization: Bearer KEY (or X-API-Key: KEY), and a job is seen
  only with the key that made it. Uploads: the image as the raw body (options in the query
  string) or multipart/form-data with a file field ``image`` (options as fields). Options:
  mode, target, intensity, quality, seed.
"""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import dataclass, field, replace
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Optional

from .jobs import RUNNING, JobsFull, JobStore
from .keys import digest, key_allowed
from .worker import load_protector, shade_one

MODEL_ATTEMPTS = 3
REQUEST_FIELDS = ("mode", "target", "intensity", "quality", "seed")
STATUS_BY_CODE = {"ImageTooLarge": 400, "ImageError": 400, "OptionsError": 400, "AnchorNotFound": 400,
                  "StyleNotFound": 400, "ModelNotFound": 503, "DeviceUnavailable": 503, "Cancelled": 503}


@dataclass(frozen=True)
class ServeConfig:
    """What the application is deployed with (picklable: it travels to every replica)."""

    key_digests: tuple[str, ...]
    base_options: Any                           # ProtectOptions: the defaults, the models and the limits
    max_upload_bytes: int = 64 * 2 ** 20
    min_replicas: int = 1
    max_replicas: int = 2
    cpus_per_replica: float = 1.0
    gpus_per_replica: float = 0.0
    job_bytes: int = 2 * 2 ** 30               # uploads and results held for /v1/jobs at once
    job_ttl_s: float = 3600.0                  # how long a finished job's result waits to be fetched
    extra: dict[str, Any] = field(default_factory=dict)


class RequestError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Optional[dict[str, str]] = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_response(status: int, code: str, message: str, headers: Optional[dict[str, str]] = None) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def request_options(base: Any, fields: dict[str, str]) -> Any:
    """The base options with the request's fields over them, validated (RequestError 400)."""
    from shading import OptionsError

    unknown = sorted(set(fields) - set(REQUEST_FIELDS))
    if unknown:
        raise RequestError(400, "bad_option", f"unknown option(s) {', '.join(unknown)}; known: "
                           f"{', '.join(REQUEST_FIELDS)}")
    changes: dict[str, Any] = {k: v for k, v in fields.items() if k != "seed" and v}
    if fields.get("seed"):
        try:
            changes["seed"] = int(fields["seed"])
        except ValueError:
            raise RequestError(400, "bad_option", f"seed must be a whole number, not {fields['seed']!r}") from None
    if changes.get("mode") == "cloak":
        changes["target"] = None
    options = replace(base, **changes)
    try:
        options.validate()
    except OptionsError as exc:
        raise RequestError(400, "bad_option", str(exc)) from None
    return options


def check_image_header(data: bytes, max_pixels: int) -> str:
    """The image's format from its header; RequestError 400 for what Shade cannot use."""
    from PIL import Image, UnidentifiedImageError

    from shading import FORMATS

    if not data:
        raise RequestError(400, "bad_image", "the upload is empty; send a PNG, JPEG or WebP image")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height) = (img.format or "").upper(), img.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise RequestError(400, "bad_image", "not an image Shade can read; use PNG, JPEG or WebP") from None
    if fmt not in FORMATS:
        raise RequestError(400, "bad_image", f"{fmt or 'this'} images are not supported; use PNG, JPEG or WebP")
    if width * height > max_pixels:
        raise RequestError(400, "too_large", f"{width}x{height} is {width * height / 1e6:.1f} megapixels; Shade "
                           f"handles up to {max_pixels / 1e6:.0f} MP: downscale it first")
    return fmt


def parse_multipart(content_type: str, body: bytes) -> tuple[bytes, dict[str, str]]:
    """(the ``image`` file field, the other fields) of a multipart/form-data body."""
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
                                                  + body)
    if not message.is_multipart():
        raise RequestError(400, "bad_request", "malformed multipart body")
    image: Optional[bytes] = None
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if name == "image":
            image = payload
        elif name:
            fields[str(name)] = payload.decode("utf-8", "replace").strip()
    if image is None:
        raise RequestError(400, "bad_request", "no file field named 'image' in the form")
    return image, fields


async def read_body(request: Any, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` (a lying Content-Length included)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, "too_large", f"the upload is larger than {limit // 2 ** 20} MB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, "too_large", f"the upload is larger than {limit // 2 ** 20} MB")
        chunks.append(chunk)
    return b"".join(chunks)


class ShadeModelImpl:
    """A replica: the models loaded once, one image at a time."""

    def __init__(self, base_options: Any) -> None:
        self.protector = load_protector(base_options)

    async def shade(self, data: bytes, options: Any) -> dict[str, Any]:
        # Off the replica's event loop, so its health checks are answered while it works.
        return await asyncio.to_thread(shade_one, self.protector, data, options)


class ShadeAPIImpl:
    """The ingress: every check that needs no model, then a model replica."""

    def __init__(self, model: Any, config: ServeConfig) -> None:
        self.model = model
        self.config = config
        self.jobs = JobStore(config.job_bytes, config.job_ttl_s)

    async def __call__(self, request: Any) -> Any:
        try:
            return await self._route(request)
        except RequestError as exc:
            return error_response(exc.status, exc.code, exc.message, exc.headers)

    async def _route(self, request: Any) -> Any:
        path = request.url.path.rstrip("/")
        if path == "/v1/health":
            from starlette.responses import JSONResponse

            return JSONResponse({"ok": True})
        parts = path.split("/")
        if path in ("/v1/protect", "/v1/jobs"):
            method = "POST"
        elif len(parts) in (4, 5) and parts[:3] == ["", "v1", "jobs"] and (len(parts) == 4 or parts[4] == "result"):
            method = "GET"
        else:
            raise RequestError(404, "not_found", f"no such endpoint {path or '/'}; POST images to /v1/protect "
                               "or /v1/jobs")
        if request.method != method:
            raise RequestError(405, "method_not_allowed", f"{method} {path}", {"Allow": method})
        owner = self._owner(request)
        if method == "GET":
            return self._job_answer(parts[3], owner, result=len(parts) == 5)
        body = await read_body(request, self.config.max_upload_bytes)
        content_type = request.headers.get("content-type", "")
        if content_type.lower().startswith("multipart/form-data"):
            data, fields = parse_multipart(content_type, body)
        else:
            data, fields = body, dict(request.query_params)
        options = request_options(self.config.base_options, fields)
        check_image_header(data, options.max_pixels)
        if path == "/v1/jobs":
            return self._start_job(owner, data, options)
        return file_response(_checked(await self._shade(data, options)))

    def _owner(self, request: Any) -> str:
        """The digest of the request's key; RequestError 401 without a valid one."""
        given = request.headers.get("x-api-key")
        auth = request.headers.get("authorization", "")
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if not key_allowed(given, self.config.key_digests):
            raise RequestError(401, "unauthorized", "a valid API key is required (Authorization: Bearer KEY)",
                               {"WWW-Authenticate": "Bearer"})
        return digest(given or "")

    def _start_job(self, owner: str, data: bytes, options: Any) -> Any:
        from starlette.responses import JSONResponse

        try:
            job = self.jobs.add(owner, len(data))
        except JobsFull as exc:
            raise RequestError(503, "busy", str(exc), {"Retry-After": "30"}) from None

        async def run() -> None:
            job.status = RUNNING
            try:
                result = await self._shade(data, options)
            except RequestError as exc:
                result = {"ok": False, "code": exc.code, "error": exc.message}
            except Exception as exc:  # noqa: BLE001 - the job's error, never a lost job
                result = {"ok": False, "code": "internal", "error": f"{type(exc).__name__}: {exc}"}
            self.jobs.finish(job, result)

        job.task = asyncio.get_running_loop().create_task(run())
        return JSONResponse(job.view(), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})

    def _job_answer(self, job_id: str, owner: str, result: bool) -> Any:
        from starlette.responses import JSONResponse

        job = self.jobs.get(job_id, owner)
        if job is None:
            raise RequestError(404, "unknown_job", "no such job for this key (a finished job is kept "
                               f"{self.config.job_ttl_s / 60:.0f} minutes)")
        if not result:
            return JSONResponse(job.view())
        if job.ended is None:
            raise RequestError(409, "not_ready", f"the job is {job.status}; ask again shortly", {"Retry-After": "2"})
        return file_response(_checked(job.result))

    async def _shade(self, data: bytes, options: Any) -> dict[str, Any]:
        from ray.exceptions import RayError

        last = ""
        for _ in range(MODEL_ATTEMPTS):
            try:
                return await self.model.shade.remote(data, options)
            except RayError as exc:     # the replica died or was replaced under the request: another one takes it
                last = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                await asyncio.sleep(0.5)
        raise RequestError(503, "unavailable", f"no shading replica could finish the image ({last}); retry shortly",
                           {"Retry-After": "5"})


def _checked(result: dict[str, Any]) -> dict[str, Any]:
    """A shading's answer, or its refusal as the matching 4xx/5xx."""
    if not result["ok"]:
        code = result["code"]
        status = STATUS_BY_CODE.get(code, 503 if code == "unavailable" else 500)
        raise RequestError(status, code, result["error"])
    return result


def file_response(result: dict[str, Any]) -> Any:
    """The shaded file in its format, the measurements in a header."""
    from starlette.responses import Response

    from shading import FORMATS

    fmt = result["format"].upper()
    measurements = json.dumps(result["measurements"], separators=(",", ":"), default=str)
    return Response(result["data"], media_type=FORMATS.get(fmt, ("application/octet-stream",))[0],
                    headers={"X-Shade-Measurements": measurements})


def build_app(config: ServeConfig) -> Any:
    """The Serve application (deployments bound to their arguments)."""
    from ray import serve

    model = serve.deployment(
        ShadeModelImpl, name="ShadeModel", max_ongoing_requests=1,
        ray_actor_options={"num_cpus": config.cpus_per_replica, "num_gpus": config.gpus_per_replica},
        autoscaling_config={"min_replicas": config.min_replicas, "max_replicas": config.max_replicas,
                            "target_ongoing_requests": 1, "upscale_delay_s": 2, "downscale_delay_s": 60})
    api = serve.deployment(ShadeAPIImpl, name="ShadeAPI", max_ongoing_requests=1000,
                           ray_actor_options={"num_cpus": 0})
    return api.bind(model.bind(config.base_options), config)


def deploy(config: ServeConfig, host: str = "127.0.0.1", port: int = 8000, name: str = "shade") -> None:
    """Start Serve's HTTP proxy on the head node at host:port and run the application there."""
    from ray import serve

    serve.start(http_options={"host": host, "port": port}, proxy_location="HeadOnly")
    serve.run(build_app(config), name=name, route_prefix="/")
