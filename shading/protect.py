"""``protect``: one image in, the shaded image and its measurements out."""

from __future__ import annotations

import random
import statistics
import time
from typing import Optional

import numpy as np
import torch

from .attack import AttackSettings, Shader, interleave, tiled_views, trainer_views
from .encoders import default_model_dirs, expand_encoders, load_encoder, resolve_device
from .imageio import compose, load_image
from .mask import budget_map, window_for
from .metrics import ATTACKS, RatioMeter, linf_255, psnr, ssim
from .options import ImageSource, ProgressCallback, ProtectOptions, ProtectResult
from .precision import optimizer_dtype
from .targets import TargetBuilder, resolve_anchor
from .views import resize, to_tensor, to_uint8, to_view, view_shape


def _noop(step: int, total: int, stage: str) -> None:
    pass


def render_full(x_full: torch.Tensor, unit: torch.Tensor, eps: float, budget_full: torch.Tensor) -> np.ndarray:
    """Bring the optimized pattern to the image's own size under the full-resolution budget."""
    delta = resize(unit.float().cpu(), tuple(x_full.shape[-2:])) * eps * budget_full
    return to_uint8(x_full + delta)


def protect(image: ImageSource, options: Optional[ProtectOptions] = None,
            progress: Optional[ProgressCallback] = None) -> ProtectResult:
    """Shade ``image`` (a path, encoded bytes or a PIL image) as ``options`` ask.

    ``progress(step, total, stage)`` is called as work advances; it may raise
    ``shading.Cancelled`` to stop. Raises ``ShadeError`` subclasses on bad input."""
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
    device = resolve_device(options.device)
    dirs = tuple(options.model_dirs) or default_model_dirs()
    names = expand_encoders(options.encoders, dirs)
    encoders = [load_encoder(name, device, dirs) for name in names]
    anchor_rgb, label = None, None
    if options.mode in ("poison", "both"):
        anchor_rgb, label = resolve_anchor(options.anchor, options.target, options.anchor_dirs, dirs, device)
    style_rgb = load_image(options.style_image, name="style image").rgb if options.mode != "poison" else None
    builder = TargetBuilder(options.mode, anchor_rgb, style_rgb)

    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(2 ** 31)
    generator = torch.Generator().manual_seed(seed)
    eps = (options.eps_255 if options.eps_255 is not None else intensity.eps_255) / 255
    shorts = [options.view_size * v // 512 for v in options.whole_views]
    tiled = [options.view_size * v // 512 for v in options.tiled_views]
    x_full = to_tensor(loaded.rgb)
    # The perturbation lives at the image's own resolution (capped at twice the largest
    # view), and every step goes through the same antialiased resize a trainer applies,
    # so what survives that resize is what gets optimized.
    full_hw = tuple(x_full.shape[-2:])
    cap = max([2 * max(shorts), *tiled])
    work_hw = full_hw if min(full_hw) <= cap else view_shape(*full_hw, cap)
    x_work = resize(x_full, work_hw).to(device)
    budget = budget_map(x_work, intensity.flat_floor, window_for(*work_hw, options.view_size))
    views = interleave([view for short in shorts for view in trainer_views(view_shape(*full_hw, short))],
                       [tile for short in tiled for tile in tiled_views(view_shape(*full_hw, short), options.view_size)])
    for view in {id(v): v for v in views}.values():        # interleaving repeats the shorter list
        view.targets = [builder.view_latent(enc, view, x_work) for enc in encoders]
    rms = eps * intensity.rms_255 / intensity.eps_255       # an eps override scales the energy alike
    shader = Shader(x_work, budget, encoders, views, AttackSettings(eps=eps, rms=rms), generator,
                    eot=options.eot_weight,
                    dtype=optimizer_dtype(device, options.precision))
    shader.run(steps, on_step=lambda k: report(k, total, "optimize"))

    # The full-resolution budget: the working one when the work happens at full size.
    budget_full = budget.cpu() if work_hw == full_hw else budget_map(
        x_full, intensity.flat_floor, window_for(*full_hw, options.view_size))
    rgb = render_full(x_full, shader.unit(), eps, budget_full)
    meter = RatioMeter(encoders, builder, loaded.rgb, options.view_size, device)
    ratios, ratios85 = meter.ratios(rgb), meter.ratios(rgb, ATTACKS["jpeg85"])
    # Self-check: after the trip through a platform (JPEG 85 at the trainer's view) the
    # protection must stay under the intensity's threshold; if not, keep working.
    if check_steps and statistics.fmean(ratios85) > intensity.min_protection:
        shader.run(check_steps, on_step=lambda k: report(k, total, "check"))
        rgb = render_full(x_full, shader.unit(), eps, budget_full)
        ratios, ratios85 = meter.ratios(rgb), meter.ratios(rgb, ATTACKS["jpeg85"])
    report(total, total, "save")

    width, height = loaded.size
    measurements = {
        "width": width, "height": height, "mode": options.mode, "target": label,
        "intensity": options.intensity, "quality": options.quality,
        "encoders": list(names), "device": device, "seed": seed,
        "steps": shader.steps_done, "encoder_evaluations": shader.steps_done * len(encoders),
        "seconds": round(time.perf_counter() - started, 3),
        "psnr": round(psnr(loaded.rgb, rgb), 3), "ssim": round(ssim(loaded.rgb, rgb), 5),
        "linf_255": linf_255(loaded.rgb, rgb),
        "latent_ratio": round(statistics.fmean(ratios), 5),
        "latent_ratio_jpeg85": round(statistics.fmean(ratios85), 5),
        "latent_ratios": {n: round(r, 5) for n, r in zip(names, ratios)},
        "latent_ratios_jpeg85": {n: round(r, 5) for n, r in zip(names, ratios85)},
        "weak": statistics.fmean(ratios85) > intensity.min_protection,
    }
    return ProtectResult(compose(loaded, rgb), loaded.format, measurements, dict(loaded.info))
