"""The dashboard's pages: the one-time login link, the page and its static files.

``POST /v1/dashboard/link`` (API token only) issues a login link; ``GET /app/login?code=``
spends it once, sets the session cookie (HttpOnly, SameSite=Strict, host-only, Path=/)
and sends the browser on to ``/app/`` without the code in the address bar. ``/app/`` and
its files need the cookie (the security middleware checks it); the page gets its CSRF
token inside its HTML. Every page answer forbids framing, inline script and referrers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional
from urllib.parse import urlencode

from aiohttp import web

from ..errors import ApiError
from ..keys import SESSIONS
from ..security import SESSION_KEY
from ..sessions import COOKIE, Sessions

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
_FILE_NAME = re.compile(r"^[a-z][a-z0-9-]*\.(?:js|css|svg)$")
VIEWS = ("queue", "history", "audit", "library", "settings")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
                "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Resource-Policy": "same-origin"}


def login_url(sessions: Sessions, host: str, view: Optional[str] = None, item: Optional[str] = None) -> str:
    """A one-time login link for the dashboard on ``host`` (``127.0.0.1:PORT``)."""
    query = {"code": sessions.issue_code(host)}
    if view in VIEWS:
        query["view"] = view
        if item and item.isalnum():
            query["item"] = item
    return f"http://{host}/app/login?{urlencode(query)}"


async def issue_link(request: web.Request) -> web.Response:
    """For `shade open` and the extension: the token proves who asks, the link opens a browser."""
    try:
        body = await request.json() if request.can_read_body else {}
    except ValueError:
        raise ApiError(400, "bad_request", "send JSON ({\"view\": \"audit\"}) or no body") from None
    body = body if isinstance(body, dict) else {}
    sessions = request.app[SESSIONS]
    view, item = body.get("view"), body.get("item")
    url = login_url(sessions, request.headers["Host"].lower(), view if isinstance(view, str) else None,
                    item if isinstance(item, str) else None)
    return web.json_response({"url": url, "expires_in": sessions.link_seconds})


async def login(request: web.Request) -> web.Response:
    sessions = request.app[SESSIONS]
    spent = sessions.redeem(request.query.get("code", ""), request.headers["Host"])
    if spent is None:
        raise ApiError(403, "login_link_invalid", "this login link was already used, has expired or is not for "
                                                  "this address; open Shade again (`shade open`, the tray's "
                                                  "\"Open Shade\" or the extension's popup) for a new one")
    value, session = spent
    view = request.query.get("view", "")
    item = request.query.get("item", "")
    fragment = f"#{view}" + (f"/{item}" if item.isalnum() else "") if view in VIEWS else ""
    response = web.Response(status=303, headers={"Location": f"/app/{fragment}", "Referrer-Policy": "no-referrer"})
    response.set_cookie(COOKIE, value, httponly=True, samesite="Strict", path="/",
                        max_age=int(sessions.session_seconds))
    return response


async def logout(request: web.Request) -> web.Response:
    request.app[SESSIONS].end(request.cookies.get(COOKIE))
    response = web.json_response({"logged_out": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def index(request: web.Request) -> web.Response:
    session = request.get(SESSION_KEY)
    csrf = session.csrf if session is not None else ""     # an API-token client gets the page without one
    page = (WEB_DIR / "index.html").read_text(encoding="utf-8").replace("{{csrf}}", csrf)
    return web.Response(text=page, content_type="text/html", headers=PAGE_HEADERS)


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = WEB_DIR / name
    if not _FILE_NAME.match(name) or not path.is_file():
        raise ApiError(404, "not_found", "no such dashboard file")
    return web.FileResponse(path, headers={"Content-Type": CONTENT_TYPES[path.suffix], **PAGE_HEADERS})


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/dashboard/link", issue_link)
    app.router.add_get("/app/login", login, allow_head=False)
    app.router.add_post("/app/logout", logout)
    app.router.add_get("/app/", index, allow_head=False)
    app.router.add_get("/app/{name}", static_file, allow_head=False)
