"""The dashboard's routes in the OpenAPI document (``openapi.py`` merges them)."""

from __future__ import annotations

from typing import Any

_ERR = {"$ref": "#/components/responses/Error"}
_COOKIE = [{"bearer": []}, {"session": []}]


def _ok(description: str, content: str = "application/json") -> dict[str, Any]:
    return {"description": description, "content": {content: {}}}


def _path(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}]


def _form(required: list[str], **props: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": required, "properties": props}}}}


_FILE = {"type": "string", "format": "binary"}
_TEXT = {"type": "string"}


def dashboard_paths() -> dict[str, Any]:
    """Paths of the dashboard and the routes it added to /v1. Every /v1 route here takes the
    bearer token or the dashboard's session cookie (a state change with the cookie needs the
    page's Origin and its X-Shade-CSRF header)."""
    return {
        "/v1/dashboard/link": {"post": {
            "summary": "A one-time login link for the dashboard (API token only; body {view, item} optional)",
            "security": [{"bearer": []}],
            "responses": {"200": _ok("{url, expires_in}"), "401": _ERR}}},
        "/app/login": {"get": {
            "summary": "Spend a one-time login link (?code=): sets the session cookie, redirects to /app/",
            "security": [], "parameters": [{"name": "code", "in": "query", "required": True,
                                            "schema": {"type": "string"}}],
            "responses": {"303": {"description": "logged in"}, "403": _ERR}}},
        "/app/logout": {"post": {"summary": "End the dashboard session", "security": [{"session": []}],
                                 "responses": {"200": _ok("logged out"), "403": _ERR}}},
        "/app/": {"get": {"summary": "The dashboard page", "security": _COOKIE,
                          "responses": {"200": _ok("the page", "text/html"), "401": _ERR}}},
        "/app/{name}": {"parameters": _path("name"), "get": {
            "summary": "The dashboard's scripts and styles", "security": _COOKIE,
            "responses": {"200": _ok("a file", "text/javascript"), "404": _ERR}}},
        "/v1/events": {"get": {"summary": "Server-sent events for the whole queue: jobs, status, state, progress",
                               "security": _COOKIE,
                               "responses": {"200": _ok("an event stream", "text/event-stream"), "401": _ERR}}},
        "/v1/jobs/{id}/preview": {"parameters": _path("id"), "get": {
            "summary": "A done job's preview: strength and visibility in words, the images' addresses",
            "security": _COOKIE, "responses": {"200": _ok("preview"), "404": _ERR, "409": _ERR, "410": _ERR}}},
        "/v1/jobs/{id}/preview/progress": {"parameters": _path("id"), "get": {
            "summary": "Where the making of a done job's preview is: making, made, stage, words, step, total",
            "security": _COOKIE, "responses": {"200": _ok("progress"), "404": _ERR, "409": _ERR}}},
        "/v1/jobs/{id}/preview/{kind}.png": {"parameters": _path("id") + _path("kind"), "get": {
            "summary": "original, shaded, difference (x8), model-original, model-shaded (the decoder's "
                       "reconstruction of each latent) or sheet (all of them, with the verdict)",
            "security": _COOKIE, "responses": {"200": _ok("PNG", "image/png"), "404": _ERR, "409": _ERR}}},
        "/v1/history": {
            "get": {"summary": "What was shaded, newest first (?q= searches file names)", "security": _COOKIE,
                    "responses": {"200": _ok("entries")}},
            "delete": {"summary": "Clear the history and its audits (files stay)", "security": _COOKIE,
                       "responses": {"200": _ok("cleared")}}},
        "/v1/history/{id}": {"parameters": _path("id"), "get": {
            "summary": "One history entry with its audits", "security": _COOKIE,
            "responses": {"200": _ok("entry"), "404": _ERR}}},
        "/v1/history/{id}/thumbnail": {"parameters": _path("id"), "get": {
            "summary": "The entry's thumbnail", "security": _COOKIE,
            "responses": {"200": _ok("JPEG", "image/jpeg"), "404": _ERR}}},
        "/v1/audits": {
            "post": {"summary": "Audit a posted copy: matched to its original by perceptual hash (or an explicit "
                                "pair), its latent ratio at the trainer's views, the platform's size and quality",
                     "security": _COOKIE,
                     "requestBody": _form(["posted"], posted=_FILE, original=_FILE, entry=_TEXT, mode=_TEXT,
                                          target=_TEXT, style=_TEXT),
                     "responses": {"201": _ok("the audit"), "400": _ERR, "404": _ERR, "409": _ERR, "413": _ERR}},
            "get": {"summary": "Audits, newest first", "security": _COOKIE, "responses": {"200": _ok("audits")}}},
        "/v1/audits/{id}": {"parameters": _path("id"), "get": {
            "summary": "One audit", "security": _COOKIE, "responses": {"200": _ok("audit"), "404": _ERR}}},
        "/v1/audits/{id}/thumbnail": {"parameters": _path("id"), "get": {
            "summary": "The posted copy's thumbnail", "security": _COOKIE,
            "responses": {"200": _ok("JPEG", "image/jpeg"), "404": _ERR}}},
        "/v1/anchors": {
            "get": {"summary": "The anchor library: the user's concepts first, then the built-in ones",
                    "security": _COOKIE, "responses": {"200": _ok("anchors")}},
            "post": {"summary": "Add an anchor image to the user's library (multipart: name, image)",
                     "security": _COOKIE, "requestBody": _form(["name", "image"], name=_TEXT, image=_FILE),
                     "responses": {"201": _ok("added"), "400": _ERR, "409": _ERR, "413": _ERR}}},
        "/v1/anchors/{name}": {"parameters": _path("name"), "delete": {
            "summary": "Remove one of the user's anchors", "security": _COOKIE,
            "responses": {"200": _ok("removed"), "404": _ERR}}},
        "/v1/anchors/{name}/image": {"parameters": _path("name"), "get": {
            "summary": "A preview of the concept's anchor image", "security": _COOKIE,
            "responses": {"200": _ok("JPEG", "image/jpeg"), "404": _ERR}}},
        "/v1/styles/{name}/image": {"parameters": _path("name"), "get": {
            "summary": "A preview of the reference style's image", "security": _COOKIE,
            "responses": {"200": _ok("JPEG", "image/jpeg"), "404": _ERR}}},
        "/v1/config": {"get": {"summary": "Every setting, its value and source (as `shade config`), and checks; "
                                          "`editable`: the settings the page can change, in words",
                               "security": _COOKIE, "responses": {"200": _ok("settings")}},
                       "post": {"summary": "Change settings: {settings: {name: value}}, written to the config file "
                                           "after the checks it gets at start; the ones read per job apply at once "
                                           "(`applied`), the others after a restart (`restart_needed`)",
                                "security": _COOKIE, "responses": {"200": _ok("saved"), "400": _ok("refused")}}},
    }


SESSION_SCHEME = {"type": "apiKey", "in": "cookie", "name": "shade_session",
                  "description": "the dashboard's session, set by /app/login"}
