"""``shade bench``: Shade's protection, cost and speed beside the published reference attack.

For each image: Shade's result (the options given, and optionally other intensities)
and the reference (Nightshade's released optimizer: sign steps decaying from eps to
eps/100 at the trainer's 512 view, delta upsampled to full size; at one or several
eps), each written as a file in the image's format and measured on that file alike:
the latent ratio at the 512 view for each encoder, again after JPEG 95/85/75, a x0.5
downscale and Gaussian noise, and at the 1024 view that FLUX- and SDXL-era trainers
use (plain and after JPEG 85); the visibility (SSIMULACRA2, smooth/textured energy,
the low-frequency change on smooth regions), PSNR, SSIM, max |delta|; the file's size
against the original's; seconds and steps. Where the reference ran at several eps,
its ratios are also interpolated to Shade's own SSIMULACRA2: the comparison at equal
visibility. ``frontier_plot`` and ``crop_sheet`` draw the pictures.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch

from ..io.imageio import compose, decode_rgb, encode, load_image
from ..measure.metrics import ATTACKS, RatioMeter, linf_255, psnr, ssim, visibility
from ..models.encoders import default_model_dirs, expand_encoders, load_encoder, resolve_device
from ..optimize.attack import reference_attack
from ..optimize.precision import autocast, optimizer_dtype
from ..optimize.targets import TargetBuilder, resolve_anchor
from ..options import ProtectOptions
from ..pixels.views import resize, to_tensor, to_uint8, to_view
from ..protector import protect

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
    energy: dict[str, float] = field(default_factory=dict)   # visibility(): ssimulacra2, smooth/textured
    weak: Optional[bool] = None
    setting: str = ""                    # the intensity, or the reference's eps in /255
    size_ratio: float = float("nan")     # the written file's bytes / the original's


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
            encoder_names: Sequence[str], seconds: float, steps: int, weak: Optional[bool] = None,
            setting: str = "", size_ratio: float = float("nan")) -> Row:
    """One row, from ``shaded``: the pixels of the written file, decoded."""
    per_attack = meter.ratios(shaded)
    per_encoder = {enc: {a: round(r[i], 4) for a, r in per_attack.items()} for i, enc in enumerate(encoder_names)}
    return Row(name, method, round(seconds, 2), steps, round(psnr(original, shaded), 3),
               round(ssim(original, shaded), 4), linf_255(original, shaded),
               {a: round(statistics.fmean(r), 4) for a, r in per_attack.items()}, per_encoder,
               visibility(original, shaded), weak, setting, round(size_ratio, 3))


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


def _setup(options: ProtectOptions):
    """What every bench run needs once: the device, the model folders, the encoder names,
    and the anchor and style pixels (loaded once, not per image)."""
    device = resolve_device(options.device)
    dirs = tuple(options.model_dirs) or default_model_dirs()
    names = expand_encoders(options.encoders, dirs)
    anchor = None
    if options.mode != "cloak":
        anchor, _ = resolve_anchor(options.anchor, options.target, options.anchor_dirs, dirs, device)
    style = load_image(options.style_image).rgb if options.mode != "poison" else None
    return device, dirs, names, anchor, style


def reference_step_ms(encoder, x_view: torch.Tensor, target: torch.Tensor, dtype: Optional[torch.dtype],
                      steps: int = 6) -> float:
    """Median milliseconds of one step of the reference attack at ``x_view`` (the first step
    is a warm-up and not counted)."""
    times: list[float] = []
    mark = [time.perf_counter()]

    def tick(step: int) -> None:
        now = time.perf_counter()
        if step > 1:
            times.append((now - mark[0]) * 1000)
        mark[0] = now
    reference_attack(x_view, encoder, target, 4 / 255, steps + 1, on_step=tick, dtype=dtype)
    return statistics.median(times)


def _speed_row(name: str, result, loaded, meter: RatioMeter) -> dict[str, Any]:
    """What one protect() run cost and reached, the 1024 view after JPEG 85 included."""
    m = result.measurements
    return {"image": name, "megapixels": round(loaded.rgb.shape[0] * loaded.rgb.shape[1] / 1e6, 3),
            "seconds": m["seconds"], "steps": m["steps"], "encoder_passes": m["encoder_passes"],
            "ssimulacra2": m["ssimulacra2"], "latent_ratio": m["latent_ratio"],
            "latent_ratio_jpeg85": m["latent_ratio_jpeg85"],
            "jpeg85_1024": round(statistics.fmean(meter.ratios(decode_rgb(result.data), ATTACKS["jpeg85"])), 5),
            "weak": m["weak"]}


SPEED_KEYS = ("seconds", "encoder_passes", "ssimulacra2", "latent_ratio", "latent_ratio_jpeg85", "jpeg85_1024")


def _medians(rows: Sequence[dict], keys: Sequence[str]) -> dict[str, float]:
    return {k: round(statistics.median(r[k] for r in rows), 3) for k in keys} if rows else {}


def run_speed(images: Sequence[tuple[str, Any]], options: ProtectOptions, reference_steps: int = 500,
              log: Log = print, sweep_steps: Sequence[int] = ()) -> dict[str, Any]:
    """``shade bench --speed``: per image, Shade's seconds, steps and encoder passes with the
    visibility and strength it reached (so a speed-up is never bought unseen); the encoder's
    milliseconds per pass in float32 and bfloat16; the CPU kind; and the reference's time
    per step measured in this process, scaled to its ``reference_steps``. ``sweep_steps``:
    the same image shaded again at each of these step counts (the ratio against passes)."""
    from ..optimize.precision import cpu_kind, cpu_name

    device, dirs, names, anchor, style = _setup(options)
    encoders = [load_encoder(n, device, dirs) for n in names]
    builder = TargetBuilder(options.mode, anchor, style)
    dtype = optimizer_dtype(device, options.precision)
    shading = replace(options, anchor=anchor, style_image=style)
    rows, sweep = [], []
    for name, source in images:
        loaded = load_image(source, options.max_pixels)
        large = RatioMeter(encoders, builder, loaded.rgb, 2 * options.view_size, device)
        row = _speed_row(name, protect(source, shading), loaded, large)
        x_view = to_view(to_tensor(loaded.rgb), options.view_size).to(device)
        ref_ms = reference_step_ms(encoders[0], x_view, builder.latent(encoders[0], x_view), dtype)
        reference_seconds = ref_ms * reference_steps / 1000
        rows.append({**row, "reference_step_ms": round(ref_ms, 1), "reference_seconds": round(reference_seconds, 1),
                     "speedup": round(reference_seconds / max(row["seconds"], 1e-9), 1)})
        log(f"  {name}: {row['seconds']:.1f} s, {row['encoder_passes']} passes; the reference "
            f"{ref_ms:.0f} ms a step")
        for steps in sweep_steps:
            sweep.append({**_speed_row(name, protect(source, replace(shading, steps=steps)), loaded, large),
                          "asked_steps": steps})
            log(f"  {name} at {steps} steps: {sweep[-1]['seconds']:.1f} s, {sweep[-1]['encoder_passes']} passes")
    per_pass = {f"encoder_pass_ms_{s}_{p}": round(encoder_step_ms(encoders[0], device, s, d), 1)
                for s in (512,) for p, d in (("float32", None), ("bfloat16", torch.bfloat16))}
    return {"device": device, "torch_threads": torch.get_num_threads(), "cpu": cpu_name(),
            "cpu_kind": cpu_kind(), "precision": str(dtype).replace("torch.", "") if dtype else "float32",
            "encoders": list(names), "intensity": options.intensity, "quality": options.quality,
            "reference_steps": reference_steps, "rows": rows,
            "medians": _medians(rows, (*SPEED_KEYS, "reference_seconds", "speedup")),
            "sweep": sweep,
            "sweep_medians": {str(n): _medians([r for r in sweep if r["asked_steps"] == n], SPEED_KEYS)
                              for n in sweep_steps},
            **per_pass}


def format_speed(report: dict[str, Any]) -> str:
    """The speed report as plain text: one line per image, the medians, the encoder's cost,
    and with a step sweep, its medians beside the default's (the ratio against passes)."""
    lines = [f"device: {report['device']} ({report['torch_threads']} threads), CPU {report['cpu'] or '?'} "
             f"({report['cpu_kind']}); optimizer passes in {report['precision']}; encoders: "
             f"{', '.join(report['encoders'])}; intensity {report['intensity']}, quality {report['quality']}",
             f"{'image':<28} {'MP':>5} {'sec':>7} {'steps':>5} {'passes':>6} {'SSIMU2':>6} {'ratio':>6} "
             f"{'jpeg85':>6} {'85@1024':>7} {'ref ms/step':>11} {'ref sec':>8} {'faster':>7}"]
    for r in report["rows"]:
        lines.append(f"{r['image'][:28]:<28} {r['megapixels']:>5.2f} {r['seconds']:>7.1f} {r['steps']:>5} "
                     f"{r['encoder_passes']:>6} {r['ssimulacra2']:>6.1f} {r['latent_ratio']:>6.3f} "
                     f"{r['latent_ratio_jpeg85']:>6.3f} {r['jpeg85_1024']:>7.3f} {r['reference_step_ms']:>11.0f} "
                     f"{r['reference_seconds']:>8.1f} {r['speedup']:>6.1f}x" + (" weak" if r["weak"] else ""))
    m = report["medians"]
    if m:
        lines.append(f"{'MEDIAN':<28} {'':>5} {m['seconds']:>7.1f} {'':>5} {m['encoder_passes']:>6.0f} "
                     f"{m['ssimulacra2']:>6.1f} {m['latent_ratio']:>6.3f} {m['latent_ratio_jpeg85']:>6.3f} "
                     f"{m['jpeg85_1024']:>7.3f} {'':>11} {m['reference_seconds']:>8.1f} {m['speedup']:>6.1f}x")
    lines.append(f"encoder pass (forward+backward) at 512^2: {report['encoder_pass_ms_512_float32']:.0f} ms in "
                 f"float32, {report['encoder_pass_ms_512_bfloat16']:.0f} ms in bfloat16; the reference's time "
                 f"is {report['reference_steps']} of its steps, each timed in this process")
    if report.get("sweep_medians"):
        lines.append("ratio against passes (medians over the images; the quality's own step count first):")
        lines.append(f"{'steps':>8} {'passes':>6} {'sec':>7} {'SSIMU2':>6} {'ratio':>6} {'jpeg85':>6} {'85@1024':>7}")
        for label, med in [("default", m), *report["sweep_medians"].items()]:
            if med:
                lines.append(f"{label:>8} {med['encoder_passes']:>6.0f} {med['seconds']:>7.1f} "
                             f"{med['ssimulacra2']:>6.1f} {med['latent_ratio']:>6.3f} "
                             f"{med['latent_ratio_jpeg85']:>6.3f} {med['jpeg85_1024']:>7.3f}")
    return "\n".join(lines)


def _reference_row(name: str, loaded, builder: TargetBuilder, encoders, names, meter: BenchMeter,
                   options: ProtectOptions, device: str, eps: float, steps: int, original_bytes: int) -> tuple[Row, np.ndarray]:
    started = time.perf_counter()
    x_full = to_tensor(loaded.rgb)
    x_view = to_view(x_full, options.view_size).to(device)
    target = builder.latent(encoders[0], x_view)
    delta = reference_attack(x_view, encoders[0], target, eps, steps,
                             dtype=optimizer_dtype(device, options.precision))
    data = encode(compose(loaded, to_uint8(x_full + resize(delta.cpu(), tuple(x_full.shape[-2:])))),
                  loaded.format, loaded.info)
    written = decode_rgb(data)
    seconds = time.perf_counter() - started
    row = measure(name, "reference", loaded.rgb, written, meter, names, seconds, steps,
                  setting=f"{eps * 255:g}", size_ratio=len(data) / max(original_bytes, 1))
    return row, written


def equal_visibility(shade: Row, references: Sequence[Row]) -> Optional[dict[str, float]]:
    """The reference's ratios at Shade's SSIMULACRA2, interpolated (linearly in the score)
    between its two runs that bracket it, or extrapolated from the nearest two; None with
    fewer than two runs."""
    refs = sorted(references, key=lambda r: r.energy["ssimulacra2"])
    if len(refs) < 2:
        return None
    s = shade.energy["ssimulacra2"]
    lo, hi = refs[0], refs[1]
    for a, b in zip(refs, refs[1:]):
        lo, hi = a, b
        if a.energy["ssimulacra2"] <= s <= b.energy["ssimulacra2"]:
            break
    sa, sb = lo.energy["ssimulacra2"], hi.energy["ssimulacra2"]
    t = 0.5 if sb == sa else (s - sa) / (sb - sa)
    return {c: round(lo.ratios[c] + t * (hi.ratios[c] - lo.ratios[c]), 4) for c in COLUMNS}


def run_bench(images: Sequence[tuple[str, Any]], options: ProtectOptions, reference_steps: int = 500,
              reference_eps: Sequence[float] | float = 0.04, log: Log = print,
              intensities: Sequence[str] = (), keep: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Bench ``images`` ((name, path/array/bytes) pairs); returns a JSON-ready report.

    ``intensities``: more intensities to run Shade at besides ``options.intensity`` (for the
    frontier); ``reference_eps``: one eps or several ([0, 1] units); ``keep``: a dict that
    receives, per image name, the original and the written pixels (for the crop sheet)."""
    device, dirs, names, anchor, style = _setup(options)
    encoders = [load_encoder(n, device, dirs) for n in names]
    eps_list = [reference_eps] if isinstance(reference_eps, (int, float)) else list(reference_eps)
    runs = [options.intensity] + [i for i in intensities if i != options.intensity]
    rows: list[Row] = []
    for name, source in images:
        loaded = load_image(source, options.max_pixels)
        original = loaded.rgb
        original_bytes = _byte_size(source)
        builder = TargetBuilder(options.mode, anchor, style)
        meter = BenchMeter(encoders, builder, original, options.view_size, device)

        for intensity in runs:
            result = protect(source, replace(options, anchor=anchor, style_image=style, intensity=intensity))
            data = result.to_bytes()
            written = decode_rgb(data)
            m = result.measurements
            rows.append(measure(name, "shade", original, written, meter, names, m["seconds"], m["steps"],
                                m["weak"], setting=intensity, size_ratio=len(data) / max(original_bytes, 1)))
            if keep is not None and intensity == options.intensity:
                keep[name] = (original, written)
            log(f"  {name}: shade ({intensity}) done in {m['seconds']:.1f}s, "
                f"SSIMULACRA2 {rows[-1].energy['ssimulacra2']:.1f}")

        if reference_steps > 0:
            for eps in eps_list:
                row, _ = _reference_row(name, loaded, builder, encoders, names, meter, options, device,
                                        eps, reference_steps, original_bytes)
                rows.append(row)
                log(f"  {name}: reference (eps {eps * 255:g}/255) done in {row.seconds:.1f}s, "
                    f"SSIMULACRA2 {row.energy['ssimulacra2']:.1f}")

    dtype = optimizer_dtype(device, options.precision)
    precision = str(dtype).replace("torch.", "") if dtype else "float32"
    speed = {f"encoder_step_ms_{s}": round(encoder_step_ms(encoders[0], device, s), 1) for s in (512, 1024)}
    if dtype is not None:
        speed.update({f"encoder_step_ms_{s}_{precision}": round(encoder_step_ms(encoders[0], device, s, dtype), 1)
                      for s in (512, 1024)})
    matched = {}
    for row in rows:
        if row.method == "shade" and row.setting == options.intensity:
            refs = [r for r in rows if r.method == "reference" and r.image == row.image]
            eq = equal_visibility(row, refs)
            if eq is not None:
                matched[row.image] = eq
    report = {"device": device, "torch_threads": torch.get_num_threads(), "encoders": list(names),
              "precision": precision, "cpu_bf16_native": _cpu_bf16(),
              "mode": options.mode, "intensity": options.intensity, "quality": options.quality,
              "reference": {"eps_255": [round(e * 255, 3) for e in eps_list], "steps": reference_steps},
              "rows": [r.__dict__ for r in rows], "medians": medians(rows, options.intensity),
              "reference_at_equal_visibility": matched,
              "reference_at_equal_visibility_median": (
                  {c: round(statistics.median(m[c] for m in matched.values()), 4) for c in COLUMNS}
                  if matched else {}),
              **speed}
    return report


def _byte_size(source: Any) -> int:
    if isinstance(source, (bytes, bytearray)):
        return len(source)
    try:
        from pathlib import Path

        return Path(source).stat().st_size
    except (TypeError, OSError):
        return 0


def _cpu_bf16() -> bool:
    from ..optimize.precision import _cpu_has_native_bf16

    return _cpu_has_native_bf16()


VISIBILITY = ("ssimulacra2", "smooth_textured_ratio", "lowpass_smooth_255")


def medians(rows: Sequence[Row], intensity: str = "default") -> dict[str, dict[str, float]]:
    """Per method (Shade at ``intensity``; the reference at each eps): the median of every column."""
    groups: dict[str, list[Row]] = {}
    for r in rows:
        if r.method == "shade" and r.setting not in ("", intensity):
            key = f"shade@{r.setting}"
        elif r.method == "reference" and len({x.setting for x in rows if x.method == "reference"}) > 1:
            key = f"reference@{r.setting}"
        else:
            key = r.method
        groups.setdefault(key, []).append(r)
    out: dict[str, dict[str, float]] = {}
    for key, sel in groups.items():
        med = {k: statistics.median(getattr(r, k) for r in sel) for k in ("seconds", "steps", "psnr", "ssim", "linf_255")}
        for attack in COLUMNS:
            med[attack] = statistics.median(r.ratios[attack] for r in sel)
        for k in VISIBILITY:
            vals = [r.energy[k] for r in sel if not np.isnan(r.energy.get(k, float("nan")))]
            med[k] = statistics.median(vals) if vals else float("nan")
        sizes = [r.size_ratio for r in sel if not np.isnan(r.size_ratio)]
        med["size_ratio"] = statistics.median(sizes) if sizes else float("nan")
        out[key] = {k: round(float(v), 4) for k, v in med.items()}
    return out


def bench_table(report: dict[str, Any]) -> str:
    """A plain-text table: one line per image and run, the medians, Shade against the
    reference at equal visibility, and the encoder's speed."""
    attacks = COLUMNS
    head = f"{'image':<24} {'run':<14} " + " ".join(f"{a:>11}" for a in attacks) + \
        f" {'SSIMU2':>6} {'sm/tx':>6} {'low':>5} {'PSNR':>6} {'SSIM':>6} {'max|d|':>6} {'size':>5} {'sec':>7} {'steps':>5}"
    bf16 = report.get("cpu_bf16_native")
    cpu = "" if bf16 is None else f"  CPU bf16-native: {'yes' if bf16 else 'no'}"
    lines = [f"device: {report['device']} ({report['torch_threads']} threads){cpu}  encoders: "
             f"{', '.join(report['encoders'])}  mode: {report['mode']}  intensity: {report['intensity']}  "
             f"quality: {report['quality']}  both optimizers' encoder passes: {report.get('precision', 'float32')} "
             f"(measurements float32); reference: {report['reference']['steps']} steps",
             "latent ratio r = |E(s)-E(a)| / |E(o)-E(a)| (lower is stronger), measured on the written files; "
             "SSIMU2 = SSIMULACRA2 (100 identical, ~90 visually lossless), sm/tx = smooth/textured energy, "
             "low = RMS /255 of the change blurred at 2 px on smooth regions, size = written/original bytes", head]

    def line(label: str, run: str, ratios: dict[str, Any], vis: dict[str, Any], r: dict[str, Any],
             extra: str = "") -> str:
        return (f"{label[:24]:<24} {run[:14]:<14} " + " ".join(f"{ratios[a]:>11.3f}" for a in attacks)
                + f" {vis['ssimulacra2']:>6.1f} {vis['smooth_textured_ratio']:>6.3f} {vis['lowpass_smooth_255']:>5.2f}"
                + f" {r['psnr']:>6.2f} {r['ssim']:>6.3f} {r['linf_255']:>6.0f} {r.get('size_ratio', float('nan')):>5.2f}"
                + f" {r['seconds']:>7.1f} {r['steps']:>5.0f}{extra}")
    for r in report["rows"]:
        run = r["method"] + (f"@{r['setting']}" if r.get("setting") else "")
        lines.append(line(r["image"], run, r["ratios"], r["energy"], r, " weak" if r.get("weak") else ""))
    for method, m in report["medians"].items():
        lines.append(line("MEDIAN", method, m, m, m))
    eq = report.get("reference_at_equal_visibility_median") or {}
    s = report["medians"].get("shade")
    if eq and s:
        lines.append(f"{'reference at equal SSIMULACRA2':<39} " + " ".join(f"{eq[a]:>11.3f}" for a in attacks)
                     + "   (median over images, interpolated between the reference's eps)")
        lines.append(f"{'shade / reference':<39} " + " ".join(f"{s[a] / eq[a]:>11.3f}" for a in attacks))
    refs = [m for k, m in report["medians"].items() if k.startswith("reference")]
    if s and refs:
        lines.append(f"speed: the reference's median {statistics.median(m['seconds'] for m in refs):.1f} s against "
                     f"Shade's {s['seconds']:.1f} s per image")
    precision = report.get("precision", "float32")
    step = f"encoder step (forward+backward): {report['encoder_step_ms_512']:.0f} ms at 512^2, " \
           f"{report['encoder_step_ms_1024']:.0f} ms at 1024^2 in float32"
    if f"encoder_step_ms_512_{precision}" in report:
        step += f"; {report[f'encoder_step_ms_512_{precision}']:.0f} ms and " \
                f"{report[f'encoder_step_ms_1024_{precision}']:.0f} ms in {precision} (Shade's optimizer)"
    lines.append(step)
    return "\n".join(lines)


def frontier_plot(report: dict[str, Any], path: str, column: str = "jpeg85") -> None:
    """Latent ratio after ``column`` against SSIMULACRA2, one point per image and run, with
    the medians joined: Shade across its intensities, the reference across its eps."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("the frontier plot needs matplotlib: pip install 'shade-art[dev]' "
                           "(or pip install matplotlib)") from None
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for method, colour, marker in (("shade", "tab:blue", "o"), ("reference", "tab:red", "s")):
        rows = [r for r in report["rows"] if r["method"] == method]
        ax.scatter([r["energy"]["ssimulacra2"] for r in rows], [r["ratios"][column] for r in rows],
                   s=14, alpha=0.35, color=colour, marker=marker)
        settings = sorted({r["setting"] for r in rows})
        med = []
        for setting in settings:
            sel = [r for r in rows if r["setting"] == setting]
            med.append((statistics.median(r["energy"]["ssimulacra2"] for r in sel),
                        statistics.median(r["ratios"][column] for r in sel), setting))
        med.sort()
        label = "Shade (intensities)" if method == "shade" else "reference (eps /255)"
        ax.plot([m[0] for m in med], [m[1] for m in med], "-", marker=marker, color=colour, label=label)
        for x, y, setting in med:
            ax.annotate(setting, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8, color=colour)
    ax.set_xlabel("SSIMULACRA2 of the written file (higher: less visible)")
    ax.set_ylabel(f"latent ratio after {column} (lower: stronger)")
    ax.set_title("Strength against visibility (dots: images; lines: medians)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _regions(original: np.ndarray, size: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Top-left corners of the smoothest and the busiest ``size`` x ``size`` windows, by the
    local contrast of the lightly blurred luminance (JPEG noise does not count)."""
    from ..pixels.mask import local_contrast

    c = local_contrast(to_tensor(original))
    pooled = torch.nn.functional.avg_pool2d(c, size, stride=max(8, size // 4))[0, 0]
    stride = max(8, size // 4)
    lo, hi = int(pooled.argmin()), int(pooled.argmax())
    w = pooled.shape[1]
    return (lo // w * stride, lo % w * stride), (hi // w * stride, hi % w * stride)


def crop_sheet(pairs: dict[str, tuple[np.ndarray, np.ndarray]], path: str, size: int = 160) -> None:
    """A 1:1 sheet: for each image, its smoothest and its busiest region as original |
    shaded | difference x 8 (around mid-grey)."""
    from PIL import Image, ImageDraw

    tiles = []
    for name, (original, shaded) in pairs.items():
        side = min(size, *original.shape[:2])
        for kind, (top, left) in zip(("smoothest", "busiest"), _regions(original, side)):
            o = original[top:top + side, left:left + side]
            s = shaded[top:top + side, left:left + side]
            d = np.clip(128 + 8 * (s.astype(np.int32) - o), 0, 255).astype(np.uint8)
            tiles.append((f"{name} - {kind}", np.concatenate([o, s, d], 1)))
    label_h, gap = 14, 6
    width = max(t.shape[1] for _, t in tiles)
    height = sum(t.shape[0] + label_h + gap for _, t in tiles)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    y = 0
    for label, tile in tiles:
        draw.text((2, y + 1), f"{label}: original | shaded | difference x8", fill="black")
        sheet.paste(Image.fromarray(tile), (0, y + label_h))
        y += tile.shape[0] + label_h + gap
    sheet.save(path)
