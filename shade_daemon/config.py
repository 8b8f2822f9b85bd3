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
from shading import DEFAULT_MAX_PIXELS, DEFAULT_VIEW_SIZE, DEVICES, INTENSITIES, MODES, QUALITIES, parse_channels

from .private import private_dir

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
        """Create Shade's folders, each for this user only (0700)."""
        for p in (self.config_dir, self.data_dir, self.cache_dir, self.state_dir, self.log_dir):
            private_dir(p)
        return self


def _default_shade_folder(env: Mapping[str, str]) -> Path:
    home = env.get("SHADE_HOME")
    pictures = Path(home) / "Pictures" if home else Path(platformdirs.user_pictures_dir())
    return pictures / "Shade"


def _setting(default: Any, doc: str, **kw: Any) -> Any:
    """A setting: its default and what it means (``settings_table`` renders both)."""
    return field(default=default, metadata={"doc": doc}, **kw)


@dataclass(frozen=True)
class Settings:
    """Effective settings: THE settings table. Field names are the TOML keys; the variables
    are SHADE_<NAME upper> (``env_name``); each field's ``doc`` is its meaning, from which
    ``docs/configuration.md`` is generated (``settings_markdown``)."""

    port: int = _setting(DEFAULT_PORT, "The loopback port the daemon listens on (127.0.0.1 only).")
    watch_folder: Path = _setting(Path(), "The folder watched for images to shade; results go to `ready/` and the "
                                  "originals to `originals/` beside it. Default: `Pictures/Shade/to-post`.")
    mode: str = _setting("poison", "What shading aims at by default: `poison` (toward a target concept), `cloak` "
                         "(toward a reference style) or `both`.")
    target: str = _setting("cat", "The default target concept for poison/both: a name with an anchor image "
                           "(`shade anchors`).")
    style: str = _setting("van-gogh", "The default reference style for cloak/both: a built-in one or one in "
                          "`style_dirs` (`shade styles`).")
    intensity: str = _setting("default", "How visible the change may be: the default intensity of a job.")
    quality: str = _setting("default", "How hard the optimizer looks: the default quality preset of a job.")
    encoders: tuple[str, ...] = _setting(("installed",), "The image encoders shaded against (comma-separated in "
                                         "the variable); `installed` means every one installed.")
    channels: tuple[str, ...] = _setting(("auto",), "What shading acts on (comma-separated): `latent` (the "
                                         "image encoders a generator trains through), `labels` (the classifiers and "
                                         "taggers that write its training captions), or `auto`: both where the "
                                         "label models are installed (`pip install 'shade-art[labels]'`), else "
                                         "`latent`. Both cost about 1.06 times the latent channel's time "
                                         "(docs/how-it-works.md, the label channel).")
    device: str = _setting("auto", "Where shading runs: `auto`, `cpu`, `cuda` or `mps`.")
    view_size: int = _setting(DEFAULT_VIEW_SIZE, "Working resolution of the optimization: the short side a "
                              "trainer resizes to.")
    max_upload_mb: int = _setting(64, "The largest upload the daemon accepts, in MB (per image).")
    max_pixels: int = _setting(DEFAULT_MAX_PIXELS, "The largest image shaded, in pixels.")
    result_retention_hours: float = _setting(24.0, "How long finished jobs (and their results) are kept.")
    allowed_origins: tuple[str, ...] = _setting((), "Browser origins allowed besides the paired extension "
                                                "(comma-separated in the variable).")
    model_dirs: tuple[Path, ...] = _setting((), "Folders holding the encoder weights (path-separated in "
                                            "the variable). Default: `models` in the data folder.")
    anchor_dirs: tuple[Path, ...] = _setting((), "Folders of the user's anchor images, one per concept "
                                             "(path-separated). Default: `anchors` in the data folder.")
    style_dirs: tuple[Path, ...] = _setting((), "Folders of the user's reference styles (path-separated). "
                                            "Default: `styles` in the data folder.")
    token_store: str = _setting("keyring", "Where the API token is kept: `keyring` (the system's) or `file` "
                                "(a 0600 file, opt-in fallback).")
    token_reload_seconds: float = _setting(2.0, "Kept for older configurations: `shade token --rotate` now "
                                           "tells the running daemon at once (it re-reads the token on SIGHUP).")
    steps: int = _setting(0, "Optimizer steps per job, overriding the quality preset (0: use the preset).")
    max_queued_jobs: int = _setting(1000, "The most jobs waiting at once; more uploads get 503 until the queue "
                                    "drains.")
    max_audits: int = _setting(2, "The most audits measured at once; audits have their own threads, so they "
                               "never hold up uploads or shading.")
    worker_stuck_seconds: float = _setting(1800.0, "A running job with no sign of progress for this long counts "
                                           "as stuck: health says so and the worker is restarted.")
    cluster: str = _setting("", "A Ray cluster the daemon sends its jobs to instead of shading here (`auto`, "
                            "`ray://HOST:10001` or `HOST:PORT`; empty: shade here). Needs `shade-art[cluster]`; "
                            "see docs/scale.md.")
    cluster_fallback: str = _setting("wait", "When `cluster` is unreachable: `wait` keeps jobs queued until it "
                                     "answers; `local` shades them here meanwhile.")
    watch_debounce_seconds: float = _setting(1.0, "Watched folder: quiet time (s) before a new file is checked "
                                             "for completeness.")
    login_link_seconds: float = _setting(60.0, "Dashboard: how long a one-time login link stays valid (s).")
    session_hours: float = _setting(12.0, "Dashboard: how long a session lasts (hours).")
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
_STR_LISTS = {"encoders", "allowed_origins", "channels"}
TOKEN_STORES = ("keyring", "file")
CLUSTER_FALLBACKS = ("wait", "local")
CHOICES: Mapping[str, tuple[str, ...]] = {
    "mode": MODES,
    "intensity": tuple(INTENSITIES),
    "quality": tuple(QUALITIES),
    "device": DEVICES,
    "token_store": TOKEN_STORES,
    "cluster_fallback": CLUSTER_FALLBACKS,
}


def env_name(name: str) -> str:
    """The environment variable that sets ``name``."""
    return _ENV_NAMES.get(name, f"SHADE_{name.upper()}")


def _shown_default(f: dataclasses.Field) -> str:
    value = f.default
    if isinstance(value, tuple) or value == "":
        return ", ".join(str(v) for v in value) if value else "(none)"
    if isinstance(value, Path):
        return "(see meaning)"
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return str(value)


def settings_table() -> list[tuple[str, str, str, str, str]]:
    """(name, default, environment variable, choices, meaning) for every setting, in order."""
    rows = []
    for f in dataclasses.fields(Settings):
        if f.name == "sources":
            continue
        rows.append((f.name, _shown_default(f), env_name(f.name), ", ".join(CHOICES.get(f.name, ())),
                     f.metadata.get("doc", "")))
    return rows


def settings_markdown() -> str:
    """``docs/configuration.md``: generated from the settings table (``python -m
    shade_daemon.config --markdown > docs/configuration.md``); a test fails when it is stale."""
    lines = [
        "# Configuration",
        "",
        "<!-- Generated from shade_daemon/config.py (the Settings table): do not edit by hand. Regenerate with",
        "     .venv/bin/python -m shade_daemon.config --markdown > docs/configuration.md -->",
        "",
        "Values come, in rising precedence, from the defaults below, the TOML file `config.toml` in the config",
        "folder, and the environment variables. `shade config` prints every value and where it came from; "
        "`SHADE_HOME`",
        "puts all of Shade's folders under one folder. The daemon reads its settings when it starts: restart it",
        "after a change.",
        "",
        "| Setting | Default | Variable | Meaning |",
        "|---|---|---|---|",
    ]
    for name, default, var, choices, doc in settings_table():
        meaning = doc + (f" One of: {choices}." if choices else "")
        lines.append(f"| `{name}` | `{default}` | `{var}` | {meaning.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def _coerce(name: str, raw: Any, from_env: bool) -> Any:
    kind = {f.name: f.type for f in dataclasses.fields(Settings)}[name]
    try:
        if name in _PATH_LISTS:
            items = raw.split(os.pathsep) if from_env else list(raw)
            return tuple(Path(p).expanduser() for p in items if str(p))
        if name == "channels":
            return parse_channels(raw if from_env or isinstance(raw, str) else ",".join(str(s) for s in raw))
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
        var = env_name(name)
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


if __name__ == "__main__":
    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m shade_daemon.config --markdown > docs/configuration.md")
    sys.stdout.write(settings_markdown())
