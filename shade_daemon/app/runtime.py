"""``shade daemon``: one instance per data dir, serve on loopback, write daemon.json,
stop gracefully on SIGINT/SIGTERM (or the tray's Quit)."""

from __future__ import annotations

import asyncio
import errno
import logging
import logging.handlers
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from aiohttp import web
from filelock import FileLock, Timeout

from .. import __version__
from ..config import Paths, Settings
from ..http.app import create_app
from ..http.keys import GUARD, SERVICE
from ..http.security import TokenGuard
from ..private import PRIVATE_FILE, private_dir, restrict
from ..runinfo import DaemonInfo, read_info, remove_info, write_info
from ..service.folder import FolderLayout
from ..token_store import TokenStoreError, load_token, pairing_code

if TYPE_CHECKING:
    from .tray import TrayActions

log = logging.getLogger("shade.daemon")
HOST = "127.0.0.1"


class StartError(Exception):
    """The daemon cannot start; the message says why and what to do."""


class PrivateLogFile(logging.handlers.RotatingFileHandler):
    """The daemon's log, and each file it rotates to, created 0600: it names the user's files."""

    def _open(self):  # type: ignore[no-untyped-def]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0),
                     PRIVATE_FILE)
        restrict(Path(self.baseFilename))
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def setup_logging(paths: Paths) -> None:
    logger = logging.getLogger("shade")
    if logger.handlers:
        return
    logger.setLevel(logging.INFO)
    logger.propagate = False      # libraries may give the root logger a handler: no doubled lines
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(fmt)
    logger.addHandler(err)
    try:
        private_dir(paths.log_dir)           # the log names the user's files
        for old in paths.log_dir.glob("daemon.log*"):
            restrict(old)                    # written by an older version with the umask's mode
        fh = PrivateLogFile(paths.log_dir / "daemon.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8")
        fh.setFormatter(fmt)
        logger.addHandler(fh)
    except OSError as exc:
        logger.warning("cannot write the log file in %s: %s", paths.log_dir, exc)
    core = logging.getLogger("shading")     # the core's own lines: a checkpoint resumed from, or ignored
    core.setLevel(logging.INFO)
    core.propagate = False
    for handler in logger.handlers:
        core.addHandler(handler)


def run(settings: Settings, paths: Paths, *, port: Optional[int] = None, tray: bool = True,
        watch: bool = True) -> int:
    """Run until SIGINT/SIGTERM; returns the process exit code."""
    paths.ensure()                           # Shade's own folders: 0700
    setup_logging(paths)
    lock = FileLock(str(paths.data_dir / "daemon.lock"), mode=PRIVATE_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        info = read_info(paths)
        where = f" (pid {info.pid}, {info.url})" if info else ""
        print(f"shade daemon: Shade is already running for {paths.data_dir}{where}; "
              "stop it first (or use `shade status` to talk to it)", file=sys.stderr)
        return 1
    try:
        try:
            guard = TokenGuard(lambda: load_token(settings, paths))
        except TokenStoreError as exc:
            print(f"shade daemon: cannot start: {exc}", file=sys.stderr)
            return 1
        try:
            code = asyncio.run(_serve(settings, paths, guard, settings.port if port is None else port, tray, watch))
        except StartError as exc:
            print(f"shade daemon: cannot start: {exc}", file=sys.stderr)
            return 1
    finally:
        lock.release()
    if any(t.name == "shade-worker" and t.is_alive() for t in threading.enumerate()):
        # The job was left in a stage that does not stop (it is queued again): leave now, as
        # the interpreter's own teardown would abort under the native threads still computing.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


async def _serve(settings: Settings, paths: Paths, guard: TokenGuard, port: int, tray: bool, watch: bool) -> int:
    app = create_app(settings, paths, guard=guard, watch=watch)
    runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, port, shutdown_timeout=0.5)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno == errno.EADDRINUSE:
            raise StartError(f"port {port} on {HOST} is already in use by another program; choose another with "
                             "`shade daemon --port N` or set port in the config") from None
        raise StartError(f"cannot listen on {HOST}:{port}: {exc}") from None
    bound = runner.addresses[0][1]
    url = f"http://{HOST}:{bound}"
    write_info(paths, DaemonInfo(url=url, pid=os.getpid(), version=__version__, port=bound))
    service = app[SERVICE]
    log.info("Shade daemon %s listening on %s (pid %d); watching: %s", __version__, url, os.getpid(),
             ", ".join(service.watched_folders) or "nothing")

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    _install_signal_handlers(loop, stop)
    _install_reload_handler(loop, app[GUARD])
    controller = _start_tray(settings, app, bound, loop, stop) if tray else None
    try:
        await stop.wait()
        service.worker.begin_stop()       # the running job is queued again before anything else
        log.info("stopping: the running job (if any) goes back to the queue")
    finally:
        if controller is not None:
            controller.stop()
        await runner.cleanup()
        remove_info(paths, pid=os.getpid())
        log.info("Shade daemon stopped")
    return 0


def _install_signal_handlers(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))


def _install_reload_handler(loop: asyncio.AbstractEventLoop, guard: TokenGuard) -> None:
    """SIGHUP: read the API token again (`shade token --rotate` sends it): the old token is
    refused from then on. Where there is no SIGHUP, the CLI uses POST /v1/token/reload."""
    if not hasattr(signal, "SIGHUP"):
        return

    def reload() -> None:
        loop.run_in_executor(None, guard.reload)     # the keyring may take a moment: off the loop

    try:
        loop.add_signal_handler(signal.SIGHUP, reload)
    except (NotImplementedError, RuntimeError):
        pass


def tray_actions(settings: Settings, app: web.Application, port: int, quit) -> "TrayActions":
    """What the tray's menu does, wired to this app's service."""
    from .tray import TrayActions

    service = app[SERVICE]
    guard: TokenGuard = app[GUARD]
    layout = FolderLayout.beside(settings.watch_folder)
    return TrayActions(
        get_status=service.status,
        pause=service.worker.pause,
        resume=service.worker.resume,
        pairing_code=lambda: pairing_code(port, guard.token),
        quit=quit,
        to_post=layout.to_post,
        ready=layout.ready,
        open_dashboard=lambda: open_dashboard(app, port),
    )


def open_dashboard(app: web.Application, port: int) -> None:
    """The tray's "Open Shade": the dashboard in the browser, through a one-time login link."""
    import webbrowser

    from ..http.keys import SESSIONS
    from ..http.routes.pages import login_url

    webbrowser.open(login_url(app[SESSIONS], f"{HOST}:{port}"))


def _start_tray(settings: Settings, app: web.Application, port: int, loop: asyncio.AbstractEventLoop,
                stop: asyncio.Event):
    from .tray import start_tray

    return start_tray(tray_actions(settings, app, port, lambda: loop.call_soon_threadsafe(stop.set)))
