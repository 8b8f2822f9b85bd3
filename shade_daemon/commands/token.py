"""``shade token``: print the daemon's API token, a pairing code, or replace the token; list
or forget the paired extension origins."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("token", help="print the API token or the extension's pairing code",
                              description="Print the daemon's API token (created on first use and kept in the OS "
                                          "keyring, or in a 0600 file with token_store = \"file\").")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--pairing-code", action="store_true",
                   help="print shade:<port>:<token>, to paste into the extension's options")
    g.add_argument("--rotate", action="store_true",
                   help="replace the token (the extension must pair again; a running daemon picks it up)")
    g.add_argument("--paired", action="store_true",
                   help="list the browser-extension origins that paired with the daemon")
    g.add_argument("--unpair", metavar="ORIGIN",
                   help="forget a paired extension origin (`all`: every one); a running daemon refuses it at once")
    p.set_defaults(func=run)


def _paired(args: argparse.Namespace) -> int:
    from ..config import Paths
    from ..http.origins import OriginPolicy

    policy = OriginPolicy(Paths.resolve().data_dir)
    if args.paired:
        for origin in policy.paired():
            print(origin)
        return 0
    gone = policy.remove(args.unpair)
    if not gone:
        listed = ", ".join(policy.paired()) or "none"
        print(f"shade token: {args.unpair!r} is not paired (paired: {listed}); nothing changed", file=sys.stderr)
        return 1
    for origin in gone:
        print(f"unpaired {origin}")
    return 0


def _tell_daemon(paths, old_token: str) -> str:
    """Make a running daemon drop ``old_token`` now (SIGHUP, else its control route, which
    the old token still opens), and wait until it refuses it. Returns what happened, in words."""
    import os
    import signal
    import time
    import urllib.error
    import urllib.request

    from ..runinfo import read_info

    info = read_info(paths)
    if info is None:
        return ""

    def old_accepted() -> bool:
        req = urllib.request.Request(info.url + "/v1/status", headers={"Authorization": f"Bearer {old_token}"})
        try:
            with urllib.request.urlopen(req, timeout=2):
                return True
        except urllib.error.HTTPError as exc:
            return exc.code != 401
        except OSError:
            return False            # not answering: nothing to revoke there

    try:
        if hasattr(signal, "SIGHUP"):
            os.kill(info.pid, signal.SIGHUP)
        else:
            req = urllib.request.Request(info.url + "/v1/token/reload", method="POST", data=b"",
                                         headers={"Authorization": f"Bearer {old_token}"})
            urllib.request.urlopen(req, timeout=5).close()
    except (OSError, urllib.error.URLError):
        return "the daemon did not answer; it uses the new token once restarted"
    deadline = time.monotonic() + 5
    while old_accepted():
        if time.monotonic() > deadline:
            return "the running daemon still accepts the old token: restart it (`shade daemon`)"
        time.sleep(0.05)
    return "the running daemon refuses the old token from now on"


def run(args: argparse.Namespace) -> int:
    from ..config import ConfigError, Paths, load_settings
    from ..runinfo import read_info
    from ..token_store import TokenStoreError, load_token, pairing_code, rotate_token

    if args.paired or args.unpair:
        return _paired(args)
    paths = Paths.resolve()
    try:
        settings = load_settings(paths=paths)
        if args.rotate:
            old = load_token(settings, paths, create=True)
            token = rotate_token(settings, paths)
            print(token)
            told = _tell_daemon(paths, old)
            print("shade token: the token was replaced" + (told and f"; {told}") +
                  "; pair the extension again with `shade token --pairing-code`", file=sys.stderr)
            return 0
        token = load_token(settings, paths, create=True)
    except (TokenStoreError, ConfigError) as exc:
        print(f"shade token: {exc}", file=sys.stderr)
        return 1
    if args.pairing_code:
        info = read_info(paths)
        port = info.port if info else settings.port
        if info is None:
            print(f"shade token: the daemon is not running; the code assumes it will use port {port}",
                  file=sys.stderr)
        print(pairing_code(port, token))
    else:
        print(token)
    return 0
