"""The poisoning experiment's outputs: a plain-text table, the dose-response plot and the
grid of decoded samples, drawn with PIL (no plotting library needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .runner import PoisonResult

_COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (140, 86, 75)]


def format_table(report: dict[str, Any]) -> str:
    """One line per condition: the share of A's samples each judge calls B (mean ± std over
    seeds: the latent probe, the pixel judge), the share the probe still calls A, the
    generator's training steps, and whether both judges show it above the clean control."""
    a, b = report["poisoned"], report["target"]
    judge = report["probe"].get("pixel_judge", {})
    lines = [
        f"poison experiment: {a} shaded toward {b}; {len(report['seeds'])} seed(s); "
        f"{report['samples_per_condition']} samples per condition and seed",
        f"judges on clean held-apart crops: latent probe {report['probe']['test_accuracy']:.3f}, "
        f"pixel judge {judge.get('test_accuracy', float('nan')):.3f} (chance {report['probe']['chance']:.3f})",
        f"{'condition':<38} {'B (probe)':>15} {'B (pixels)':>15} {'A (probe)':>15} {'steps':>6}  verdict",
    ]
    for s in report["conditions"]:
        t, px, o = s["target_share"], s.get("target_share_pixels"), s["own_share"]
        pixels = f"{px['mean']:>7.3f} ± {px['std']:<5.3f}" if px else f"{'-':>15}"
        verdict = (s.get("agreement") or {}).get("verdict", "control")
        steps = s.get("flow_steps", {}).get("mean", float("nan"))
        lines.append(f"{s['condition']:<38} {t['mean']:>7.3f} ± {t['std']:<5.3f} {pixels} "
                     f"{o['mean']:>7.3f} ± {o['std']:<5.3f} {steps:>6.0f}  {verdict}")
    captioned = [s for s in report["conditions"] if s.get("recaptioned")]
    if captioned:
        lines.append(f"recaptioned by {report['recaption']['captioner']} (after JPEG 85): share of A's training "
                     f"images captioned other than {captioned[0]['recaptioned']['clean_label']!r}:")
        for s in captioned:
            r = s["recaptioned"]
            share = r["clean_share"] if s["kind"] == "clean" else r["shaded_share"]
            lines.append(f"  {s['condition']:<38} {share:.2f}")
    lines.append("shaded images (A's training images):")
    for name, entry in report["shading"].items():
        extra = " ".join(f"{k}={v}" for k, v in entry.items() if k.startswith("latent_ratio+"))
        seen = entry.get("ssimulacra2_median")
        lines.append(f"  {name:<22} SSIMULACRA2 {seen if seen is not None else '-'}, PSNR {entry['psnr_mean']:.2f} dB, "
                     f"max|d| {entry['linf_255_max']}/255, latent ratio to the anchor {entry['latent_ratio']:.3f} "
                     f"{extra}, {entry['seconds_per_image']:.1f}s per image")
    t = report.get("targets") or {}
    if t:
        lines.append(f"target: {t['condition']} {t['target_share']:.3f} (probe) / {t['target_share_pixels']:.3f} "
                     f"(pixels) vs label swap {t['label_swap']:.3f} (0.25 met: {t['quarter_met']}); "
                     f"{t['verdict']}")
    total = report["timing"]["total"]
    lines.append(f"time: {total['wall_s']:.0f}s wall, {total['cpu_s']:.0f}s CPU; {report['cpu']}, "
                 f"{report['torch_threads']} threads, native bf16: {report['native_bf16']}, "
                 f"generator in {report['generator']['precision']}")
    return "\n".join(lines)


def _font(size: int = 12) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:      # Pillow < 10.1
        return ImageFont.load_default()


def dose_response_plot(report: dict[str, Any], width: int = 720, height: int = 440) -> Image.Image:
    """Share of A's samples called B against the dose, one line per method (mean, and the
    seeds' min-max as a bar); the clean control and the label swap as dashed lines; the
    purified p = 100 % conditions as hollow markers at 100 %."""
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    font, small = _font(13), _font(11)
    left, right, top, bottom = 60, 200, 36, 50
    pw, ph = width - left - right, height - top - bottom

    def xy(dose: float, share: float) -> tuple[float, float]:
        return left + pw * dose / 100, top + ph * (1 - share)

    draw.rectangle([left, top, left + pw, top + ph], outline="black")
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        y = xy(0, v)[1]
        draw.line([left - 4, y, left, y], fill="black")
        draw.line([left, y, left + pw, y], fill=(230, 230, 230))
        draw.text((left - 34, y - 7), f"{v:.2f}", fill="black", font=small)
    for d in report["doses"]:
        x = xy(d, 0)[0]
        draw.line([x, top + ph, x, top + ph + 4], fill="black")
        draw.text((x - 10, top + ph + 6), f"{d}%", fill="black", font=small)
    draw.text((left + pw / 2 - 110, height - 22), f"share of {report['poisoned']}'s images poisoned",
              fill="black", font=font)
    draw.text((left, 10), f"generated '{report['poisoned']}' samples the probe calls '{report['target']}'",
              fill="black", font=font)

    by = {s["condition"]: s for s in report["conditions"]}
    legend: list[tuple[str, tuple[int, int, int], str]] = []
    for key, colour in (("clean", (120, 120, 120)), ("label-swap", (0, 0, 0))):
        share = by[key]["target_share"]["mean"]
        y = xy(0, share)[1]
        for x in range(left, left + pw, 10):
            draw.line([x, y, min(x + 5, left + pw), y], fill=colour, width=1)
        legend.append((f"{key} {share:.2f}", colour, "dash"))

    series: dict[str, list[dict[str, Any]]] = {}
    for s in report["conditions"]:
        if s["kind"] in ("shade", "reference") and not s["purifier"]:
            label = f"Shade {s['intensity']}" if s["kind"] == "shade" else "reference"
            series.setdefault(label, []).append(s)
    clean = by["clean"]
    for k, (label, points) in enumerate(series.items()):
        colour = _COLOURS[k % len(_COLOURS)]
        pts = [clean] + sorted(points, key=lambda s: s["dose"])
        coords = [xy(p["dose"], p["target_share"]["mean"]) for p in pts]
        draw.line(coords, fill=colour, width=2)
        for p, (x, y) in zip(pts, coords):
            lo, hi = xy(0, p["target_share"]["min"])[1], xy(0, p["target_share"]["max"])[1]
            draw.line([x + 2 * k - 4, lo, x + 2 * k - 4, hi], fill=colour, width=1)
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        legend.append((label, colour, "line"))
        for s in report["conditions"]:
            same = (s["kind"] == "shade" and label == f"Shade {s['intensity']}") or \
                   (s["kind"] == "reference" and label == "reference")
            if s["purifier"] and same:
                x, y = xy(100, s["target_share"]["mean"])
                x += 8 + 8 * (len([l for l in legend if l[2] == "hollow"]) % 4)
                draw.ellipse([x - 4, y - 4, x + 4, y + 4], outline=colour, width=2)
                legend.append((f"{label} +{s['purifier']}", colour, "hollow"))

    lx, ly = left + pw + 12, top + 4
    for text, colour, style in legend:
        if style == "line":
            draw.line([lx, ly + 6, lx + 18, ly + 6], fill=colour, width=2)
        elif style == "dash":
            draw.line([lx, ly + 6, lx + 6, ly + 6], fill=colour)
            draw.line([lx + 11, ly + 6, lx + 18, ly + 6], fill=colour)
        else:
            draw.ellipse([lx + 5, ly + 2, lx + 13, ly + 10], outline=colour, width=2)
        draw.text((lx + 24, ly), text, fill="black", font=small)
        ly += 18
    return img


def sample_grid(result: PoisonResult, cell: int = 96) -> Image.Image:
    """One row per condition (the first seed's decoded samples for A), under two rows of
    real crops of A and B."""
    rows = list(result.references.items()) + list(result.grids.items())
    columns = max(len(v) for _, v in rows)
    label_w = 250
    img = Image.new("RGB", (label_w + columns * (cell + 2), len(rows) * (cell + 2)), "white")
    draw = ImageDraw.Draw(img)
    font = _font(13)
    for r, (name, tiles) in enumerate(rows):
        y = r * (cell + 2)
        draw.text((6, y + cell / 2 - 7), name, fill="black", font=font)
        for c, tile in enumerate(tiles):
            im = Image.fromarray(np.asarray(tile)).resize((cell, cell), Image.Resampling.LANCZOS)
            img.paste(im, (label_w + c * (cell + 2), y))
    return img


def write_outputs(result: PoisonResult, out_dir: Path) -> dict[str, Path]:
    """report.json, dose_response.png and samples.png in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"report": out_dir / "report.json", "plot": out_dir / "dose_response.png",
             "samples": out_dir / "samples.png"}
    paths["report"].write_text(json.dumps(result.report, indent=2))
    dose_response_plot(result.report).save(paths["plot"], optimize=True)
    sample_grid(result).save(paths["samples"], optimize=True)
    return paths
