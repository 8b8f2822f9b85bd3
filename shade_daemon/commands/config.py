"""``shade config``: the effective settings and where each one came from."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("config", help="show the effective settings and where each came from",
                              description="Show every setting's effective value and its source (default, the "
                                          "config file, or a SHADE_* environment variable), and Shade's folders.")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=run)


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def run(args: argparse.Namespace) -> int:
    from ..config import ConfigError, Paths, load_settings

    paths = Paths.resolve()
    try:
        settings = load_settings(paths=paths)
    except ConfigError as exc:
        print(f"shade config: {exc}", file=sys.stderr)
        return 1
    rows = settings.describe()
    folders = {"config_file": paths.config_file, "data_dir": paths.data_dir, "cache_dir": paths.cache_dir,
               "state_dir": paths.state_dir, "log_dir": paths.log_dir}
    if args.json:
        print(json.dumps({"settings": {n: {"value": _plain(v), "source": s} for n, v, s in rows},
                          "paths": {k: str(v) for k, v in folders.items()}}, indent=2))
        return 0
    width = max(len(n) for n, _, _ in rows)
    print(f"# settings (config file: {paths.config_file}{'' if paths.config_file.exists() else ', not present'})")
    for name, value, source in rows:
        shown = ", ".join(str(v) for v in value) if isinstance(value, (tuple, list)) else str(value)
        print(f"{name:<{width}}  = {shown or '(none)'}   [{source}]")
    print("# folders")
    for key, value in folders.items():
        print(f"{key:<{width}}  = {value}")
    return 0
