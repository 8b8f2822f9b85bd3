"""The one place that turns errors into HTTP answers.

Every error the API sends is JSON ``{"error": {"code", "message"}}``. The service raises
its own errors (``service.errors``) and the core its ``ShadeError``s, each with a code that
``STATUS`` maps to a status; handlers raise ``ApiError`` only for what is HTTP's own (a
malformed body, a wrong content type). aiohttp's own 404/405 are rewritten too, and
anything unexpected becomes a 500 whose details go to the log, not the client.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from aiohttp import ClientPayloadError, web

from ..service.errors import (
    BadRequest,
    Busy,
    Conflict,
    DiskFull,
    Gone,
    NotFound,
    ServiceError,
    StorageError,
    is_disk_full,
    redact_paths,
    storage_error,
)

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


# THE table: every error code the core (shading.ShadeError.code) or the service
# (service.errors.ServiceError.code) raises -> the HTTP status it answers with.
STATUS = {
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
    # The service's own (shade_daemon.service.errors).
    "bad_request": 400,
    "not_found": 404,
    "job_not_found": 404,
    "entry_not_found": 404,
    "audit_not_found": 404,
    "no_match": 404,
    "conflict": 409,
    "job_not_done": 409,
    "no_stronger_intensity": 409,
    "no_file_manager": 501,
    "anchor_exists": 409,
    "style_exists": 409,
    "original_not_kept": 409,
    "result_gone": 410,
    "queue_full": 503,
    "worker_unavailable": 503,
    # Insufficient Storage: the request is fine, the disk has no room for it.
    "disk_full": 507,
    "storage_error": 500,
}
SHADE_STATUS = STATUS      # the name older code and tests know
# The service's error kinds -> status: they decide for a ServiceError, whatever its code (a
# library's "anchor_not_found" is a 404, where the core's, a job naming no anchor, is a 400).
KIND_STATUS = {BadRequest: 400, NotFound: 404, Conflict: 409, Gone: 410, Busy: 503, DiskFull: 507, StorageError: 500}


def status_of(exc: BaseException, code: str) -> int:
    """The one mapping from an error (the service's, by kind; the core's, by code) to a status."""
    if isinstance(exc, ServiceError):
        for cls in type(exc).__mro__:
            if cls in KIND_STATUS:
                return KIND_STATUS[cls]
    return STATUS.get(code, 500)

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
        # Core and service errors carry a message written for the user.
        retry = getattr(exc, "retry_after", None)
        return error_response(status_of(exc, code), code, redact_paths(str(exc)),
                              {"Retry-After": str(retry)} if retry else None)
    if isinstance(exc, OSError) and is_disk_full(exc):
        err = storage_error(exc, "Shade's data folder")
        return error_response(STATUS[err.code], err.code, err.message)
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
# What a person reads on such a page; the daemon's own message goes under "details".
PAGE_WORDS = {
    "unauthorized": "This page is not signed in to Shade: Shade may have restarted, or the sign-in expired. Sign in "
                    "again: click \u201cOpen Shade\u201d in the browser extension's menu or in Shade's tray menu.",
}


def as_page(request: web.Request, response: web.Response) -> web.Response:
    """The dashboard's pages answer errors as a small HTML page (same status and code) when a
    browser navigates to them; everything else keeps the JSON answer."""
    if not request.path.startswith(PAGE_PREFIX) or request.method != "GET" \
            or "text/html" not in request.headers.get("Accept", ""):
        return response
    import html
    import json

    err = json.loads(response.body)["error"]
    words = PAGE_WORDS.get(err["code"])
    detail = (f"<details style=\"color:#666\"><summary>details</summary>{html.escape(err['message'])} "
              f"({html.escape(err['code'])})</details>") if words else \
        f"<p style=\"color:#666\">({html.escape(err['code'])})</p>"
    body = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shade</title></head><body "
            f"style=\"font-family:sans-serif;max-width:40em;margin:3em auto\"><h1>Shade</h1>"
            f"<p>{html.escape(words or err['message'])}</p>{detail}</body></html>")
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

