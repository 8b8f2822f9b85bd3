"""The application's keys (aiohttp ``AppKey``): what ``create_app`` stores on the app and
handlers, background contexts and the tray read back. All of them live here."""

from __future__ import annotations

from aiohttp import web

from .dashboard.history import History
from .dashboard.session import Sessions
from .jobs import JobService
from .origins import OriginPolicy
from .security import TokenGuard

SERVICE = web.AppKey("shade.service", JobService)
ORIGINS = web.AppKey("shade.origins", OriginPolicy)
GUARD = web.AppKey("shade.guard", TokenGuard)
SESSIONS = web.AppKey("shade.sessions", Sessions)     # the dashboard's login links and sessions
HISTORY = web.AppKey("shade.history", History)        # what was shaded, and the audits
