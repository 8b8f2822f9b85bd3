"""``shade status``: ask the running daemon what it is doing."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("status", help="show what the running daemon is doing",
                              description="Ask the running Shade daemon for its queue, current job, device, "
                                          "models, pause state and watched folders.")
    p.add_argument("--json", action="store_true", help="print the raw status JSON")
    p.set_defaults(func=run)


def render(status: dict[str, Any], url: str) -> str:
    cur = status.get("current_job")
    models = status.get("models") or {}
    lines = [
        f"Shade daemon {status.get('version')} at {url}" + ("  [PAUSED]" if status.get("paused") else ""),
        f"  device:   {status.get('device') or '-'}  models: {', '.join(models.get('encoders') or [])} "
        f"({models.get('state')}{': ' + models['error'] if models.get('error') else ''})",
        f"  queue:    {status.get('queue_length', 0)} waiting",
        "  current:  " + (f"{cur['filename']} {int(100 * cur.get('progress', 0))}% ({cur.get('stage')})" if cur else "-"),
        "  watching: " + (", ".join(status.get("watched_folders") or []) or "-"),
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..client import DaemonUnavailable, find_daemon, get_json
    from ..config import ConfigError, Paths, load_settings
    from ..token_store import TokenStoreError

    paths = Paths.resolve()
    try:
        settings = load_settings(paths=paths)
        status = get_json(settings, paths, "/v1/status")
        url = find_daemon(paths).url
    except (DaemonUnavailable, TokenStoreError, ConfigError) as exc:
        print(f"shade status: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(status, indent=2) if args.json else render(status, url))
    return 0
