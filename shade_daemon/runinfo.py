"""``daemon.json`` in the state dir: how other processes (CLI, native host) find the
running daemon. Written atomically once the port is bound, removed on exit."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from .config import Paths
from .private import private_dir, write_private

FILE_NAME = "daemon.json"


@dataclass(frozen=True)
class DaemonInfo:
    url: str
    pid: int
    version: str
    port: int


def info_path(paths: Paths) -> Path:
    return paths.state_dir / FILE_NAME


def write_info(paths: Paths, info: DaemonInfo) -> Path:
    path = info_path(paths)
    private_dir(path.parent)
    return write_private(path, json.dumps(asdict(info), indent=2) + "\n")


def read_info(paths: Paths) -> Optional[DaemonInfo]:
    """The recorded daemon, or None when there is no (readable) daemon.json."""
    try:
        data = json.loads(info_path(paths).read_text(encoding="utf-8"))
        return DaemonInfo(url=str(data["url"]), pid=int(data["pid"]), version=str(data["version"]),
                          port=int(data["port"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_info(paths: Paths, pid: int | None = None) -> None:
    """Remove daemon.json, but only the one this process wrote when ``pid`` is given."""
    current = read_info(paths)
    if current is not None and pid is not None and current.pid != pid:
        return
    info_path(paths).unlink(missing_ok=True)
