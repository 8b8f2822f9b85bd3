"""``shade bench``: Shade's protection, cost and speed beside the published reference attack.

For each image: Shade's result (the options given) and the reference (Nightshade's
released optimizer: L-inf 0.04, 500 sign steps decaying from eps to eps/100, at the
trainer's 512 view, delta upsampled to full size), measured alike: the latent ratio
at the 512 view for each encoder, again after JPEG 95/85/75, a x0.5 downscale and
Gaussian noise, and at the 1024 view that FLUX- and SDXL-era trainers use (plain and
after JPEG 85); PSNR, SSIM, max |delta|, flat/textured energy; seconds and steps.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch

from .attack import reference_attack
from .encoders import default_model_dirs, expand_encoders, load_encoder, resolve_device
from .imageio import load_image
from .metrics import ATTACKS, RatioMeter, flat_textured_energy, linf_255, psnr, ssim
from .options import ProtectOptions
from .precision import autocast, optimizer_dtype
from .protect import protect
from .targets import TargetBuilder, resolve_anchor
from .views import resize, to_tensor, to_uint8, to_view

Log = Callable[[str], None]


@dataclass
class Row:
    image: str
    method: str                          # "shade" or "reference"
    seconds: float
    steps: int
    psnr: float
    ssim: float
    linf_255: float
    ratios: dict[str, float]             # attack name -> mean latent ratio over encoders
    per_encoder: dict[str, dict[str, float]]
    energy: dict[str, float] = field(default_factory=dict)
    weak: Optional[bool] = None


# The bench's ratio columns: each transformation at the trainer's view (named for the
# real 512 view), then the plain and JPEG-85 ratios at twice that view (1024).
COLUMNS = [*ATTACKS, "view1024", "jpeg85@1024"]


class BenchMeter:
    """Every column of one image's row: a RatioMeter at the trainer's view and one at twice it."""

    def __init__(self, encoders, builder: TargetBuilder, original: np.ndarray, view_size: int, device: str) -> None:
        self.view = RatioMeter(encoders, builder, original, view_size, device)
        self.large = RatioMeter(encoders, builder, original, 2 * view_size, device)

    def ratios(self, shaded: np.ndarray) -> dict[str, list[float]]:
        out = {attack: self.view.ratios(shaded, fn) for attack, fn in ATTACKS.items()}
        out["view1024"] = self.large.ratios(shaded)
        out["jpeg85@1024"] = self.large.ratios(shaded, ATTACKS["jpeg85"])
        return out


def measure(name: str, method: str, original: np.ndarray, shaded: np.ndarray, meter: BenchMeter,
            encoder_names: Sequence[str], seconds: float, steps: int, weak: Optional[bool] = None) -> Row:
    per_attack = meter.ratios(shaded)
    per_encoder = {enc: {a: round(r[i], 4) for a, r in per_attack.items()} for i, enc in enumerate(encoder_names)}
    return Row(name, method, round(seconds, 2), steps, round(psnr(original, shaded), 3),
               round(ssim(original, shaded), 4), linf_255(original, shaded),
               {a: round(statistics.fmean(r), 4) for a, r in per_attack.items()}, per_encoder,
               flat_textured_energy(original, shaded), weak)


def encoder_step_ms(encoder, device: str, size: int, dtype: Optional[torch.dtype] = None, repeats: int = 3) -> float:
    """Median milliseconds of one forward+backward pass at size x size (autocast to ``dtype``)."""
    x = torch.rand(1, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
    times = []
    for _ in range(repeats):
        x.requires_grad_(True)
        start = time.perf_counter()
        with autocast(device, dtype):
            latent = encoder(x)
        latent.float().square().mean().backward()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
        x = x.detach()
    return statistics.median(times)


def run_bench(images: Sequence[tuple[str, Any]], options: ProtectOptions, reference_steps: int = 500,
              reference_eps: float = 0.04, log: Log = print) -> dict[str, Any]:
    """Bench ``images`` ((name, path/array/bytes) pairs); returns a JSON-ready report."""
    device = resolve_device(options.device)
    dirs = tuple(options.model_dirs) or default_model_dirs()
    names = expand_encoders(options.encoders, dirs)
    encoders = [load_encoder(n, device, dirs) for n in names]
    anchor = None
    if options.mode != "cloak":
        anchor, _ = resolve_anchor(options.anchor, options.target, options.anchor_dirs, dirs, device)
    style = load_image(options.style_image).rgb if options.mode != "poison" else None
    rows: list[Row] = []
    for name, source in images:
        original = load_image(source, options.max_pixels).rgb
        builder = TargetBuilder(options.mode, anchor, style)
        meter = BenchMeter(encoders, builder, original, options.view_size, device)

        result = protect(original, replace(options, anchor=anchor, style_image=style))
        shaded = np.asarray(result.image.convert("RGB"))
        m = result.measurements
        rows.append(measure(name, "shade", original, shaded, meter, names, m["seconds"], m["steps"],
                            m["weak"]))
        log(f"  {name}: shade done in {m['seconds']:.1f}s")

        if reference_steps > 0:
            started = time.perf_counter()
            x_full = to_tensor(original)
            x_view = to_view(x_full, options.view_size).to(device)
            target = builder.latent(encoders[0], x_view)
            delta = reference_attack(x_view, encoders[0], target, reference_eps, reference_steps)
            ref = to_uint8(x_full + resize(delta.cpu(), tuple(x_full.shape[-2:])))
            seconds = time.perf_counter() - started
            rows.append(measure(name, "reference", original, ref, meter, names, seconds, reference_steps))
            log(f"  {name}: reference done in {seconds:.1f}s")

    dtype = optimizer_dtype(device, options.precision)
    precision = str(dtype).replace("torch.", "") if dtype else "float32"
    speed = {f"encoder_step_ms_{s}": round(encoder_step_ms(encoders[0], device, s), 1) for s in (512, 1024)}
    if dtype is not None:
        speed.update({f"encoder_step_ms_{s}_{precision}": round(encoder_step_ms(encoders[0], device, s, dtype), 1)
                      for s in (512, 1024)})
    report = {"device": device, "torch_threads": torch.get_num_threads(), "encoders": list(names),
              "precision": precision,
              "mode": options.mode, "intensity": options.intensity, "quality": options.quality,
              "reference": {"eps": reference_eps, "steps": reference_steps},
              "rows": [r.__dict__ for r in rows], "medians": medians(rows), **speed}
    return report


def medians(rows: Sequence[Row]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for method in sorted({r.method for r in rows}):
        sel = [r for r in rows if r.method == method]
        med = {k: statistics.median(getattr(r, k) for r in sel) for k in ("seconds", "steps", "psnr", "ssim", "linf_255")}
        for attack in COLUMNS:
            med[attack] = statistics.median(r.ratios[attack] for r in sel)
        for key in ("energy_flat", "energy_textured"):
            vals = [r.energy[key] for r in sel if not np.isnan(r.energy.get(key, float("nan")))]
            med[key] = statistics.median(vals) if vals else float("nan")
        out[method] = {k: round(float(v), 4) for k, v in med.items()}
    return out


def format_table(report: dict[str, Any]) -> str:
    """A plain-text table: one line per image and method, then the medians and their ratios."""
    attacks = COLUMNS
    head = f"{'image':<28} {'method':<9} " + " ".join(f"{a:>11}" for a in attacks) + \
        f" {'PSNR':>6} {'SSIM':>6} {'max|d|':>6} {'sec':>7} {'steps':>5}"
    lines = [f"device: {report['device']} ({report['torch_threads']} threads)  encoders: "
             f"{', '.join(report['encoders'])}  mode: {report['mode']}  intensity: {report['intensity']}  "
             f"quality: {report['quality']}  Shade's optimizer: {report.get('precision', 'float32')}, "
             f"reference: float32", "latent ratio r = |E(s)-E(a)| / |E(o)-E(a)| (lower is stronger)", head]
    for r in report["rows"]:
        weak = " weak" if r.get("weak") else ""
        lines.append(f"{r['image'][:28]:<28} {r['method']:<9} " + " ".join(f"{r['ratios'][a]:>11.3f}" for a in attacks)
                     + f" {r['psnr']:>6.2f} {r['ssim']:>6.3f} {r['linf_255']:>6.0f} {r['seconds']:>7.1f} "
                       f"{r['steps']:>5}{weak}")
    med = report["medians"]
    for method, m in med.items():
        lines.append(f"{'MEDIAN':<28} {method:<9} " + " ".join(f"{m[a]:>11.3f}" for a in attacks)
                     + f" {m['psnr']:>6.2f} {m['ssim']:>6.3f} {m['linf_255']:>6.0f} {m['seconds']:>7.1f} "
                       f"{m['steps']:>5.0f}")
    if "shade" in med and "reference" in med:
        s, ref = med["shade"], med["reference"]
        lines.append(f"{'shade / reference':<38} " + " ".join(f"{s[a] / ref[a]:>11.3f}" for a in attacks)
                     + f" {s['psnr'] - ref['psnr']:>+6.2f} {s['ssim'] - ref['ssim']:>+6.3f} {'':>6} "
                       f"{ref['seconds'] / max(s['seconds'], 1e-9):>6.1f}x faster")
        lines.append(f"flat/textured energy: shade {s['energy_flat'] / max(s['energy_textured'], 1e-12):.3f}, "
                     f"reference {ref['energy_flat'] / max(ref['energy_textured'], 1e-12):.3f}")
    precision = report.get("precision", "float32")
    step = f"encoder step (forward+backward): {report['encoder_step_ms_512']:.0f} ms at 512^2, " \
           f"{report['encoder_step_ms_1024']:.0f} ms at 1024^2 in float32"
    if f"encoder_step_ms_512_{precision}" in report:
        step += f"; {report[f'encoder_step_ms_512_{precision}']:.0f} ms and " \
                f"{report[f'encoder_step_ms_1024_{precision}']:.0f} ms in {precision} (Shade's optimizer)"
    lines.append(step)
    return "\n".join(lines)
