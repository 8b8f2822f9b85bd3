"""``shade bench --labels``: what the label channel buys and what it costs, per image.

Each image is shaded twice with the same options and seed: the latent channel alone, then
both channels (``latent``, ``labels``). From the second, written file: the white-box
ensemble's and the held-out classifier's top-1 after a JPEG-85 round trip, counted as
changed only beyond the original's own JPEG-85 copy (the noise floor), and how far the
original top-1's probability fell. From both: the latent ratio after JPEG 85 (what the
labels channel costs the latent channel) and the optimizer's seconds.

An image that already shows the poison target (chelsea, when the target is ``cat``) has
no label to lose toward it; such an image is poisoned toward ``alternate`` instead.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from typing import Any, Callable, Optional, Sequence

import numpy as np
from PIL import Image

from ..io.imageio import decode_rgb, load_image
from ..labels.imagenet import concept_classes
from ..labels.registry import load_label_model
from ..options import ProtectOptions
from ..protector import Protector

Log = Callable[[str], None]
RATIO_KEY = "concept_ratio_jpeg85"


def _downscaled(rgb: np.ndarray, short: Optional[int]) -> np.ndarray:
    h, w = rgb.shape[:2]
    if not short or min(h, w) <= short:
        return rgb
    s = short / min(h, w)
    return np.asarray(Image.fromarray(rgb).resize((round(w * s), round(h * s)), Image.Resampling.LANCZOS))


def _shows_target(rgb: np.ndarray, target: Optional[str], judge: Any) -> bool:
    if not target:
        return False
    classes = set(concept_classes(target))
    top = judge.top_labels(rgb, 1)[0][0]
    return bool(classes) and judge.labels.index(top) in classes


def _row(name: str, latent: dict, both: dict, ssim2: float, retargeted: Optional[str],
         cpu: tuple[float, float]) -> dict[str, Any]:
    labels = both["labels"]

    def figures(rows: list[dict]) -> list[dict]:
        return [{"model": r["model"], "original": r["original_top1"], "original_prob": round(r["original_prob"], 4),
                 "written": r["written"]["top1"], "floor": r["noise_floor"]["top1"],
                 "changed": r["changed_above_floor"], "drop": round(r["written"]["drop"], 4)} for r in rows]

    return {
        "image": name, "size": [both["width"], both["height"]], "ssimulacra2": round(ssim2, 2),
        "target": both.get("target"), "retargeted": retargeted,
        "white_box": figures(labels["white_box"]), "held_out": figures(labels["held_out"]),
        # The latent channel's own yardstick: the concept ratio where the target shares the
        # image's layout (the default objective, whose whole-latent ratio does not move), else the ratio.
        "ratio_kind": RATIO_KEY if RATIO_KEY in latent else "latent_ratio_jpeg85",
        "ratio85_latent": latent.get(RATIO_KEY, latent["latent_ratio_jpeg85"]),
        "ratio85_both": both.get(RATIO_KEY, both["latent_ratio_jpeg85"]),
        "seconds_latent": latent["seconds"], "seconds_both": both["seconds"],
        "cpu_latent": round(cpu[0], 2), "cpu_both": round(cpu[1], 2),
    }


def summarize(rows: Sequence[dict]) -> dict[str, Any]:
    """Shares and medians over the images (white-box: over every image and ensemble model)."""
    white = [f for r in rows for f in r["white_box"]]
    held = [f for r in rows for f in r["held_out"]]

    def share(figs: list[dict]) -> Optional[float]:
        return round(sum(f["changed"] for f in figs) / len(figs), 3) if figs else None

    def median(values: list[float]) -> Optional[float]:
        return round(statistics.median(values), 4) if values else None

    return {
        "images": len(rows),
        "white_box_changed": share(white), "white_box_drop": median([f["drop"] for f in white]),
        "held_out_changed": share(held), "held_out_drop": median([f["drop"] for f in held]),
        "ratio85_latent": median([r["ratio85_latent"] for r in rows]),
        "ratio85_both": median([r["ratio85_both"] for r in rows]),
        "ratio85_cost": median([r["ratio85_both"] - r["ratio85_latent"] for r in rows]),
        "time_ratio": median([r["cpu_both"] / max(r["cpu_latent"], 1e-9) for r in rows]),
        "wall_ratio": median([r["seconds_both"] / max(r["seconds_latent"], 1e-9) for r in rows]),
        "ssimulacra2_min": min((r["ssimulacra2"] for r in rows), default=None),
    }


def run_label_bench(images: Sequence[tuple[str, Any]], options: ProtectOptions, short_side: Optional[int] = None,
                    alternate: Optional[tuple[Any, str]] = None, log: Log = lambda line: None) -> dict[str, Any]:
    """Shade each image (a path, bytes or PIL image) with the latent channel alone and with
    both, ``options`` otherwise; ``short_side`` downscales larger images first (a lighter
    bench); ``alternate`` (anchor image, concept): the poison target of an image that already
    shows ``options.target``. Returns the per-image rows, their summary and the setup."""
    from ..measure.perceptual import score_arrays

    labels = tuple(options.label_models)
    protector = Protector.from_pretrained(options.encoders, options.device, options.model_dirs)
    judge = load_label_model(labels[0], protector.device, protector.model_dirs)
    rows = []
    for name, source in images:
        rgb = _downscaled(load_image(source).rgb, short_side)
        opts, retargeted = options, None
        if alternate is not None and _shows_target(rgb, options.target, judge):
            opts = replace(options, anchor=alternate[0], target=alternate[1])
            retargeted = alternate[1]
        picture = Image.fromarray(rgb)
        log(f"{name}: {rgb.shape[1]}x{rgb.shape[0]}, latent channel alone...")
        # CPU seconds of this process beside the wall clock: on a shared machine the wall clock
        # says more about the neighbours than about the shading.
        start = time.process_time()
        latent = protector.protect(picture, replace(opts, channels=("latent",))).measurements
        cpu_latent = time.process_time() - start
        log(f"{name}: both channels...")
        start = time.process_time()
        result = protector.protect(picture, replace(opts, channels=("latent", "labels")))
        cpu_both = time.process_time() - start
        ssim2 = score_arrays(rgb, decode_rgb(result.data))
        rows.append(_row(name, latent, result.measurements, ssim2, retargeted, (cpu_latent, cpu_both)))
        log(f"{name}: {rows[-1]}")          # each row as it is done: a long bench can be read as it goes
    setup = {"label_models": list(labels), "held_out": [f["model"] for f in rows[0]["held_out"]] if rows else [],
             "quality": options.quality, "intensity": options.intensity, "view_size": options.view_size,
             "short_side": short_side, "label_weight": options.label_weight, "steps": options.steps,
             "device": protector.device}
    return {"setup": setup, "rows": rows, "summary": summarize(rows)}


def label_bench_table(report: dict[str, Any]) -> str:
    """The per-image rows and the summary as plain text."""
    s, setup = report["summary"], report["setup"]
    lines = [f"label channel: ensemble {', '.join(setup['label_models'])}; held out "
             f"{', '.join(setup['held_out']) or '(none installed)'}; quality {setup['quality']}, intensity "
             f"{setup['intensity']}, steps {setup.get('steps') or 'as the quality'}, label weight "
             f"{setup['label_weight']}, view {setup['view_size']}, images downscaled to a short side of "
             f"{setup['short_side'] or '(not downscaled)'}; all after a JPEG-85 round trip of the written file",
             f"{'image':<26}{'ssim2':>6}  {'white-box top-1 (orig -> shaded)':<52}{'held-out':<34}"
             f"{'r85 lat':>8}{'r85 both':>9}{'cpu lat':>8}{'cpu both':>9}"]
    for r in report["rows"]:
        white = "; ".join(f"{f['original'][:10]}->{f['written'][:10]}{'' if f['changed'] else ' (=)'}"
                          for f in r["white_box"])
        held = "; ".join(f"{f['original'][:10]}->{f['written'][:10]}{'' if f['changed'] else ' (=)'}"
                         for f in r["held_out"])
        name = r["image"][:24] + (f" [{r['retargeted']}]" if r["retargeted"] else "")
        lines.append(f"{name:<26}{r['ssimulacra2']:>6.1f}  {white:<52}{held:<34}{r['ratio85_latent']:>8.3f}"
                     f"{r['ratio85_both']:>9.3f}{r['cpu_latent']:>8.1f}{r['cpu_both']:>9.1f}")

    def pct(v: Optional[float]) -> str:
        return "n/a" if v is None else f"{100 * v:.0f} %"

    lines += [
        f"white-box top-1 changed (above the noise floor): {pct(s['white_box_changed'])}; "
        f"median drop of the original top-1: {pct(s['white_box_drop'])}",
        f"held-out top-1 changed (above the noise floor): {pct(s['held_out_changed'])}; "
        f"median drop: {pct(s['held_out_drop'])}",
        f"latent channel ({report['rows'][0]['ratio_kind'] if report['rows'] else 'ratio'}), median: "
        f"{s['ratio85_latent']} alone, {s['ratio85_both']} with labels "
        f"(median cost {s['ratio85_cost']:+.4f}; target <= +0.02)" if s["ratio85_cost"] is not None else "",
        f"time per image, both channels / latent alone: median x{s['time_ratio']:.2f} in CPU seconds "
        f"(x{s['wall_ratio']:.2f} wall; target <= x1.3; the whole call, the label report included); "
        f"lowest SSIMULACRA2 {s['ssimulacra2_min']}" if s["time_ratio"] is not None else "",
    ]
    return "\n".join(line for line in lines if line)
