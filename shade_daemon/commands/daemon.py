"""``shade daemon``: run the local service (HTTP API on 127.0.0.1, job queue, watched
folder, tray icon) until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "daemon", help="run the local Shade service (browser extension, watched folder, tray)",
        description="Serve Shade's API on 127.0.0.1, shade queued images one at a time, watch the to-post folder "
                    "and show a tray icon. Stops gracefully on Ctrl-C/SIGTERM; a running job goes back to the queue.")
    p.add_argument("--port", type=int, default=None,
                   help="port on 127.0.0.1 (default: the configured port, 47821; 0 picks a free one)")
    p.add_argument("--no-tray", action="store_true", help="do not show a tray icon")
    p.add_argument("--no-watch", action="store_true", help="do not watch the to-post folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from ..app.runtime import run as run_daemon
    from ..config import ConfigError, Paths, load_settings

    if args.port is not None and not 0 <= args.port <= 65535:
        print(f"shade daemon: --port must be 0..65535, not {args.port}", file=sys.stderr)
        return 2
    paths = Paths.resolve()
    try:
        settings = load_settings(paths=paths)
    except ConfigError as exc:
        print(f"shade daemon: {exc}", file=sys.stderr)
        return 2
    return run_daemon(settings, paths, port=args.port, tray=not args.no_tray, watch=not args.no_watch)
