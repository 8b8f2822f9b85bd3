"""``shade bench [IMAGES or FOLDER] [--json FILE]``: protection, cost and speed vs the reference."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import add_shading_arguments, options_from, settings_or_exit

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}
SKIMAGE_PHOTOS = ("astronaut", "coffee", "rocket")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure protection, cost and speed beside the reference attack")
    p.add_argument("inputs", nargs="*", metavar="IMAGE_OR_FOLDER",
                   help="images or folders (default: the paintings in ../shared/images when present)")
    p.add_argument("--photos", action="store_true", help="also the photos shipped with scikit-image")
    p.add_argument("--json", metavar="FILE", help="also write the full report as JSON")
    p.add_argument("--reference-steps", type=int, default=500,
                   help="steps of the reference attack (500 as published; 0 skips it)")
    add_shading_arguments(p)
    p.set_defaults(func=run)


def collect(inputs: list[str], photos: bool) -> list[tuple[str, object]]:
    items: list[tuple[str, object]] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            items += [(p.name, p) for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
        else:
            items.append((path.name, path))
    if photos:
        from skimage import data  # a dev dependency: the photos ship inside the package

        items += [(f"skimage-{n}", _png(getattr(data, n)())) for n in SKIMAGE_PHOTOS]
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
    from shading import ShadeError
    from shading.bench import format_table, run_bench

    settings, _ = settings_or_exit()
    inputs = args.inputs
    shared = Path(__file__).resolve().parents[2].parent / "shared" / "images"
    if not inputs and not args.photos:
        if not shared.is_dir():
            print("shade: give images or folders to bench (or --photos)", file=sys.stderr)
            return 2
        inputs = [str(shared)]
    items = collect(inputs, args.photos)
    if not items:
        print("shade: no images found to bench", file=sys.stderr)
        return 2
    options = options_from(args, settings)
    if options.mode != "cloak" and args.anchor is None and args.target is None:
        options.anchor, options.target = default_anchor(), "cat"
    print(f"benching {len(items)} image(s); the reference takes {args.reference_steps} steps per image",
          file=sys.stderr)
    try:
        report = run_bench(items, options, args.reference_steps, log=lambda s: print(s, file=sys.stderr))
    except ShadeError as exc:
        print(f"shade: {exc}", file=sys.stderr)
        return 1
    print(format_table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float))
    return 0
