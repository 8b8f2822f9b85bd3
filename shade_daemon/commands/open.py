"""``shade open``: open the dashboard in the browser through a one-time login link."""

from __future__ import annotations

import argparse
import sys

VIEWS = ("queue", "history", "audit", "library", "settings")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("open", help="open Shade's dashboard in the browser",
                              description="Ask the running daemon for a one-time login link to its dashboard (queue, "
                                          "previews, history, audits, libraries, settings) and open it in the "
                                          "default browser. The link works once, for a minute.")
    p.add_argument("view", nargs="?", choices=VIEWS, help="the page to open (default: the queue)")
    p.add_argument("--print", action="store_true", dest="print_only",
                   help="print the link instead of opening a browser")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import webbrowser

    from ..client import DaemonUnavailable, request_json
    from ..config import ConfigError, Paths, load_settings
    from ..token_store import TokenStoreError

    paths = Paths.resolve()
    try:
        settings = load_settings(paths=paths)
        link = request_json(settings, paths, "POST", "/v1/dashboard/link", {"view": args.view} if args.view else {})
    except (DaemonUnavailable, TokenStoreError, ConfigError) as exc:
        print(f"shade open: {exc}", file=sys.stderr)
        return 1
    url = link["url"]
    if args.print_only:
        print(url)
        return 0
    if not webbrowser.open(url):
        print(f"shade open: no browser could be started; open this link within {link['expires_in']:g} s "
              f"(it works once):\n{url}", file=sys.stderr)
        return 1
    print(f"Opened Shade's dashboard in your browser (the link works once, for {link['expires_in']:g} s).")
    return 0
