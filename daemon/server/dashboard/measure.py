"""The dashboard's door into the shading core: a job's preview images and the audit of a
posted copy. Called in a worker thread (``asyncio.to_thread``); ``shading`` is imported
lazily, as in ``server/shader.py``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Optional, Sequence

from ...config import Settings
from .. import shader

PREVIEW_KINDS = ("original", "shaded", "difference", "model-original", "model-shaded", "sheet")


def _png(rgb: Any) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    (rgb if isinstance(rgb, Image.Image) else Image.fromarray(rgb)).save(buf, "PNG")
    return buf.getvalue()


def job_encoders(measurements: dict[str, Any], settings: Settings) -> list[str]:
    """The encoders a job was shaded against (its measurements say), else the configured ones."""
    import shading

    names = measurements.get("encoders")
    return list(names) if names else list(shading.expand_encoders(settings.encoders, settings.model_dirs))


def preview_images(original_file: Path, result_file: Path, measurements: dict[str, Any], title: str,
                   settings: Settings) -> tuple[dict[str, bytes], dict[str, Any], str]:
    """({kind: PNG bytes}, the verdict in words, the decoding encoder's name) for one job."""
    from shading.imageio import decode_rgb, load_image
    from shading.preview import make_preview, sheet

    device = shader.check_device(settings)
    original = load_image(original_file, max_pixels=10 ** 9).rgb
    shaded = decode_rgb(result_file.read_bytes())
    pv = make_preview(original, shaded, measurements, job_encoders(measurements, settings), settings.model_dirs,
                      settings.view_size, device)
    pngs = {kind: _png(rgb) for kind, rgb in pv.images().items()}
    pngs["sheet"] = _png(sheet(pv, title))
    return pngs, pv.words, pv.decoder


def load_rgb(path: Path) -> Any:
    from shading.imageio import load_image

    return load_image(path, max_pixels=10 ** 9).rgb


def fingerprint_of(rgb: Any) -> dict[str, str]:
    from shading.audit import fingerprint

    return fingerprint(rgb).to_dict()


def match(copy: dict[str, str], candidates: Sequence[tuple[str, list[dict[str, str]]]]) -> Optional[dict[str, Any]]:
    """The history entry a posted copy belongs to (see ``shading.audit.best_match``)."""
    from shading.audit import Fingerprint, best_match

    found = best_match(Fingerprint(**copy), [(key, [Fingerprint(**fp) for fp in fps]) for key, fps in candidates])
    return None if found is None else {"entry_id": found.key, "phash_bits": found.phash_bits,
                                       "segments": found.segments, "how": found.how}


def _targets(options: dict[str, Any], settings: Settings, anchor: Optional[Path], style: Optional[Path],
             device: str) -> Any:
    from shading.imageio import load_image
    from shading.targets import TargetBuilder, resolve_anchor, resolve_style

    mode = options.get("mode") or settings.mode
    anchor_rgb = None
    if mode in ("poison", "both"):
        anchor_rgb, _ = resolve_anchor(anchor, options.get("target") or settings.target, settings.anchor_dirs,
                                       settings.model_dirs, device)
    style_rgb = None
    if mode in ("cloak", "both"):
        style = style or resolve_style(options.get("style") or settings.style, settings.style_dirs)
        style_rgb = load_image(style, name="style image").rgb
    return TargetBuilder(mode, anchor_rgb, style_rgb)


def audit(posted_file: Path, original: Any, options: dict[str, Any], measurements: dict[str, Any],
          settings: Settings, *, anchor: Optional[Path] = None, style: Optional[Path] = None) -> dict[str, Any]:
    """The report on a posted copy against its original (H x W x 3 uint8) and the job's target."""
    import shading
    from shading.audit import audit_verdict, detect, mean, posted_ratios
    from shading.options import INTENSITIES

    device = shader.check_device(settings)
    data = posted_file.read_bytes()
    platform = detect(data)
    posted = load_rgb(posted_file)
    names = job_encoders(measurements, settings)
    encoders = [shading.load_encoder(n, device, settings.model_dirs) for n in names]
    builder = _targets(options, settings, anchor, style, device)
    views = {}
    for short in (settings.view_size, 2 * settings.view_size):
        views[str(short)] = {n: round(r, 5) for n, r in
                             zip(names, posted_ratios(original, posted, encoders, builder, short, device))}
    ratios = list(views[str(settings.view_size)].values())
    intensity = INTENSITIES.get(measurements.get("intensity") or options.get("intensity") or settings.intensity)
    threshold = intensity.min_protection if intensity else INTENSITIES["default"].min_protection
    ratio = mean(ratios)
    words = audit_verdict(ratio, threshold, measurements.get("latent_ratio"))
    oh, ow = original.shape[:2]
    ph, pw = posted.shape[:2]
    cropped = abs(ow / oh - pw / ph) > 0.02
    return {
        "latent_ratio": ratio, "latent_ratios": views[str(settings.view_size)],
        "views": {short: mean(list(v.values())) for short, v in views.items()}, "view_size": settings.view_size,
        "threshold": threshold, "shaded_latent_ratio": measurements.get("latent_ratio"),
        "platform": {**platform, "scale": round(pw / ow, 4), "cropped": cropped},
        "original_size": {"width": ow, "height": oh}, "encoders": names, **words,
    }
