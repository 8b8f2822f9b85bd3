"""The daemon's one door into the shading core.

``Core`` holds the daemon's ``shading.Protector`` (the encoders loaded once, on the
configured device) and its ``shading.Library`` (anchors and styles), and turns what a job
or a request asks into the core's terms: options checked at once, shading, the preview
of a done job and the audit of a posted copy. Only names that ``shading`` exports are
used; torch loads with the first model, so commands that only talk to a running daemon
start fast.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import shading
from shading import Library, OptionsError, ProtectOptions, mode_needs, normalize_style

from ..config import Settings

OPTION_FIELDS = ("mode", "target", "style", "intensity", "quality")
PREVIEW_KINDS = ("original", "shaded", "difference", "model-original", "model-shaded", "model-difference", "target",
                 "model-target", "sheet")      # target and model-target where the job has a target image
ANY_SIZE = 10 ** 9          # files the daemon made or already checked: no pixel limit on reading them back


def _png(rgb: Any) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    (rgb if isinstance(rgb, Image.Image) else Image.fromarray(rgb)).save(buf, "PNG")
    return buf.getvalue()


def load_rgb(path: Path) -> Any:
    """An image file the daemon already checked, as H x W x 3 uint8."""
    return shading.load_image(path, max_pixels=ANY_SIZE).rgb


def fingerprint_of(rgb: Any) -> dict[str, str]:
    return shading.fingerprint(rgb).to_dict()


def match(copy: dict[str, str], candidates: Sequence[tuple[str, list[dict[str, str]]]]) -> Optional[dict[str, Any]]:
    """The history entry a posted copy belongs to (see ``shading.best_match``)."""
    fp = shading.Fingerprint
    found = shading.best_match(fp(**copy), [(key, [fp(**p) for p in prints]) for key, prints in candidates])
    return None if found is None else {"entry_id": found.key, "phash_bits": found.phash_bits,
                                       "segments": found.segments, "how": found.how}


class Core:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.library = Library(tuple(settings.anchor_dirs), tuple(settings.style_dirs), tuple(settings.model_dirs))
        self._protector: Optional[Any] = None
        self._channels: Optional[tuple[str, ...]] = None
        self._lock = threading.Lock()

    # --- the models ----------------------------------------------------------------------
    def check_device(self) -> str:
        """The device the ``device`` setting resolves to; raises the core's
        ``DeviceUnavailable`` saying what to set in the daemon's configuration."""
        try:
            return shading.resolve_device(self.settings.device)
        except shading.DeviceUnavailable as exc:
            reason = str(exc).split(";")[0].replace("--device ", "device ")
            raise shading.DeviceUnavailable(
                f"the daemon's device setting is {self.settings.device!r}, which it cannot use here ({reason}); set "
                "device to \"cpu\" (or \"auto\") in config.toml or SHADE_DEVICE (`shade config` shows where), then "
                "restart the daemon") from None

    def protector(self) -> Any:
        """The loaded ``shading.Protector`` (loaded on first use; any thread)."""
        with self._lock:
            if self._protector is None:
                self.check_device()
                self._protector = shading.Protector.from_pretrained(
                    encoders=self.settings.encoders, device=self.settings.device, model_dirs=self.settings.model_dirs)
            return self._protector

    def channels(self) -> tuple[str, ...]:
        """The ``channels`` setting, ``auto`` resolved (once) against the installed label models."""
        if self._channels is None:
            self._channels = shading.resolve_channels(self.settings.channels, ProtectOptions.label_models,
                                                      self.settings.model_dirs)
        return self._channels

    def preload(self) -> dict[str, Any]:
        """Load every configured encoder; returns {device, encoders}."""
        protector = self.protector()
        return {"device": protector.device, "encoders": list(protector.names)}

    # --- the libraries -------------------------------------------------------------------
    def library_status(self) -> dict[str, Any]:
        """What /v1/status says about targets and styles: the names (the user's first), whether
        missing concepts are rendered by an installed text-to-image pipeline, and the modes
        that can work with them (a client offers only those)."""
        targets, styles = self.library.concepts(), self.library.style_names()
        renders = self.library.renders_missing_targets()
        have = {"target": bool(targets) or renders, "style": bool(styles)}
        modes = [m for m in shading.MODES if all(have[need] for need in shading.MODE_NEEDS[m])]
        return {"targets": targets, "styles": styles, "renders_missing_targets": renders, "modes": modes}

    def check_target(self, target: str) -> None:
        """Raise the core's error for a target that is malformed or has no anchor image, so the
        caller hears it at once rather than from a failed job."""
        self.library.check_target(target)

    def check_style(self, style: str) -> None:
        self.library.resolve_style(style)

    # --- jobs ----------------------------------------------------------------------------
    def job_options(self, fields: dict[str, str], *, has_anchor: bool, has_style: bool) -> dict[str, Any]:
        """Validated options for a new job: given fields over the configured defaults."""
        settings = self.settings
        opts: dict[str, Any] = {
            "mode": fields.get("mode") or settings.mode,
            "target": fields.get("target") or settings.target,
            "intensity": fields.get("intensity") or settings.intensity,
            "quality": fields.get("quality") or settings.quality,
        }
        if fields.get("style") and has_style:
            raise OptionsError("give a style name or a style image, not both")
        if mode_needs(opts["mode"], "style") and not has_style:
            # A named reference style (the user's library, then the built-ins): looked up now,
            # so a bad name is heard at once, and again when the job runs.
            opts["style"] = normalize_style(fields.get("style") or settings.style)
            self.library.resolve_style(opts["style"])
        probe = ProtectOptions(mode=opts["mode"], target=opts["target"], intensity=opts["intensity"],
                               quality=opts["quality"], anchor=b"x" if has_anchor else None,
                               style_image=b"x" if has_style or opts.get("style") else None,
                               encoders=settings.encoders, view_size=settings.view_size)
        probe.validate()
        if mode_needs(opts["mode"], "target") and not has_anchor:
            self.check_target(opts["target"])
        if has_anchor and not mode_needs(opts["mode"], "target"):
            raise OptionsError(f"an anchor image is only used by modes that aim at a target "
                               f"({', '.join(m for m in shading.MODES if mode_needs(m, 'target'))}); drop it or "
                               "change the mode")
        return opts

    def protect_options(self, opts: dict[str, Any], *, anchor: Optional[Path], style: Optional[Path],
                        seed: Optional[int] = None) -> ProtectOptions:
        settings = self.settings
        if style is None and opts.get("style") and mode_needs(opts["mode"], "style"):
            style = self.library.resolve_style(opts["style"])
        return ProtectOptions(
            mode=opts["mode"], target=opts.get("target"), anchor=anchor, style_image=style,
            intensity=opts["intensity"], quality=opts["quality"], encoders=settings.encoders,
            device=settings.device, model_dirs=settings.model_dirs, anchor_dirs=settings.anchor_dirs,
            max_pixels=settings.max_pixels, view_size=settings.view_size, steps=settings.steps or None, seed=seed,
            channels=self.channels(),
        )

    def protect(self, input_path: Path, options: ProtectOptions, progress: Callable[[int, int, str], None],
                checkpoint: Any = None) -> Any:
        """Shade one job's image with the loaded models (``checkpoint``: a ``shading.Checkpoint``),
        or on the cluster the ``cluster`` setting names (shade_daemon/cluster/offload.py)."""
        def here() -> Any:
            return self.protector().protect(input_path, options, progress=progress, checkpoint=checkpoint)

        if self.settings.cluster:
            from ..cluster.offload import protect_offloaded

            return protect_offloaded(self.settings, input_path, options, progress, here)
        return here()

    # --- measuring done work ---------------------------------------------------------------
    def preview_images(self, original_file: Path, result_file: Path, measurements: dict[str, Any],
                       title: str, target_file: Optional[Path] = None,
                       progress: Optional[shading.ProgressCallback] = None
                       ) -> tuple[dict[str, bytes], dict[str, Any], str]:
        """({kind: PNG bytes}, the verdict in words, the decoding encoder's name) for one job;
        ``target_file``: the anchor or style the job pulls towards, shown beside the rest;
        ``progress(step, total, stage)`` as ``Protector.preview`` tells it, then "sheet"."""
        tell = progress or (lambda step, total, stage: None)
        if self._protector is None:
            tell(0, 0, "load")
        target = load_rgb(target_file) if target_file is not None else None
        pv = self.protector().preview(load_rgb(original_file), result_file.read_bytes(), measurements,
                                      self.settings.view_size, target=target, progress=tell)
        tell(1, 1, "sheet")
        pngs = {kind: _png(rgb) for kind, rgb in pv.images().items()}
        pngs["sheet"] = _png(shading.sheet(pv, title))
        return pngs, pv.words, pv.decoder

    def audit(self, posted_file: Path, original: Any, options: dict[str, Any], measurements: dict[str, Any], *,
              anchor: Optional[Path] = None, style: Optional[Path] = None) -> dict[str, Any]:
        """The report on a posted copy against its original (H x W x 3 uint8) and the job's target."""
        settings = self.settings
        opts = {"mode": options.get("mode") or settings.mode, "target": options.get("target") or settings.target,
                "style": options.get("style") or settings.style,
                "intensity": measurements.get("intensity") or options.get("intensity") or settings.intensity,
                "quality": settings.quality}
        protect_opts = self.protect_options(opts, anchor=anchor if mode_needs(opts["mode"], "target") else None,
                                            style=style if mode_needs(opts["mode"], "style") else None)
        return self.protector().audit(original, posted_file.read_bytes(), protect_opts, measurements,
                                      view_sizes=(settings.view_size, 2 * settings.view_size))
