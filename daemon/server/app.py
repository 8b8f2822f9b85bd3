"""The aiohttp application factory. Background work (the shading worker, result
pruning, the watched folder) starts and stops with the app through ``cleanup_ctx``."""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator, Optional

from aiohttp import web

from ..config import Paths, Settings
from ..token_store import load_token
from .dashboard.history import History
from .dashboard.routes import setup_dashboard
from .dashboard.session import Sessions
from .errors import error_middleware
from .jobs import JobService
from .keys import GUARD, HISTORY, ORIGINS, SERVICE, SESSIONS
from .origins import OriginPolicy
from .routes import setup_routes
from .security import TokenGuard, add_common_headers, make_security_middleware
from .store import JobStore

log = logging.getLogger("shade.daemon")


def create_app(settings: Settings, paths: Paths, *, guard: Optional[TokenGuard] = None,
               watch: bool = False) -> web.Application:
    """Build the daemon's app. ``guard`` defaults to the token from the token store
    (raises token_store.TokenStoreError when none is usable)."""
    paths.ensure()
    guard = guard or TokenGuard(lambda: load_token(settings, paths), settings.token_reload_seconds)
    origins = OriginPolicy(paths.data_dir, settings.allowed_origins)
    store = JobStore(paths.data_dir)
    recovered = store.recover()
    if recovered:
        log.info("%d job(s) interrupted by a crash are queued again", recovered)
    store.clean_leftovers()
    service = JobService(settings, paths, store)

    sessions = Sessions(settings.login_link_seconds, settings.session_hours)
    history = History(store)
    service.hub.on_finished(history.record_later)    # every job that ends done enters the history

    app = web.Application(middlewares=[error_middleware, make_security_middleware(guard, origins, sessions)])
    app[SERVICE] = service
    app[ORIGINS] = origins
    app[GUARD] = guard
    app[SESSIONS] = sessions
    app[HISTORY] = history
    app.on_response_prepare.append(add_common_headers)
    setup_routes(app)
    setup_dashboard(app)
    app.cleanup_ctx.append(_history_ctx)
    app.cleanup_ctx.append(_worker_ctx)
    app.cleanup_ctx.append(_pruner_ctx)
    if watch:
        from .watcher import watcher_ctx

        app.cleanup_ctx.append(watcher_ctx)
    app.on_shutdown.append(_close_streams)
    return app


async def _worker_ctx(app: web.Application) -> AsyncIterator[None]:
    service = app[SERVICE]
    service.hub.bind(asyncio.get_running_loop())
    service.worker.start()
    yield
    # Graceful stop: the running job gets Cancelled at its next step and is re-queued.
    await asyncio.to_thread(service.worker.stop)
    service.store.close()


async def _history_ctx(app: web.Application) -> AsyncIterator[None]:
    """Done jobs finished before the history existed (or while it could not record) enter it."""
    history = app[HISTORY]
    task = asyncio.create_task(asyncio.to_thread(history.backfill), name="shade-history-backfill")
    yield
    try:
        await task
    except Exception:  # noqa: BLE001 - a failed backfill must not stop the daemon's exit
        log.exception("adding earlier jobs to the history failed")
    history.close()


async def _pruner_ctx(app: web.Application) -> AsyncIterator[None]:
    service = app[SERVICE]
    interval = max(1.0, min(600.0, service.settings.result_retention_hours * 3600 / 4))

    async def loop() -> None:
        while True:
            try:
                await asyncio.to_thread(service.prune)
            except Exception:  # noqa: BLE001 - pruning must never stop the daemon
                log.exception("pruning old results failed")
            await asyncio.sleep(interval)

    task = asyncio.create_task(loop(), name="shade-pruner")
    yield
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


async def _close_streams(app: web.Application) -> None:
    app[SERVICE].hub.close_all()
