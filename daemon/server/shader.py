"""The daemon's only door into the shading core: job options -> ProtectOptions, model
preload, and the protect call. ``shading`` is imported lazily so CLI commands that
only talk to a running daemon start fast."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from ..config import Settings

OPTION_FIELDS = ("mode", "target", "style", "intensity", "quality")


def known_targets(anchor_dirs: tuple[Path, ...]) -> list[str]:
    """Concept names that have an anchor image in the anchor folders."""
    from shading.targets import library_concepts

    return library_concepts(anchor_dirs)


def known_styles(style_dirs: tuple[Path, ...]) -> list[str]:
    """Reference styles for cloak/both: the user's style library first, then the built-ins."""
    from shading.targets import library_styles

    return library_styles(style_dirs)


def library_status(settings: Settings) -> dict[str, Any]:
    """What /v1/status says about targets and styles: the names (the user's first), whether
    missing concepts are rendered by an installed text-to-image pipeline, and the modes
    that can work with them (a client offers only those)."""
    from shading.options import MODES
    from shading.targets import text_to_image_folder

    targets, styles = known_targets(settings.anchor_dirs), known_styles(settings.style_dirs)
    renders = text_to_image_folder(settings.model_dirs) is not None
    can = {"poison": bool(targets) or renders, "cloak": bool(styles)}
    can["both"] = can["poison"] and can["cloak"]
    return {"targets": targets, "styles": styles, "renders_missing_targets": renders,
            "modes": [m for m in MODES if can.get(m)]}


def check_target(target: str, settings: Settings) -> None:
    """Raise the core's error for a target that is malformed or has no anchor image, so the
    caller hears it at once rather than from a failed job."""
    from shading.targets import check_target as core_check_target

    core_check_target(target, settings.anchor_dirs, settings.model_dirs)


def job_options(fields: dict[str, str], settings: Settings, *, has_anchor: bool, has_style: bool) -> dict[str, Any]:
    """Validated options for a new job: given fields over the configured defaults."""
    from shading import OptionsError, ProtectOptions
    from shading.targets import normalize_style, resolve_style

    opts = {
        "mode": fields.get("mode") or settings.mode,
        "target": fields.get("target") or settings.target,
        "intensity": fields.get("intensity") or settings.intensity,
        "quality": fields.get("quality") or settings.quality,
    }
    if fields.get("style") and has_style:
        raise OptionsError("give a style name or a style image, not both")
    if opts["mode"] in ("cloak", "both") and not has_style:
        # A named reference style (the user's library, then the built-ins): looked up now,
        # so a bad name is heard at once, and again when the job runs.
        opts["style"] = normalize_style(fields.get("style") or settings.style)
        resolve_style(opts["style"], settings.style_dirs)
    probe = ProtectOptions(mode=opts["mode"], target=opts["target"], intensity=opts["intensity"],
                           quality=opts["quality"], anchor=b"x" if has_anchor else None,
                           style_image=b"x" if has_style or opts.get("style") else None,
                           encoders=settings.encoders, view_size=settings.view_size)
    probe.validate()
    if opts["mode"] in ("poison", "both") and not has_anchor:
        check_target(opts["target"], settings)
    if opts["mode"] == "cloak" and has_anchor:
        raise OptionsError("an anchor image is only used by modes poison and both; drop it or change the mode")
    return opts


def protect_options(opts: dict[str, Any], settings: Settings, *, anchor: Optional[Path], style: Optional[Path],
                    seed: Optional[int] = None):
    from shading import ProtectOptions
    from shading.targets import resolve_style

    if style is None and opts.get("style") and opts["mode"] in ("cloak", "both"):
        style = resolve_style(opts["style"], settings.style_dirs)

    return ProtectOptions(
        mode=opts["mode"], target=opts.get("target"), anchor=anchor, style_image=style,
        intensity=opts["intensity"], quality=opts["quality"], encoders=settings.encoders,
        device=settings.device, model_dirs=settings.model_dirs, anchor_dirs=settings.anchor_dirs,
        max_pixels=settings.max_pixels, view_size=settings.view_size, steps=settings.steps or None, seed=seed,
    )


def check_device(settings: Settings) -> str:
    """The device the configured ``device`` setting resolves to; raises the core's
    ``DeviceUnavailable`` with what to set in the daemon's configuration."""
    import shading

    try:
        return shading.resolve_device(settings.device)
    except shading.DeviceUnavailable as exc:
        reason = str(exc).split(";")[0].replace("--device ", "device ")
        raise shading.DeviceUnavailable(
            f"the daemon's device setting is {settings.device!r}, which it cannot use here ({reason}); set device "
            "to \"cpu\" (or \"auto\") in config.toml or SHADE_DEVICE (`shade config` shows where), then restart "
            "the daemon") from None


def preload(settings: Settings) -> dict[str, Any]:
    """Load every configured encoder once; returns {device, encoders}."""
    import shading

    device = check_device(settings)
    names = shading.expand_encoders(settings.encoders, settings.model_dirs)
    for name in names:
        shading.load_encoder(name, device, settings.model_dirs)
    return {"device": device, "encoders": list(names)}


def protect(input_path: Path, options: Any, progress: Callable[[int, int, str], None], checkpoint: Any = None):
    """``checkpoint``: a ``shading.checkpoint.Checkpoint`` the run saves into and resumes from."""
    import shading

    return shading.protect(input_path, options, progress=progress, checkpoint=checkpoint)


def cancelled_error() -> type[BaseException]:
    from shading import Cancelled

    return Cancelled
