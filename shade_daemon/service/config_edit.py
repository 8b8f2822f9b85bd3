"""Settings edited from the dashboard: the settings a person changes, named in words, written
to the config file and checked by the same loader that reads it at start (``load_settings``:
a value the file would refuse is refused here, and the file is left as it was). Settings read
per job (the defaults for new images, the limits, how long results are kept) take effect at
once; the others say that they need a restart."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

import tomli_w

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from ..config import CHOICES, ConfigError, Paths, Settings, env_name, load_settings
from ..private import write_private
from .errors import BadRequest


@dataclass(frozen=True)
class Editable:
    label: str          # the setting in words, as the page shows it
    help: str           # what it does, in words
    live: bool          # applied at once (read per job) or only after a restart


EDITABLE: dict[str, Editable] = {
    "mode": Editable("What shading aims at", "poison: models learn the target instead of your image; cloak: they "
                     "see another style; both", True),
    "target": Editable("Default target", "the concept a poisoned image is pulled towards (an image in the "
                       "targets library)", True),
    "style": Editable("Default style", "the style a cloaked image is pulled towards", True),
    "intensity": Editable("Default intensity", "low is hardest to see, high protects most", True),
    "quality": Editable("Default quality", "fast, default, or best (slowest)", True),
    "max_upload_mb": Editable("Largest upload (MB)", "bigger uploads are refused", True),
    "max_pixels": Editable("Largest image (pixels)", "bigger images are refused", True),
    "result_retention_hours": Editable("Keep finished jobs for (hours)", "their results and previews are removed "
                                       "after this", True),
    "watch_folder": Editable("To-post folder", "images saved here are shaded; results go to ready/ beside it", False),
    "device": Editable("Where shading runs", "auto, cpu, or a graphics card (cuda, mps)", False),
}


def editable_rows(settings: Settings) -> list[dict[str, Any]]:
    """The settings page's editable rows: name, words, value, choices, and whether a
    ``SHADE_*`` variable overrides the file (then an edit there would not show)."""
    rows = []
    for name, e in EDITABLE.items():
        value = getattr(settings, name)
        rows.append({"name": name, "label": e.label, "help": e.help, "live": e.live,
                     "value": str(value) if not isinstance(value, (int, float)) else value,
                     "choices": list(CHOICES.get(name, ())),
                     "overridden": bool(os.environ.get(env_name(name)))})
    return rows


def save(changes: Mapping[str, Any], settings: Settings, paths: Paths,
         check: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write ``changes`` ({name: value}) to the config file after the loader's checks, and
    apply the live ones to the running ``settings``. ``check``: {name: callable(value)} extra
    checks (a target must have an image). Raises BadRequest with words."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise BadRequest(f"these settings cannot be changed from the page: {', '.join(unknown)}")
    if not changes:
        raise BadRequest("nothing to change: send the settings to change and their new values")
    path = paths.config_file
    before = path.read_text(encoding="utf-8") if path.exists() else None
    try:
        table = tomllib.loads(before) if before else {}
    except tomllib.TOMLDecodeError as exc:
        raise BadRequest(f"the config file is not valid TOML ({exc}); fix it by hand first") from None
    table.update({k: str(v) if k in ("watch_folder",) else v for k, v in changes.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, tomli_w.dumps(table))
    try:
        loaded = load_settings(paths=paths)            # the very checks the daemon runs at start
        for name, fn in (check or {}).items():
            if name in changes:
                fn(getattr(loaded, name))
    except (ConfigError, ValueError, LookupError) as exc:
        if before is None:
            path.unlink(missing_ok=True)
        else:
            write_private(path, before)
        raise BadRequest(f"not saved: {exc}") from None
    except Exception as exc:                           # a core error (an unknown target) says what is wrong
        if before is None:
            path.unlink(missing_ok=True)
        else:
            write_private(path, before)
        raise BadRequest(f"not saved: {exc}") from None
    applied, restart = [], []
    for name in changes:
        if EDITABLE[name].live:
            # The running daemon shares one Settings object and reads these per job: updating it in
            # place applies them to the next job without a restart.
            object.__setattr__(settings, name, getattr(loaded, name))
            applied.append(name)
        else:
            restart.append(name)
    overridden = [n for n in changes if os.environ.get(env_name(n))]
    return {"saved": sorted(changes), "applied": applied, "restart_needed": restart, "overridden": overridden,
            "rows": editable_rows(settings)}
