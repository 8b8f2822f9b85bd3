"""``Protector``: loaded models and the device they run on, shading, previewing and
auditing images with them; ``protect`` is the one-shot helper that loads them for one call.

    protector = Protector.from_pretrained(encoders=("taef2",), device="cpu")
    result = protector.protect("dog.jpg", ProtectOptions(target="cat"))
    result.save("dog-shaded.jpg")
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

from .io.imageio import LoadedImage, _save_kwargs, compose, decode_rgb, load_image
from .measure.audit import audit_verdict, detect, mean, posted_ratios
from .measure.expected import expected_effect
from .measure.metrics import ATTACKS, RatioMeter, linf_255, psnr, rms_255, ssim, visibility
from .measure.preview import Preview, make_preview
from .models.decoders import Decoder, load_decoder, pick_decoder_encoder
from .models.encoders import Encoder, default_model_dirs, expand_encoders, load_encoder, resolve_device
from .optimize.attack import PLAIN_DISTANCE, AttackSettings, Shader, interleave, tiled_views, trainer_views
from .optimize.checkpoint import Checkpoint, Resumption
from .optimize.memory import large_blocks_mapped, release_free_memory
from .optimize.precision import autocast, optimizer_dtype
from .optimize.render import FullRender, full_mask, work_image
from .optimize.targets import TargetBuilder, resolve_anchor
from .options import INTENSITIES, ImageSource, ProgressCallback, ProtectOptions, mode_needs
from .pixels.mask import masking_map
from .pixels.views import view_shape
from .result import ProtectResult


def _noop(step: int, total: int, stage: str) -> None:
    pass


def _written_jpeg(loaded: LoadedImage) -> Optional[tuple[int, bool]]:
    """(quality, 4:2:0 chroma) of the JPEG the result will be written as; None for others."""
    if loaded.format != "JPEG":
        return None
    kwargs = _save_kwargs("JPEG", loaded.info)
    return int(kwargs["quality"]), kwargs.get("subsampling", 0) == 2


def _tuning(options: ProtectOptions, builder: TargetBuilder) -> dict[str, Any]:
    """The optimizer settings the options override. A whole-latent target (the anchor objective,
    mode both) keeps the published plain latent distance unless the options say otherwise;
    the band weights are for targets that share the image's layout."""
    tuning = {k: tuple(v) if isinstance(v, list) else v for k, v in options.tuning.items()}
    if not builder.shares_layout:
        tuning.setdefault("band_weights", PLAIN_DISTANCE)
    return tuning


def target_builder(options: ProtectOptions, model_dirs: Sequence[Path], device: str) -> tuple[TargetBuilder, Optional[str]]:
    """What the encoder should see instead, for ``options``' mode, and the target's label."""
    anchor_rgb, label = None, None
    if mode_needs(options.mode, "target"):
        anchor_rgb, label = resolve_anchor(options.anchor, options.target, options.anchor_dirs, model_dirs, device)
    style_rgb = load_image(options.style_image, name="style image").rgb \
        if mode_needs(options.mode, "style") else None
    return TargetBuilder(options.mode, anchor_rgb, style_rgb, options.objective, options.coarse_mix), label


class Protector:
    """The encoders (and, once asked for, decoders) Shade works with, loaded once, frozen, on
    one device. A long-lived caller (the daemon, a cluster worker) keeps one and calls it for
    every image; ``protect()`` makes one for a single call."""

    def __init__(self, encoders: dict[str, Encoder], device: str, model_dirs: Sequence[Path] = ()) -> None:
        self.encoders = dict(encoders)
        self.device = device
        self.model_dirs = tuple(Path(d) for d in model_dirs) or default_model_dirs()
        self._decoders: dict[str, Decoder] = {}
        self.label_models: dict[str, Any] = {}

    @classmethod
    def from_pretrained(cls, encoders: Sequence[str] = ("installed",), device: str = "auto",
                        model_dirs: Sequence[Path] = ()) -> "Protector":
        """Load ``encoders`` (names from the registry, ``installed`` for every installed one, or
        diffusers VAE folders) from ``model_dirs`` (default: ``SHADE_MODEL_DIR``) onto ``device``."""
        dirs = tuple(Path(d) for d in model_dirs) or default_model_dirs()
        resolved = resolve_device(device)
        names = expand_encoders(tuple(encoders), dirs)
        return cls({name: load_encoder(name, resolved, dirs) for name in names}, resolved, dirs)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.encoders)

    def encoders_for(self, asked: Sequence[str]) -> tuple[tuple[str, ...], list[Encoder]]:
        """The encoders ``asked`` names (``installed``: all this protector holds), loading any it lacks."""
        names = self.names if tuple(asked) == ("installed",) else expand_encoders(tuple(asked), self.model_dirs)
        for name in names:
            if name not in self.encoders:
                self.encoders[name] = load_encoder(name, self.device, self.model_dirs)
        return names, [self.encoders[n] for n in names]

    def _labels(self, names: Sequence[str]) -> list[Any]:
        """The label models ``names`` names, loaded once into this protector."""
        from .labels.registry import load_label_model

        for name in names:
            if name not in self.label_models:
                self.label_models[name] = load_label_model(name, self.device, self.model_dirs)
        return [self.label_models[n] for n in names]

    def _held_out_labels(self, ensemble: Sequence[str]) -> list[Any]:
        """Installed label models of the same kind that the ensemble does not use: the judges of
        transfer (for Lite0 + Lite1, Lite2)."""
        from .labels.registry import available_label_models

        infos = available_label_models(self.model_dirs)
        kinds = {info.name: info.kind for info in infos}
        wanted = {kinds.get(n) for n in ensemble}
        others = [i.name for i in infos if i.installed and i.kind in wanted and i.name not in ensemble]
        return self._labels(others[:1])

    def decoder(self, name: str) -> Decoder:
        if name not in self._decoders:
            self._decoders[name] = load_decoder(name, self.model_dirs, self.device)
        return self._decoders[name]

    def protect(self, image: ImageSource, options: Optional[ProtectOptions] = None,
                progress: Optional[ProgressCallback] = None, checkpoint: Optional[Checkpoint] = None) -> ProtectResult:
        """Shade ``image`` (a path, encoded bytes or a PIL image) as ``options`` ask, with this
        protector's models (``options.encoders``: which of them; ``options.device`` and
        ``model_dirs`` are the protector's).

        The written file keeps the intensity's visibility (SSIMULACRA2 against the original,
        measured on the encoded file), and every figure reported is measured on that file.
        ``progress(step, total, stage)`` is called as work advances; it may raise
        ``shading.Cancelled`` to stop. Raises ``ShadeError`` subclasses on bad input.
        ``checkpoint`` (see ``shading.optimize.checkpoint``): where the optimizer's state is saved
        every few steps, and resumed from when it belongs to this image, these options and this
        seed (give ``options.seed``); measurements' ``resumed_from_step`` says where (0: from the start)."""
        options = options or ProtectOptions()
        options.validate()
        report = progress or _noop
        started = time.perf_counter()
        intensity, quality = options.intensity_preset, options.quality_preset
        steps = options.steps if options.steps is not None else quality.steps
        check_steps = quality.check_steps if options.self_check else 0
        total = steps + check_steps
        report(0, total, "load")

        loaded = load_image(image, options.max_pixels)
        device, dirs = self.device, self.model_dirs
        names, encoders = self.encoders_for(options.encoders)
        builder, label = target_builder(options, dirs, device)
        anchor_rgb, style_rgb = builder.anchor_rgb, builder.style_rgb

        seed = options.seed if options.seed is not None else random.SystemRandom().randrange(2 ** 31)
        generator = torch.Generator().manual_seed(seed)
        cap = (options.eps_255 if options.eps_255 is not None else intensity.cap_255) / 255
        target = options.visibility_target
        shorts = [options.view_size * v // 512 for v in options.whole_views]
        tiled = [options.view_size * v // 512 for v in options.tiled_views]
        # The perturbation lives at the image's own resolution (capped at twice the largest
        # view), and every step goes through the same antialiased resize a trainer applies,
        # so what survives that resize is what gets optimized.
        full_hw = tuple(loaded.rgb.shape[:2])
        limit = max([2 * max(shorts), *tiled])
        work_hw = full_hw if min(full_hw) <= limit else view_shape(*full_hw, limit)
        px = work_hw[0] / full_hw[0]
        x_work = work_image(loaded.rgb, work_hw).to(device)
        mask = masking_map(x_work, px)
        views = interleave([view for short in shorts for view in trainer_views(view_shape(*full_hw, short))],
                           [tile for short in tiled for tile in tiled_views(view_shape(*full_hw, short), options.view_size)])
        dtype = optimizer_dtype(device, options.precision)
        # The targets the optimizer steers toward are encoded in its passes' precision (the
        # reported ratios are measured in float32 against targets of their own).
        with autocast(device, dtype):
            for view in {id(v): v for v in views}.values():    # interleaving repeats the shorter list
                view.targets = [builder.view_latent(enc, view, x_work).float() for enc in encoders]
        settings = AttackSettings(visibility=target, cap=cap, px=px, written_jpeg=_written_jpeg(loaded),
                                  **_tuning(options, builder))
        objective = None
        if "labels" in options.channels:
            from .labels.objective import LabelObjective

            concept = label if options.mode in ("poison", "both") else None
            objective = LabelObjective(self._labels(options.label_models), loaded.rgb, target=concept,
                                       target_image=anchor_rgb, jpeg_probability=0.0 if options.eot_weight else 0.5)
        shader = Shader(x_work, mask, encoders, views, settings, generator, eot=options.eot_weight, dtype=dtype,
                        labels=objective, label_weight=options.label_weight, latent="latent" in options.channels)
        resume = Resumption(checkpoint, shader, steps, (      # what the run depends on, for its fingerprint
            loaded.rgb, anchor_rgb, style_rgb, label, options.mode, options.objective, options.coarse_mix, names,
            settings, options.eot_weight,
            shader.dtype, [(v.shape, v.top, v.left, v.size) for v in views], steps, seed))
        release_free_memory()          # what the setup's full-size strips left, before the optimizer's peak
        if resume.restore():
            report(resume.from_step, total, "optimize")
        with large_blocks_mapped():
            shader.run(steps, on_step=resume.saving(lambda k: report(k, total, "optimize")), first=resume.from_step)

        release_free_memory()          # the optimizer's graphs are gone: the full-size stages follow
        render = FullRender(loaded, mask.cpu() if work_hw == full_hw else (lambda: full_mask(loaded.rgb)), cap,
                            shader.settings.grain_cap)
        render.set_pattern(*shader.unit())
        first_fit = shader.scale
        scale, data, rgb, _ = render.fit(target, first_fit)
        render.release()
        release_free_memory()
        meter = RatioMeter(encoders, builder, loaded.rgb, options.view_size, device)
        # The pull the self-check and the weak flag judge: toward the concept's statistics for
        # targets that share the image's layout (the whole latent is not their aim), else toward
        # the whole target latent.
        pull = meter.concept_ratios if builder.shares_layout else meter.ratios
        ratios85 = pull(rgb, ATTACKS["jpeg85"])
        # Self-check: after the trip through a platform (JPEG 85 at the trainer's view) the
        # protection must stay under the intensity's threshold; if not, keep working. The
        # extra steps continue at the schedule's low end; if the file they make is not
        # stronger after JPEG 85, the pattern from before them is written instead (the same
        # pattern and fit make the same file, so its measurement is kept, not made again).
        checked = "not needed"
        if check_steps and statistics.fmean(ratios85) > intensity.min_protection:
            u_before, ratios85_before = shader.u.detach().clone(), ratios85
            del data, rgb                  # the file is made again: its full-size copies go before the optimizer's graphs come
            release_free_memory()
            with large_blocks_mapped():
                shader.run(check_steps, on_step=lambda k: report(k, total, "check"),
                           lr=shader.settings.lr * shader.settings.check_lr)
            render.set_pattern(*shader.unit())
            scale, data, rgb, _ = render.fit(target, scale)
            ratios85 = pull(rgb, ATTACKS["jpeg85"])
            checked = "improved"
            if statistics.fmean(ratios85) >= statistics.fmean(ratios85_before):
                checked = "no gain"
                shader.u, ratios85 = u_before, ratios85_before
                del data, rgb
                render.set_pattern(*shader.unit())
                scale, data, rgb, _ = render.fit(target, first_fit)
            render.release()               # the refit made the mask again
            release_free_memory()
        pulls85 = ratios85
        ratios, ratios85 = meter.ratios(rgb), meter.ratios(rgb, ATTACKS["jpeg85"])
        concept, concept85 = meter.concept_ratios(rgb), meter.concept_ratios(rgb, ATTACKS["jpeg85"])
        report(total, total, "save")

        width, height = loaded.size
        seen = visibility(loaded.rgb, rgb)
        # Weak when the latent pull after JPEG 85 is under the intensity's bar, and also when
        # the poisoning experiment showed no downstream effect at this intensity: a result is
        # never called protected on a latent figure the experiment does not back.
        effect = (expected_effect(options.mode, options.intensity)
                  if options.objective == "concept" and options.visibility is None else None)
        reason = None
        if statistics.fmean(pulls85) > intensity.min_protection:
            reason = "the pull toward the target after JPEG 85 is under this intensity's bar"
        elif effect is not None and not effect["shown"]:
            reason = ("the poisoning experiment shows no effect on a trained model at this intensity"
                      if effect["measured_at"] == options.intensity else
                      f"the poisoning experiment showed no effect on a trained model at the {effect['measured_at']} "
                      "intensity and did not run this one")
        weak = reason is not None
        measurements = {
            "width": width, "height": height, "mode": options.mode, "target": label,
            "intensity": options.intensity, "quality": options.quality, "visibility_target": target,
            "encoders": list(names), "device": device, "seed": seed,
            "steps": shader.steps_done, "encoder_passes": shader.passes,
            "plateau": shader.plateaued, "self_check": checked,
            "resumed_from_step": resume.from_step,
            "seconds": round(time.perf_counter() - started, 3),
            **seen,
            "psnr": round(psnr(loaded.rgb, rgb), 3), "ssim": round(ssim(loaded.rgb, rgb), 5),
            "linf_255": linf_255(loaded.rgb, rgb), "rms_255": round(rms_255(loaded.rgb, rgb), 3),
            "bytes": len(data),
            "latent_ratio": round(statistics.fmean(ratios), 5),
            "latent_ratio_jpeg85": round(statistics.fmean(ratios85), 5),
            "latent_ratios": {n: round(r, 5) for n, r in zip(names, ratios)},
            "latent_ratios_jpeg85": {n: round(r, 5) for n, r in zip(names, ratios85)},
            "objective": options.objective if options.mode != "cloak" else "style",
            "concept_ratio": round(statistics.fmean(concept), 5),
            "concept_ratio_jpeg85": round(statistics.fmean(concept85), 5),
            "channels": list(options.channels),
            "expected_effect": effect,
            "weak": weak,
            "weak_reason": reason,
        }
        if "labels" in options.channels:
            from .labels.measure import label_report

            judges = self._labels(options.label_models) + self._held_out_labels(options.label_models)
            measurements["labels"] = label_report(loaded.rgb, decode_rgb(data), judges,
                                                  held_out=[m.name for m in judges[len(options.label_models):]])
        return ProtectResult(compose(loaded, rgb), loaded.format, measurements, render.info, data)

    def preview(self, original: np.ndarray, shaded: Any, measurements: dict[str, Any],
                view_size: int = 512, target: Optional[np.ndarray] = None,
                progress: Optional[ProgressCallback] = None) -> Preview:
        """What the artist sees and what the model sees: ``shaded`` is the written file (its bytes)
        or its pixels, ``original`` the original's pixels (H x W x 3 uint8); ``target`` the anchor
        or style image (H x W x 3 uint8), when the preview is to show it. ``progress(step, total,
        stage)``: "load" while the decoder loads (the first preview), then each reconstruction."""
        pixels = decode_rgb(shaded) if isinstance(shaded, (bytes, bytearray)) else shaded
        name = pick_decoder_encoder(list(measurements.get("encoders") or self.names))
        _, (encoder,) = self.encoders_for((name,))
        if progress is not None and name not in self._decoders:
            progress(0, 0, "load")
        return make_preview(original, pixels, measurements, encoder, self.decoder(name), name, view_size, self.device,
                            target=target, progress=progress)

    def audit(self, original: np.ndarray, posted: bytes, options: ProtectOptions,
              measurements: Optional[dict[str, Any]] = None, view_sizes: Sequence[int] = (512, 1024)) -> dict[str, Any]:
        """How much protection a posted copy (its file's bytes) still carries against ``original``
        (H x W x 3 uint8), toward the target ``options`` name, at each trainer view, in numbers
        and words (the first view is the one the verdict is about)."""
        measurements = measurements or {}
        names, encoders = self.encoders_for(measurements.get("encoders") or options.encoders)
        builder, _ = target_builder(options, self.model_dirs, self.device)
        pixels = decode_rgb(posted)
        views = {short: dict(zip(names, posted_ratios(original, pixels, encoders, builder, short, self.device)))
                 for short in view_sizes}
        ratios = views[view_sizes[0]]
        intensity = INTENSITIES.get(measurements.get("intensity") or options.intensity, INTENSITIES["default"])
        ratio = mean(list(ratios.values()))
        (oh, ow), (ph, pw) = original.shape[:2], pixels.shape[:2]
        return {
            "latent_ratio": ratio, "latent_ratios": {n: round(r, 5) for n, r in ratios.items()},
            "views": {str(short): mean(list(v.values())) for short, v in views.items()}, "view_size": view_sizes[0],
            "threshold": intensity.min_protection, "shaded_latent_ratio": measurements.get("latent_ratio"),
            "platform": {**detect(posted), "scale": round(pw / ow, 4), "cropped": abs(ow / oh - pw / ph) > 0.02},
            "original_size": {"width": ow, "height": oh}, "encoders": list(names),
            **audit_verdict(ratio, intensity.min_protection, measurements.get("latent_ratio")),
        }


def protect(image: ImageSource, options: Optional[ProtectOptions] = None,
            progress: Optional[ProgressCallback] = None, checkpoint: Optional[Checkpoint] = None) -> ProtectResult:
    """Shade one image: loads ``options.encoders`` onto ``options.device`` for this call (a caller
    shading many images keeps a ``Protector`` instead). See ``Protector.protect``."""
    options = options or ProtectOptions()
    options.validate()
    protector = Protector.from_pretrained(options.encoders, options.device, options.model_dirs)
    return protector.protect(image, options, progress, checkpoint)
