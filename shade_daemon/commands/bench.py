"""``shade bench [IMAGES or FOLDER] [--json FILE]``: protection, cost and speed vs the reference."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Callable, Optional

from .common import add_shading_arguments, options_from, settings_or_exit

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}
SKIMAGE_PHOTOS = ("astronaut", "coffee", "rocket", "camera")   # camera: a large clear sky


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure protection, cost and speed beside the reference attack")
    p.add_argument("inputs", nargs="*", metavar="IMAGE_OR_FOLDER",
                   help="images or folders (default: the paintings in ../shared/images when present)")
    p.add_argument("--photos", action="store_true", help="also the photos shipped with scikit-image")
    p.add_argument("--json", metavar="FILE", help="also write the full report as JSON")
    p.add_argument("--reference-steps", type=int, default=500,
                   help="steps of the reference attack (500 as published; 0 skips it)")
    p.add_argument("--reference-eps", type=float, nargs="+", default=[10.2], metavar="EPS_255",
                   help="the reference's L-inf budget(s) in /255 (10.2 = 0.04 as published); two or more "
                        "also give the reference at Shade's own SSIMULACRA2, interpolated")
    p.add_argument("--intensities", nargs="+", default=[], metavar="NAME",
                   help="also run Shade at these intensities (for the frontier plot)")
    p.add_argument("--plot", metavar="PNG", help="draw the frontier: ratio after JPEG 85 against SSIMULACRA2")
    p.add_argument("--sheet", metavar="PNG",
                   help="save a 1:1 crop sheet: each image's smoothest and busiest region, "
                        "original | shaded | difference x8")
    p.add_argument("--memory", type=float, nargs="+", metavar="MP",
                   help="instead: the peak memory above idle of shading a synthetic 3:2 image of each "
                        "size in megapixels (e.g. --memory 12 50), each in a fresh process")
    p.add_argument("--cluster", type=int, nargs="?", const=8, metavar="N",
                   help="instead: images per hour through `shade protect --ray` with 1 and 2 worker nodes on this "
                        "machine (each on its own cores; with a GPU, 1 and 2 workers sharing it) and the cost per "
                        "image against shading here; N images: copies of the IMAGEs given in turn, else synthetic "
                        "(default 8; needs shade-art[cluster])")
    p.add_argument("--cluster-size", default="256x192", metavar="WxH",
                   help="with --cluster and no IMAGEs: the synthetic images' size")
    p.add_argument("--cluster-cores", type=int, default=1, metavar="K",
                   help="with --cluster: cores for each worker node (and threads for each worker; default 1)")
    p.add_argument("--speed", action="store_true",
                   help="instead: per image, seconds, steps and encoder passes (with the visibility and "
                        "strength reached), the encoder's ms per pass in float32 and bfloat16, the CPU kind, "
                        "and the reference's time per step measured in the same process")
    p.add_argument("--sweep-steps", type=int, nargs="+", default=[], metavar="STEPS",
                   help="with --speed: also shade each image at these step counts and report the ratio "
                        "against passes")
    p.add_argument("--labels", action="store_true",
                   help="instead: the label channel: each image shaded with the latent channel alone and with "
                        "both; what the ensemble and a held-out classifier see after JPEG 85 (beyond the "
                        "original's own JPEG-85 copy), the latent ratio and the time both ways (default images: "
                        "the paintings and the photos astronaut, coffee, chelsea, rocket; needs shade-art[labels])")
    p.add_argument("--label-size", type=int, metavar="PX",
                   help="with --labels: downscale larger images to this short side first (a lighter bench)")
    p.add_argument("--label-weight", type=float, metavar="W",
                   help="with --labels: the labels channel's weight in each step's loss (default: the core's)")
    add_shading_arguments(p)
    p.set_defaults(func=run)


def run_memory(args: argparse.Namespace, options) -> int:
    from shading import peak_above_idle

    rows = []
    for mp in args.memory:
        width = int(round((mp * 1e6 * 1.5) ** 0.5))
        height = int(round(width / 1.5))
        print(f"memory: {width}x{height} ({mp:g} MP)...", file=sys.stderr)
        rows.append(peak_above_idle(width, height, options))
        r = rows[-1]
        print(f"{r['megapixels']:>6} MP  idle {r['idle_mb']} MB  peak {r['peak_mb']} MB  above idle "
              f"{r['above_idle_mb']} MB  {r['seconds']} s  {r['steps']} steps")
    if args.json:
        Path(args.json).write_text(json.dumps({"memory": rows}, indent=2))
    return 0


def _log(line: str) -> None:
    print(line, file=sys.stderr)


def report_or_none(args: argparse.Namespace, make: Callable[[], dict], table: Callable[[dict], str]) -> Optional[dict]:
    """Runs ``make``, prints its table and writes ``--json``; None (said on stderr) when
    the shading refused."""
    from shading import ShadeError

    try:
        report = make()
    except ShadeError as exc:
        print(f"shade: {exc}", file=sys.stderr)
        return None
    print(table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float))
    return report


def run_speed_report(args: argparse.Namespace, items: list, options) -> int:
    from shading import format_speed, run_speed

    if any(n < 1 for n in args.sweep_steps):
        print("shade: --sweep-steps takes step counts of 1 or more", file=sys.stderr)
        return 2
    print(f"timing {len(items)} image(s)", file=sys.stderr)
    report = report_or_none(args, lambda: run_speed(items, options, max(args.reference_steps, 1), log=_log,
                                                      sweep_steps=args.sweep_steps),
                            format_speed)
    return 0 if report is not None else 1


LABEL_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def run_label_report(args: argparse.Namespace, items: list, options) -> int:
    from shading import label_bench_table, run_label_bench

    if args.label_size is not None and args.label_size < 64:
        print("shade: --label-size takes a short side of 64 pixels or more", file=sys.stderr)
        return 2
    if "labels" not in options.channels:
        options.channels = (*options.channels, "labels")
    if args.label_weight is not None:
        if not args.label_weight >= 0:
            print("shade: --label-weight takes a weight of 0 or more", file=sys.stderr)
            return 2
        options.label_weight = args.label_weight
    alternate = None
    if options.target == "cat":
        try:
            from skimage import data
        except ImportError:
            data = None
        if data is not None:
            alternate = (_png(data.coffee()), "coffee")     # for chelsea, which is the cat already
    print(f"label bench: {len(items)} image(s), each shaded twice", file=sys.stderr)
    report = report_or_none(args, lambda: run_label_bench(items, options, args.label_size, alternate, log=_log),
                            label_bench_table)
    return 0 if report is not None else 1


def collect(inputs: list[str], photos: bool, names: tuple[str, ...] = SKIMAGE_PHOTOS) -> list[tuple[str, object]]:
    items: list[tuple[str, object]] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            items += [(p.name, p) for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
        else:
            items.append((path.name, path))
    if photos:
        from skimage import data  # a dev dependency: the photos ship inside the package

        items += [(f"skimage-{n}", _png(getattr(data, n)())) for n in names]
    return items


def _png(array) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def default_anchor() -> bytes:
    """A photo of a cat (scikit-image's chelsea) as the bench's default poison anchor."""
    try:
        from skimage import data
    except ImportError:
        raise SystemExit("shade: the bench's default anchor comes from scikit-image; install the dev extra "
                         "(pip install 'shade-art[dev]') or pass --anchor IMAGE") from None
    return _png(data.chelsea())


def run(args: argparse.Namespace) -> int:
    from shading import INTENSITIES, bench_table, crop_sheet, frontier_plot, mode_needs, run_bench

    settings, _ = settings_or_exit()
    if not args.channels and not args.labels:
        # The benches measure the latent channel (what the reference attack and the published
        # figures compare), whatever the channels setting says; --channels asks for another.
        settings = dataclasses.replace(settings, channels=("latent",))
    if getattr(args, "cluster", None):
        from ..cluster.bench import run_cluster_bench

        sources = [p for _, p in collect(args.inputs, False) if isinstance(p, Path)]
        return run_cluster_bench(args, options_from(args, settings), sources)
    inputs = args.inputs
    shared = Path(__file__).resolve().parents[2].parent / "shared" / "images"
    photos = args.photos or (args.labels and not inputs)
    if not inputs and not photos and not args.memory:
        if not shared.is_dir():
            print("shade: give images or folders to bench (or --photos)", file=sys.stderr)
            return 2
        inputs = [str(shared)]
    if args.labels and not inputs and shared.is_dir():
        inputs = [str(shared)]
    items = collect(inputs, photos, LABEL_PHOTOS if args.labels else SKIMAGE_PHOTOS)
    if not items and not args.memory:
        print("shade: no images found to bench", file=sys.stderr)
        return 2
    options = options_from(args, settings)
    if args.memory:
        if mode_needs(options.mode, "target") and args.anchor is None and args.target is None:
            options.target = "cat"             # a built-in anchor: nothing to load from the dev extra
        return run_memory(args, options)
    if mode_needs(options.mode, "target") and args.anchor is None and args.target is None:
        options.anchor, options.target = default_anchor(), "cat"
    if args.labels:
        return run_label_report(args, items, options)
    if args.speed:
        return run_speed_report(args, items, options)
    if args.sweep_steps:
        print("shade: --sweep-steps goes with --speed", file=sys.stderr)
        return 2
    print(f"benching {len(items)} image(s); the reference takes {args.reference_steps} steps per image",
          file=sys.stderr)
    unknown = [i for i in args.intensities if i not in INTENSITIES]
    if unknown:
        print(f"shade: unknown intensity {unknown[0]!r}; choose from {', '.join(INTENSITIES)}", file=sys.stderr)
        return 2
    pairs: dict = {}
    report = report_or_none(args, lambda: run_bench(items, options, args.reference_steps,
                                                     [e / 255 for e in args.reference_eps], log=_log,
                                                     intensities=args.intensities, keep=pairs), bench_table)
    if report is None:
        return 1
    try:
        if args.plot:
            frontier_plot(report, args.plot)
        if args.sheet:
            crop_sheet(pairs, args.sheet)
    except RuntimeError as exc:
        print(f"shade: {exc}", file=sys.stderr)
        return 1
    return 0
