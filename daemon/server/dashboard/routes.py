"""Wires the dashboard's routes into the app (each module adds its own)."""

from __future__ import annotations

from aiohttp import web

from . import audits, events, history_routes, library, pages, previews, settings_view


def setup_dashboard(app: web.Application) -> None:
    for module in (pages, events, previews, history_routes, audits, library, settings_view):
        module.setup(app)
