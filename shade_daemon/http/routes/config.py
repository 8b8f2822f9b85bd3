"""``GET /v1/config``: every setting with its value and where it came from (as `shade
config` prints them), the daemon's folders, and validation: the config file as it is on
disk now (it may have been edited since the daemon started) and whether the settings can
work (target, style, encoders, device)."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from aiohttp import web

from shading import missing_encoders

from ...config import ConfigError, Paths, Settings, load_settings
from ...service.config_edit import editable_rows, save
from ...service.core import Core
from ...service.errors import BadRequest, redact_paths
from ..keys import SERVICE


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return redact_paths(str(value))


def _check(name: str, fn: Callable[[], Any]) -> dict[str, Any]:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - each check reports its own problem
        return {"check": name, "ok": False, "problem": redact_paths(str(exc))}
    return {"check": name, "ok": True, "problem": None}


def _none_missing(missing: list[str]) -> None:
    if missing:
        raise ConfigError(f"not installed: {', '.join(missing)} (`shade models pull NAME`)")


def validate(settings: Settings, paths: Paths, core: Core) -> list[dict[str, Any]]:
    """Each check: {check, ok, problem}."""
    return [
        _check("config file as on disk now", lambda: load_settings(paths=paths)),
        _check("target", lambda: core.check_target(settings.target)),
        _check("style", lambda: core.check_style(settings.style)),
        _check("encoders", lambda: _none_missing(missing_encoders(settings.encoders, settings.model_dirs))),
        _check("device", lambda: core.check_device()),
    ]


def describe(settings: Settings, paths: Paths, core: Core) -> dict[str, Any]:
    """The settings page's content. The one answer that names folders by their real paths
    (the home folder as ``~``): it is the user's own settings page, and "open folder" needs
    them; every other answer names them as the user knows them (docs/daemon.md)."""
    rows = [{"name": n, "value": _plain(v), "source": redact_paths(s)} for n, v, s in settings.describe()]
    folders = {"config_file": paths.config_file, "data_dir": paths.data_dir, "cache_dir": paths.cache_dir,
               "state_dir": paths.state_dir, "log_dir": paths.log_dir}
    return {"settings": rows, "paths": {k: redact_paths(str(v)) for k, v in folders.items()},
            "config_file_exists": paths.config_file.exists(), "checks": validate(settings, paths, core),
            "editable": editable_rows(settings),
            "note": "the daemon reads its settings when it starts: edit the config file (or SHADE_* variables), "
                    "then restart it"}


async def config_view(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    return web.json_response(await asyncio.to_thread(describe, service.settings, service.paths, service.core))


async def config_edit(request: web.Request) -> web.Response:
    """Change settings from the dashboard: {settings: {name: value}} (see service/config_edit.py)."""
    service = request.app[SERVICE]
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("send the settings to change as JSON: {\"settings\": {\"intensity\": \"high\"}}") from None
    changes = body.get("settings") if isinstance(body, dict) else None
    if not isinstance(changes, dict):
        raise BadRequest("send the settings to change as JSON: {\"settings\": {\"intensity\": \"high\"}}")
    checks = {"target": service.core.check_target, "style": service.core.check_style}
    return web.json_response(await asyncio.to_thread(save, changes, service.settings, service.paths, checks))


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/config", config_view, allow_head=False)
    app.router.add_post("/v1/config", config_edit)
