"""The one place that turns errors into HTTP answers.

Every error the API sends is JSON ``{"error": {"code", "message"}}``. Handlers raise
``ApiError`` (or a core ``ShadeError``); aiohttp's own 404/405 are rewritten too, and
anything unexpected becomes a 500 whose details go to the log, not the client.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable

from aiohttp import ClientPayloadError, web

log = logging.getLogger("shade.daemon")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An error answer: HTTP status, stable short code, message saying what to do."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


# Core error codes (shading.ShadeError.code) -> HTTP status.
SHADE_STATUS = {
    "bad_image": 400,
    "image_too_large": 400,
    "anchor_not_found": 400,
    "style_not_found": 400,
    "bad_options": 400,
    "model_not_found": 503,
    # The configured device cannot be used: the request is fine (a 4xx would blame the caller, who
    # cannot choose the device), the daemon as set up cannot shade until its `device` setting
    # changes (a 500 would mean a bug). 503 is "this service cannot serve now", like a missing model.
    "device_unavailable": 503,
    "cancelled": 409,
}

# aiohttp's own exceptions (no route, wrong method, ...) -> our codes.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "upload_too_large",
    415: "unsupported_media_type",
}


def redact_paths(message: str, names: Iterable[tuple[Any, str]] = ()) -> str:
    """``message`` without absolute server paths: each known path (longest first) becomes the
    name the user knows it by, and the home folder becomes ``~``."""
    pairs = sorted(((str(p), name) for p, name in names if p), key=lambda pn: len(pn[0]), reverse=True)
    for path, name in pairs:
        message = message.replace(path, name)
    home = str(Path.home())
    if len(home) > 1:
        message = message.replace(home, "~")
    return message


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(error_body(code, message), status=status, headers=headers)


def to_response(exc: BaseException) -> web.Response:
    """Map any exception to the JSON error answer the API promises."""
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.headers)
    code = getattr(exc, "code", None)
    if isinstance(code, str) and not isinstance(exc, web.HTTPException):
        # Core errors (and ours with a code) carry a message written for the user.
        return error_response(SHADE_STATUS.get(code, 500), code, redact_paths(str(exc)))
    if isinstance(exc, (ClientPayloadError, ConnectionResetError, asyncio.IncompleteReadError)):
        return error_response(400, "upload_incomplete", "the request body was cut off; send it again")
    if isinstance(exc, web.HTTPException):
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        status = exc.status
        message = exc.text if exc.text and not exc.text.startswith(f"{status}:") else exc.reason
        if status == 404:
            message = "no such endpoint; see /v1/openapi.json"
        elif status == 405:
            message = f"method not allowed here; allowed: {exc.headers.get('Allow', '')}"
        return error_response(status, _HTTP_CODES.get(status, "http_error"), message, headers)
    log.exception("unexpected error while answering a request", exc_info=exc)
    return error_response(500, "internal_error", "unexpected error inside the daemon; details are in its log")


PAGE_PREFIX = "/app"      # the dashboard's pages: a browser navigating there gets the error as a page


def as_page(request: web.Request, response: web.Response) -> web.Response:
    """The dashboard's pages answer errors as a small HTML page (same status and code) when a
    browser navigates to them; everything else keeps the JSON answer."""
    if not request.path.startswith(PAGE_PREFIX) or request.method != "GET" \
            or "text/html" not in request.headers.get("Accept", ""):
        return response
    import html
    import json

    err = json.loads(response.body)["error"]
    body = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shade</title></head><body "
            f"style=\"font-family:sans-serif;max-width:40em;margin:3em auto\"><h1>Shade</h1><p>{html.escape(err['message'])}"
            f"</p><p style=\"color:#666\">({html.escape(err['code'])})</p></body></html>")
    return web.Response(status=response.status, text=body, content_type="text/html",
                        headers={k: v for k, v in response.headers.items() if k in ("WWW-Authenticate", "Allow")})


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return as_page(request, to_response(exc))
    except Exception as exc:  # noqa: BLE001 - this is the mapping point
        return as_page(request, to_response(exc))


def job_error_fields(exc: BaseException, names: Iterable[tuple[Any, str]] = ()) -> tuple[str, str]:
    """(code, message) stored on a failed job; ``names`` maps the job's server paths to
    the names the user knows (see ``redact_paths``)."""
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        return code, redact_paths(str(exc), names)
    log.exception("job failed with an unexpected error", exc_info=exc)
    return "internal_error", redact_paths(f"unexpected error while shading ({type(exc).__name__}: {exc}); details "
                                          "are in the daemon log", names)
