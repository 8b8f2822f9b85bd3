"""The one place that holds Shade's configuration.

Values come, in rising precedence, from built-in defaults, the TOML file
``config.toml`` in the config dir, and ``SHADE_*`` environment variables.
Every value remembers where it came from so ``shade config`` can say so.

Folders follow each OS's conventions through platformdirs; ``SHADE_HOME``
puts all of them under one folder instead (tests, portable installs).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import platformdirs

# The core owns the vocabulary (torch-free to import): every choice and limit below derives from it.
from shading.options import DEFAULT_MAX_PIXELS, DEFAULT_VIEW_SIZE, DEVICES, INTENSITIES, MODES, QUALITIES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

APP_NAME = "Shade"
DEFAULT_PORT = 47821


class ConfigError(ValueError):
    """The configuration file or an environment variable holds a bad value."""


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    cache_dir: Path
    state_dir: Path
    log_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @classmethod
    def resolve(cls, env: Mapping[str, str] | None = None) -> "Paths":
        env = os.environ if env is None else env
        home = env.get("SHADE_HOME")
        if home:
            root = Path(home).expanduser().resolve()
            return cls(root / "config", root / "data", root / "cache", root / "state", root / "logs")
        dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
        return cls(
            Path(dirs.user_config_dir), Path(dirs.user_data_dir), Path(dirs.user_cache_dir),
            Path(dirs.user_state_dir), Path(dirs.user_log_dir),
        )

    def ensure(self) -> "Paths":
        for p in (self.config_dir, self.data_dir, self.cache_dir, self.state_dir, self.log_dir):
            p.mkdir(parents=True, exist_ok=True)
        return self


def _default_shade_folder(env: Mapping[str, str]) -> Path:
    home = env.get("SHADE_HOME")
    pictures = Path(home) / "Pictures" if home else Path(platformdirs.user_pictures_dir())
    return pictures / "Shade"


@dataclass(frozen=True)
class Settings:
    """Effective settings. Field names are the TOML keys; env vars are SHADE_<NAME upper>."""

    port: int = DEFAULT_PORT
    # Folder watched for images to shade; results go to ready/ and originals/ beside it.
    watch_folder: Path = Path()
    mode: str = "poison"
    target: str = "cat"
    # cloak/both: the reference style (a built-in one, or one in style_dirs: `shade styles`).
    style: str = "van-gogh"
    intensity: str = "default"
    quality: str = "default"
    encoders: tuple[str, ...] = ("installed",)
    device: str = "auto"
    # Working resolution of the optimization: the short side a trainer resizes to.
    view_size: int = DEFAULT_VIEW_SIZE
    max_upload_mb: int = 64
    max_pixels: int = DEFAULT_MAX_PIXELS
    result_retention_hours: float = 24.0
    allowed_origins: tuple[str, ...] = ()
    model_dirs: tuple[Path, ...] = ()
    anchor_dirs: tuple[Path, ...] = ()
    style_dirs: tuple[Path, ...] = ()
    # How the API token is stored: "keyring" (default) or "file" (opt-in fallback).
    token_store: str = "keyring"
    # Daemon: after a token mismatch, re-read the token store at most this often (s), so
    # `shade token --rotate` takes effect without a restart.
    token_reload_seconds: float = 2.0
    # Daemon: optimizer steps per job, overriding the quality preset (0 = use the preset).
    steps: int = 0
    # Daemon: the most jobs waiting at once; more uploads get 503 until the queue drains.
    max_queued_jobs: int = 1000
    # Daemon, watched folder: quiet time (s) before a new file is checked for completeness.
    watch_debounce_seconds: float = 1.0
    # Dashboard: how long a one-time login link stays valid (s), and a session (hours).
    login_link_seconds: float = 60.0
    session_hours: float = 12.0
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def describe(self) -> list[tuple[str, Any, str]]:
        """(name, value, where it came from) for every setting."""
        return [
            (f.name, getattr(self, f.name), self.sources.get(f.name, "default"))
            for f in dataclasses.fields(self) if f.name != "sources"
        ]


_PATH_LISTS = {"model_dirs", "anchor_dirs", "style_dirs"}
# Environment names that differ from SHADE_<NAME>.
_ENV_NAMES = {"model_dirs": "SHADE_MODEL_DIR", "anchor_dirs": "SHADE_ANCHOR_DIR", "style_dirs": "SHADE_STYLE_DIR"}
_STR_LISTS = {"encoders", "allowed_origins"}
TOKEN_STORES = ("keyring", "file")
CHOICES: Mapping[str, tuple[str, ...]] = {
    "mode": MODES,
    "intensity": tuple(INTENSITIES),
    "quality": tuple(QUALITIES),
    "device": DEVICES,
    "token_store": TOKEN_STORES,
}


def _coerce(name: str, raw: Any, from_env: bool) -> Any:
    kind = {f.name: f.type for f in dataclasses.fields(Settings)}[name]
    try:
        if name in _PATH_LISTS:
            items = raw.split(os.pathsep) if from_env else list(raw)
            return tuple(Path(p).expanduser() for p in items if str(p))
        if name in _STR_LISTS:
            items = raw.split(",") if from_env else list(raw)
            return tuple(str(s).strip() for s in items if str(s).strip())
        if name == "watch_folder":
            return Path(raw).expanduser()
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        value = str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name!r}: cannot use {raw!r} ({exc})") from None
    if name in CHOICES and value not in CHOICES[name]:
        raise ConfigError(f"setting {name!r} must be one of {', '.join(CHOICES[name])}, not {value!r}")
    return value


def load_settings(env: Mapping[str, str] | None = None, paths: Paths | None = None) -> Settings:
    env = os.environ if env is None else env
    paths = paths or Paths.resolve(env)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    names = [f.name for f in dataclasses.fields(Settings) if f.name != "sources"]

    if paths.config_file.exists():
        try:
            table = tomllib.loads(paths.config_file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{paths.config_file}: not valid TOML ({exc}); fix or remove the file") from None
        unknown = sorted(set(table) - set(names))
        if unknown:
            raise ConfigError(f"{paths.config_file}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(names)}")
        for name, raw in table.items():
            values[name] = _coerce(name, raw, from_env=False)
            sources[name] = f"config file {paths.config_file}"

    for name in names:
        var = _ENV_NAMES.get(name, f"SHADE_{name.upper()}")
        if env.get(var):
            values[name] = _coerce(name, env[var], from_env=True)
            sources[name] = f"environment {var}"

    if "watch_folder" not in values:
        values["watch_folder"] = _default_shade_folder(env) / "to-post"
    if "model_dirs" not in values:
        values["model_dirs"] = (paths.data_dir / "models",)
        sources["model_dirs"] = "default (data dir)"
    if "anchor_dirs" not in values:
        values["anchor_dirs"] = (paths.data_dir / "anchors",)
        sources["anchor_dirs"] = "default (data dir)"
    if "style_dirs" not in values:
        values["style_dirs"] = (paths.data_dir / "styles",)
        sources["style_dirs"] = "default (data dir)"
    return Settings(**values, sources=sources)
