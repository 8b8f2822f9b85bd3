"""The aiohttp application factory: the service layer's parts built and handed to the
routes. Background work (the shading worker and its supervisor, result pruning, the
watched folder, the audit threads) starts and stops with the app through ``cleanup_ctx``."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import AsyncIterator, Optional

from aiohttp import web

from ..config import Paths, Settings
from ..service.audits import AuditService
from ..service.folder import FolderLayout
from ..service.history import History
from ..service.jobs import JobService
from ..service.library import LibraryService
from ..service.previews import PreviewService
from ..service.store import JobStore
from ..service.watcher import FolderWatcher
from ..token_store import load_token
from .errors import error_middleware
from .keys import AUDITS, GUARD, HISTORY, LIBRARY, ORIGINS, PREVIEWS, SERVICE, SESSIONS
from .origins import OriginPolicy
from .routes import setup_routes
from .security import TokenGuard, add_common_headers, make_security_middleware
from .sessions import Sessions

log = logging.getLogger("shade.daemon")


def create_app(settings: Settings, paths: Paths, *, guard: Optional[TokenGuard] = None,
               watch: bool = False) -> web.Application:
    """Build the daemon's app. ``guard`` defaults to the token from the token store
    (raises token_store.TokenStoreError when none is usable)."""
    paths.ensure()
    guard = guard or TokenGuard(lambda: load_token(settings, paths))
    origins = OriginPolicy(paths.data_dir, settings.allowed_origins)
    store = JobStore(paths.data_dir)
    recovered = store.recover()
    if recovered:
        log.info("%d job(s) interrupted by a crash are queued again", recovered)
    store.clean_leftovers()
    service = JobService(settings, paths, store)

    sessions = Sessions(settings.login_link_seconds, settings.session_hours)
    guard.on_rotate(sessions.end_all)                # a rotated token ends the dashboard's sessions too
    history = History(store)
    service.hub.on_finished(history.record_later)    # every job that ends done enters the history

    app = web.Application(middlewares=[error_middleware, make_security_middleware(guard, origins, sessions)])
    app[SERVICE] = service
    app[ORIGINS] = origins
    app[GUARD] = guard
    app[SESSIONS] = sessions
    app[HISTORY] = history
    app[LIBRARY] = LibraryService(settings, service.core.library)
    # Audits and previews run the models: on threads of their own, never the default pool
    # that uploads and file checks use.
    measuring = ThreadPoolExecutor(max_workers=max(1, settings.max_audits), thread_name_prefix="shade-audit")
    app[AUDITS] = AuditService(store, history, service.core, measuring)
    app[PREVIEWS] = PreviewService(store, service.core, measuring, settings.result_retention_hours)
    app.on_response_prepare.append(add_common_headers)
    setup_routes(app)
    app.cleanup_ctx.append(_store_ctx)         # first in, last out: everything else uses the store
    app.cleanup_ctx.append(_history_ctx)
    app.cleanup_ctx.append(_measuring_ctx(measuring))
    app.cleanup_ctx.append(_worker_ctx)
    app.cleanup_ctx.append(_pruner_ctx)
    if watch:
        app.cleanup_ctx.append(_watcher_ctx)
    app.on_shutdown.append(_close_streams)
    return app


async def _worker_ctx(app: web.Application) -> AsyncIterator[None]:
    service = app[SERVICE]
    service.hub.bind(asyncio.get_running_loop())
    service.worker.start()
    supervisor = asyncio.create_task(_supervise(service), name="shade-worker-supervisor")
    yield
    supervisor.cancel()
    # Graceful stop: the running job gets Cancelled at its next step and is re-queued.
    await asyncio.to_thread(service.worker.stop)


SUPERVISE_EVERY = 1.0


async def _supervise(service: JobService) -> None:
    """Restart the shading worker when it died or is stuck (see ``JobService.supervise``)."""
    while True:
        await asyncio.sleep(SUPERVISE_EVERY)
        try:
            service.supervise()
        except Exception:  # noqa: BLE001 - the supervisor must outlive whatever it found
            log.exception("checking the shading worker failed")


def _measuring_ctx(executor: ThreadPoolExecutor):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        yield
        executor.shutdown(wait=False, cancel_futures=True)
    return ctx


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    app[SERVICE].store.close()


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


async def _watcher_ctx(app: web.Application) -> AsyncIterator[None]:
    service = app[SERVICE]
    layout = FolderLayout.beside(service.settings.watch_folder)
    watcher = FolderWatcher(service, layout)
    try:
        await watcher.start()
    except OSError as exc:
        log.error("cannot watch %s (%s); running without the watched folder: fix watch_folder in the config",
                  layout.to_post, exc)
        await watcher.stop()
        yield
        return
    service.watched_folders.append(str(layout.to_post))
    yield
    await watcher.stop()


async def _close_streams(app: web.Application) -> None:
    app[SERVICE].hub.close_all()
