"""The HTTP routes, one module per resource; ``setup_routes`` adds them all. The dashboard
is no layer of its own: its pages (``pages``) sit beside the /v1 routes it shares with the
extension."""

from __future__ import annotations

from aiohttp import web

from . import audits, config, events, history, jobs, library, pages, previews


def setup_routes(app: web.Application) -> None:
    for module in (jobs, library, pages, events, previews, history, audits, config):
        module.setup(app)
