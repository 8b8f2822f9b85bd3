"""The daemon's only door into the shading core: job options -> ProtectOptions, model
preload, and the protect call. ``shading`` is imported lazily so CLI commands that
only talk to a running daemon start fast."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from ..config import Settings

OPTION_FIELDS = ("mode", "target", "intensity", "quality")


def known_targets(anchor_dirs: tuple[Path, ...]) -> list[str]:
    """Concept names that have an anchor image in the anchor folders."""
    from shading.targets import library_concepts

    return library_concepts(anchor_dirs)


def check_target(target: str, settings: Settings) -> None:
    """Raise the core's error for a target that is malformed or has no anchor image, so the
    caller hears it at once rather than from a failed job."""
    from shading.targets import check_target as core_check_target

    core_check_target(target, settings.anchor_dirs, settings.model_dirs)


def job_options(fields: dict[str, str], settings: Settings, *, has_anchor: bool, has_style: bool) -> dict[str, Any]:
    """Validated options for a new job: given fields over the configured defaults."""
    from shading import OptionsError, ProtectOptions

    opts = {
        "mode": fields.get("mode") or settings.mode,
        "target": fields.get("target") or settings.target,
        "intensity": fields.get("intensity") or settings.intensity,
        "quality": fields.get("quality") or settings.quality,
    }
    probe = ProtectOptions(mode=opts["mode"], target=opts["target"], intensity=opts["intensity"],
                           quality=opts["quality"], anchor=b"x" if has_anchor else None,
                           style_image=b"x" if has_style else None, encoders=settings.encoders,
                           view_size=settings.view_size)
    probe.validate()
    if opts["mode"] in ("poison", "both") and not has_anchor:
        check_target(opts["target"], settings)
    if opts["mode"] == "cloak" and has_anchor:
        raise OptionsError("an anchor image is only used by modes poison and both; drop it or change the mode")
    return opts


def protect_options(opts: dict[str, Any], settings: Settings, *, anchor: Optional[Path], style: Optional[Path]):
    from shading import ProtectOptions

    return ProtectOptions(
        mode=opts["mode"], target=opts.get("target"), anchor=anchor, style_image=style,
        intensity=opts["intensity"], quality=opts["quality"], encoders=settings.encoders,
        device=settings.device, model_dirs=settings.model_dirs, anchor_dirs=settings.anchor_dirs,
        max_pixels=settings.max_pixels, view_size=settings.view_size, steps=settings.steps or None,
    )


def preload(settings: Settings) -> dict[str, Any]:
    """Load every configured encoder once; returns {device, encoders}."""
    import shading

    device = shading.resolve_device(settings.device)
    names = shading.expand_encoders(settings.encoders, settings.model_dirs)
    for name in names:
        shading.load_encoder(name, device, settings.model_dirs)
    return {"device": device, "encoders": list(names)}


def protect(input_path: Path, options: Any, progress: Callable[[int, int, str], None]):
    import shading

    return shading.protect(input_path, options, progress=progress)


def cancelled_error() -> type[BaseException]:
    from shading import Cancelled

    return Cancelled
