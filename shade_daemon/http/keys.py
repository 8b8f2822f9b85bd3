"""The application's keys (aiohttp ``AppKey``): what ``create_app`` stores on the app and
handlers, background contexts and the tray read back. All of them live here."""

from __future__ import annotations

from aiohttp import web

from ..service.audits import AuditService
from ..service.history import History
from ..service.jobs import JobService
from ..service.library import LibraryService
from ..service.previews import PreviewService
from .origins import OriginPolicy
from .security import TokenGuard
from .sessions import Sessions

SERVICE = web.AppKey("shade.service", JobService)
ORIGINS = web.AppKey("shade.origins", OriginPolicy)
GUARD = web.AppKey("shade.guard", TokenGuard)
SESSIONS = web.AppKey("shade.sessions", Sessions)     # the dashboard's login links and sessions
HISTORY = web.AppKey("shade.history", History)        # what was shaded, and the audits
LIBRARY = web.AppKey("shade.library", LibraryService)  # anchors and styles
AUDITS = web.AppKey("shade.audits", AuditService)      # audits of posted copies, on their own threads
PREVIEWS = web.AppKey("shade.previews", PreviewService)
