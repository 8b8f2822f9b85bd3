"""Request checks for a service on a loopback port that browsers can reach.

Order: Host allow-list (DNS rebinding), CORS preflight, Origin allow-list, then the
bearer token or, for the dashboard, its session cookie (see ``sessions.py``):
a cookie counts only on the Host it was made for, never on a cross-site or same-site
(another loopback port) request, and a state change with it must come from the
dashboard's own Origin and carry the session's CSRF token.
CORS answers name the exact allowed origin (never ``*``) and are added when the
response is prepared, so streamed (SSE) and error answers carry them too.
"""

from __future__ import annotations

import hmac
import logging
import threading
from typing import Callable, Optional

from aiohttp import web

from .errors import ApiError, Handler
from .origins import ORIGIN_FORMS, OriginPolicy, is_extension_origin, normalize_origin
from .sessions import COOKIE, CSRF_HEADER, Session, Sessions

log = logging.getLogger("shade.daemon")

PUBLIC_PATHS = {"/v1/health"}         # no token needed (liveness and version only)
PAIR_PATH = "/v1/pair"                # records the caller's extension origin
LOGIN_PATH = "/app/login"             # redeems a one-time login link (the code is the credential)
TOKEN_ONLY_PATHS = {PAIR_PATH, "/v1/dashboard/link", "/v1/token/reload"}   # a dashboard session cannot use these
UNSAFE_METHODS = {"POST", "DELETE", "PUT", "PATCH"}
# aiohttp >= 3.13 has typed request keys; older ones take a plain string.
CORS_ORIGIN_KEY = web.RequestKey("shade.cors_origin", str) if hasattr(web, "RequestKey") else "shade.cors_origin"
SESSION_KEY = web.RequestKey("shade.session", Session) if hasattr(web, "RequestKey") else "shade.session"
ALLOWED_METHODS = "GET, POST, DELETE, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type, Last-Event-ID"
EXPOSED_HEADERS = "Content-Disposition, Location"


class TokenGuard:
    """Holds the API token and compares in constant time. The token changes only when the
    daemon is told so (``reload``: `shade token --rotate` sends SIGHUP, or the tray): the
    old token is refused from that moment, and a wrong token never makes the daemon read
    its store. ``on_rotate`` listeners (the dashboard's sessions) hear of each change."""

    def __init__(self, loader: Callable[[], str], reload_interval: float = 0.0):
        self._loader = loader
        self._token = loader()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def on_rotate(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def reload(self) -> bool:
        """Read the token store again (any thread); True when the token changed. A store that
        cannot be read keeps the current token (and logs why)."""
        try:
            fresh = self._loader()
        except Exception:  # noqa: BLE001 - a broken store must not open the door
            log.warning("could not re-read the API token; keeping the current one", exc_info=True)
            return False
        with self._lock:
            changed = not self._same(fresh, self._token)
            self._token = fresh
        if changed:
            log.info("the API token was rotated: the old one is refused from now on")
            for listener in list(self._listeners):
                listener()
        return changed

    @property
    def token(self) -> str:
        return self._token

    @staticmethod
    def _same(a: str, b: str) -> bool:
        # Header values arrive as str that may hold escaped non-UTF-8 bytes: never fail on them.
        return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))

    def check(self, presented: str) -> bool:
        return self._same(presented, self._token)


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


def _dashboard_session(request: web.Request, sessions: Optional[Sessions], host: str, same_origin: bool) -> Session:
    """The dashboard session a cookie-carrying request acts in, after its checks."""
    session = None
    if sessions is not None and request.path not in TOKEN_ONLY_PATHS:
        session = sessions.find(request.cookies.get(COOKIE), host)
    if session is None:
        raise ApiError(401, "unauthorized",
                       "no valid dashboard session and no API token: open the dashboard with `shade open`, the "
                       "tray's \"Open Shade\" or the extension's popup (API clients send 'Authorization: Bearer "
                       "<token>')", headers={"WWW-Authenticate": 'Bearer realm="shade"'})
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        raise ApiError(403, "cross_site", "the dashboard's session cannot be used from another site or port")
    if request.method in UNSAFE_METHODS:
        if not same_origin:
            raise ApiError(403, "origin_required", "a change through the dashboard must come from its own page "
                                                   "(an Origin header of this daemon's address)")
        if not session.csrf_ok(request.headers.get(CSRF_HEADER)):
            raise ApiError(403, "csrf", f"missing or wrong {CSRF_HEADER} header; reload the dashboard")
    return session


def make_security_middleware(guard: TokenGuard, origins: OriginPolicy, sessions: Optional[Sessions] = None):
    @web.middleware
    async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = (request.headers.get("Host") or "").lower()
        if host not in allowed_hosts(request):
            raise ApiError(403, "bad_host", "the Host header must be 127.0.0.1:PORT, localhost:PORT or [::1]:PORT "
                                            "(requests through other host names are refused)")

        origin = request.headers.get("Origin")
        is_pair = request.path == PAIR_PATH
        # The dashboard's own page (served on this Host): allowed where a session may act.
        same_origin = (origin is not None and normalize_origin(origin) == f"http://{host}"
                       and sessions is not None and request.path not in TOKEN_ONLY_PATHS)
        if origin is not None and not same_origin:
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

        if request.path in PUBLIC_PATHS or (request.path == LOGIN_PATH and sessions is not None):
            return await handler(request)
        token = _bearer(request)
        if token is None and "Authorization" not in request.headers and (
                COOKIE in request.cookies or request.path.startswith("/app/")):
            request[SESSION_KEY] = _dashboard_session(request, sessions, host, same_origin)
        elif token is None or not guard.check(token):
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
