"""``shade doctor``: is everything Shade needs in place? One screen, each problem
with its fix; exit status 1 when something is broken."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "doctor", help="check that Shade can work here and say how to fix what is wrong",
        description="Check the device (and why no GPU is used), models, keyring, the daemon and its port, "
                    "folders, autostart and browser registrations. Exits 1 when something is broken.")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..doctor import as_json, render, run_checks

    findings = run_checks()
    print(as_json(findings) if args.json else render(findings))
    return 1 if any(f.status == "fail" for f in findings) else 0
