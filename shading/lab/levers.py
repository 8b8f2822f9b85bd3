"""Levers measured side by side: the same images shaded under named option variants at the
same visibility target, each written file measured the same way (the latent ratio to its
own target, the concept ratio to the anchor's channel statistics, both also after JPEG 85
and at the 1024 view), with its time and encoder passes. ``shade bench --levers``.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..io.imageio import decode_rgb, load_image
from ..measure.metrics import ATTACKS, RatioMeter
from ..options import ProtectOptions
from ..protector import Protector, target_builder

# name -> the option fields it changes (over the base options)
LEVERS: dict[str, dict[str, Any]] = {
    "anchor target, plain loss (before)": {"objective": "anchor", "tuning": {"band_weights": (0.0, 0.0, 1.0)}},
    "anchor target, band loss": {"objective": "anchor", "tuning": {"band_weights": (1.0, 1.0, 0.25)}},
    "concept target, plain loss": {"objective": "concept", "tuning": {"band_weights": (0.0, 0.0, 1.0)}},
    "concept target, band loss (default)": {"objective": "concept"},
    "concept target + coarse 0.5, band loss": {"objective": "concept", "coarse_mix": 0.5},
    "concept target, band loss, low cut 6 px": {"objective": "concept", "tuning": {"low_cut": 6.0}},
}


def _yardstick(options: ProtectOptions, original: np.ndarray, protector: Protector, view: int) -> RatioMeter:
    """The common yardstick: the concept ratio toward the anchor, whatever the lever's target."""
    builder, _ = target_builder(replace(options, objective="anchor"), protector.model_dirs, protector.device)
    names, encoders = protector.encoders_for(options.encoders)
    return RatioMeter(encoders, builder, original, view, protector.device)


def run_levers(images: Sequence[tuple[str, Any]], options: ProtectOptions, levers: Optional[Sequence[str]] = None,
               log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    protector = Protector.from_pretrained(options.encoders, options.device, options.model_dirs)
    chosen = list(levers or LEVERS)
    rows = []
    for name, source in images:
        original = load_image(source).rgb
        yard = _yardstick(options, original, protector, options.view_size)
        yard_1024 = _yardstick(options, original, protector, 2 * options.view_size)
        for lever in chosen:
            opts = replace(options, **LEVERS[lever])
            started = time.perf_counter()
            result = protector.protect(source, opts)
            seconds = time.perf_counter() - started
            written = decode_rgb(result.data)
            m = result.measurements
            row = {
                "image": name, "lever": lever, "seconds": round(seconds, 1), "passes": m["encoder_passes"],
                "ssimulacra2": m["ssimulacra2"], "latent_ratio": m["latent_ratio"],
                "latent_ratio_jpeg85": m["latent_ratio_jpeg85"],
                "concept_ratio": round(statistics.fmean(yard.concept_ratios(written)), 4),
                "concept_ratio_jpeg85": round(statistics.fmean(yard.concept_ratios(written, ATTACKS["jpeg85"])), 4),
                "concept_ratio_jpeg85_1024": round(statistics.fmean(
                    yard_1024.concept_ratios(written, ATTACKS["jpeg85"])), 4),
                "anchor_ratio_jpeg85": round(statistics.fmean(yard.ratios(written, ATTACKS["jpeg85"])), 4),
            }
            rows.append(row)
            log(f"{name:28s} {lever:42s} " + " ".join(f"{k}={row[k]}" for k in list(row)[2:]))
    keys = ["seconds", "passes", "ssimulacra2", "latent_ratio_jpeg85", "concept_ratio", "concept_ratio_jpeg85",
            "concept_ratio_jpeg85_1024", "anchor_ratio_jpeg85"]
    medians = {lever: {k: round(statistics.median(r[k] for r in rows if r["lever"] == lever), 4) for k in keys}
               for lever in chosen}
    return {"rows": rows, "medians": medians, "visibility": options.visibility_target}


def format_levers(report: dict[str, Any]) -> str:
    cols = ["seconds", "passes", "ssimulacra2", "concept_ratio", "concept_ratio_jpeg85", "concept_ratio_jpeg85_1024",
            "anchor_ratio_jpeg85"]
    lines = [f"levers at visibility {report['visibility']} (medians)",
             "| lever | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for lever, med in report["medians"].items():
        lines.append(f"| {lever} | " + " | ".join(str(med[c]) for c in cols) + " |")
    return "\n".join(lines)
