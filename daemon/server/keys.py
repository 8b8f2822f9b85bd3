"""The application's keys (aiohttp ``AppKey``): what ``create_app`` stores on the app and
handlers, background contexts and the tray read back. All of them live here."""

from __future__ import annotations

from aiohttp import web

from .jobs import JobService
from .origins import OriginPolicy
from .security import TokenGuard

SERVICE = web.AppKey("shade.service", JobService)
ORIGINS = web.AppKey("shade.origins", OriginPolicy)
GUARD = web.AppKey("shade.guard", TokenGuard)
