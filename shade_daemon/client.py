"""A small client for the running daemon (used by `shade status`): finds it through
daemon.json, sends the bearer token, turns failures into clear messages."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from .config import Paths, Settings
from .runinfo import DaemonInfo, info_path, read_info
from .token_store import load_token


class DaemonUnavailable(RuntimeError):
    """No daemon answers; the message says what to do."""


def find_daemon(paths: Paths) -> DaemonInfo:
    info = read_info(paths)
    if info is None:
        raise DaemonUnavailable(f"the Shade daemon is not running (no {info_path(paths)}); start it with `shade daemon`")
    return info


def get_json(settings: Settings, paths: Paths, path: str, timeout: float = 5.0) -> Any:
    return request_json(settings, paths, "GET", path, timeout=timeout)


def request_json(settings: Settings, paths: Paths, method: str, path: str, body: Any = None,
                 timeout: float = 5.0) -> Any:
    """``method path`` on the running daemon with the token (``body`` sent as JSON); the parsed answer."""
    info = find_daemon(paths)
    token = load_token(settings, paths, create=False)
    headers = {"Authorization": f"Bearer {token}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(info.url.rstrip("/") + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        try:
            err = json.loads(exc.read().decode("utf-8"))["error"]
            message = f"{err['message']} ({err['code']})"
        except Exception:  # noqa: BLE001
            message = f"HTTP {exc.code}"
        raise DaemonUnavailable(f"the daemon at {info.url} refused the request: {message}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DaemonUnavailable(f"{info_path(paths)} names {info.url} (pid {info.pid}) but nothing answers there "
                                f"({reason}); it may have crashed: start it again with `shade daemon`") from None
