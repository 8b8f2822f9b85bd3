"""Request checks for a service on a loopback port that browsers can reach.

Order: Host allow-list (DNS rebinding), CORS preflight, Origin allow-list, bearer token.
CORS answers name the exact allowed origin (never ``*``) and are added when the
response is prepared, so streamed (SSE) and error answers carry them too.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from typing import Callable

from aiohttp import web

from .errors import ApiError, Handler
from .origins import ORIGIN_FORMS, OriginPolicy, is_extension_origin, normalize_origin

log = logging.getLogger("shade.daemon")

PUBLIC_PATHS = {"/v1/health"}         # no token needed (liveness and version only)
PAIR_PATH = "/v1/pair"                # records the caller's extension origin
# aiohttp >= 3.13 has typed request keys; older ones take a plain string.
CORS_ORIGIN_KEY = web.RequestKey("shade.cors_origin", str) if hasattr(web, "RequestKey") else "shade.cors_origin"
ALLOWED_METHODS = "GET, POST, DELETE, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type, Last-Event-ID"
EXPOSED_HEADERS = "Content-Disposition, Location"


class TokenGuard:
    """Holds the API token and compares in constant time. After a mismatch it re-reads
    the store (at most every ``reload_interval`` s) so `shade token --rotate` takes effect
    without a restart."""

    def __init__(self, loader: Callable[[], str], reload_interval: float = 2.0):
        self._loader = loader
        self._token = loader()
        self._interval = reload_interval
        self._last_reload = time.monotonic()
        self._lock = threading.Lock()

    @property
    def token(self) -> str:
        return self._token

    @staticmethod
    def _same(a: str, b: str) -> bool:
        # Header values arrive as str that may hold escaped non-UTF-8 bytes: never fail on them.
        return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))

    def expire(self) -> None:
        """Let the next mismatch re-read the store at once (the tray and tests call this
        right after a rotation)."""
        with self._lock:
            self._last_reload = float("-inf")

    def check(self, presented: str) -> bool:
        if self._same(presented, self._token):
            return True
        with self._lock:
            now = time.monotonic()
            if now - self._last_reload < self._interval:
                return False
            self._last_reload = now
            try:
                fresh = self._loader()
            except Exception:  # noqa: BLE001 - a broken store must not open the door
                log.warning("could not re-read the API token; keeping the current one", exc_info=True)
                return False
            self._token = fresh
        return self._same(presented, fresh)


def allowed_hosts(request: web.Request) -> set[str]:
    """Host values accepted on the port this connection actually came in on."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    port = sockname[1] if sockname else None
    return {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}


def _bearer(request: web.Request) -> str | None:
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or not token.isascii() or not token.isprintable():
        return None        # API tokens are printable ASCII: anything else is simply wrong (401)
    return token


def make_security_middleware(guard: TokenGuard, origins: OriginPolicy):
    @web.middleware
    async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = (request.headers.get("Host") or "").lower()
        if host not in allowed_hosts(request):
            raise ApiError(403, "bad_host", "the Host header must be 127.0.0.1:PORT, localhost:PORT or [::1]:PORT "
                                            "(requests through other host names are refused)")

        origin = request.headers.get("Origin")
        is_pair = request.path == PAIR_PATH
        if origin is not None:
            ok = origins.is_allowed(origin) or (is_pair and is_extension_origin(origin))
            if not ok:
                if is_pair:
                    raise ApiError(403, "origin_not_allowed",
                                   f"only the Shade browser extension can pair: its origin must be {ORIGIN_FORMS}")
                raise ApiError(403, "origin_not_allowed",
                               f"origin {origin} is not allowed; pair the Shade extension with the code from "
                               "`shade token --pairing-code`, or add the origin to allowed_origins in the config")
            request[CORS_ORIGIN_KEY] = normalize_origin(origin)
            if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
                return web.Response(status=204, headers={
                    "Access-Control-Allow-Methods": ALLOWED_METHODS,
                    "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                    "Access-Control-Max-Age": "600",
                })

        if request.path not in PUBLIC_PATHS:
            token = _bearer(request)
            if token is None or not guard.check(token):
                raise ApiError(401, "unauthorized",
                               "missing or wrong API token: send 'Authorization: Bearer <token>' "
                               "(`shade token` prints it; the extension gets it by pairing)",
                               headers={"WWW-Authenticate": 'Bearer realm="shade"'})
        return await handler(request)

    return security_middleware


async def add_common_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: exact-origin CORS and a few hardening headers."""
    origin = request.get(CORS_ORIGIN_KEY)
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    response.headers["Vary"] = "Origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Cache-Control", "no-store")
