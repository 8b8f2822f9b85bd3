"""Helpers shared by the sub-commands: settings loading and turning them into core options."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from shading import ProtectOptions

from shading import DEVICES, INTENSITIES, MODES, OBJECTIVES, PRECISIONS, QUALITIES

from ..config import ConfigError, Paths, Settings, load_settings


def settings_or_exit() -> tuple[Settings, Paths]:
    paths = Paths.resolve()
    try:
        return load_settings(paths=paths), paths
    except ConfigError as exc:
        print(f"shade: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def add_shading_arguments(parser: argparse.ArgumentParser) -> None:
    """The options ``protect`` and ``bench`` share; defaults come from the configuration."""
    parser.add_argument("--mode", choices=MODES, help="poison: the encoder sees another "
                        "concept; cloak: another style; both (default from config)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--anchor", metavar="IMAGE", help="an image of the concept the encoder should see")
    group.add_argument("--target", metavar="NAME", help="a concept from the anchor library (see `shade anchors`)")
    style = parser.add_mutually_exclusive_group()
    style.add_argument("--style-image", metavar="IMAGE", help="cloak/both: an image in the style to move towards")
    style.add_argument("--style", metavar="NAME", help="cloak/both: a reference style from the style library "
                       "(see `shade styles`; default from config)")
    parser.add_argument("--intensity", choices=tuple(INTENSITIES),
                        help="how visible the change may be: " + ", ".join(
                            f"{i.name} keeps SSIMULACRA2 >= {i.visibility:g}" for i in INTENSITIES.values()))
    parser.add_argument("--visibility", type=float, metavar="SCORE",
                        help="the SSIMULACRA2 score (0-100; ~90 visually lossless) the written file must keep; "
                             "overrides the intensity's")
    parser.add_argument("--quality", choices=tuple(QUALITIES))
    parser.add_argument("--encoder", metavar="NAME[,NAME...]", help="encoders to optimize against (default "
                        "`installed`: every installed one, as an ensemble)")
    parser.add_argument("--device", choices=DEVICES)
    parser.add_argument("--seed", type=int, help="make the result reproducible")
    parser.add_argument("--robust", action=argparse.BooleanOptionalAction, default=None,
                        help="optimize through simulated JPEG, resizing, blur and noise as well as the clean "
                             "view (on by default; off at --quality fast unless asked)")
    parser.add_argument("--large-view", action=argparse.BooleanOptionalAction, default=None,
                        help="also protect the 1024 view that FLUX- and SDXL-era trainers use, through 512 "
                             "tiles (on by default; off at --quality fast unless asked; --quality best "
                             "looks at the whole 1024 view); costs some strength at the 512 view")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="the optimizer's encoder passes: auto uses bfloat16 where the CPU or GPU runs it "
                             "natively (about 3x faster); measurements are always float32")
    parser.add_argument("--objective", choices=OBJECTIVES, default="concept",
                        help="poison's target: concept (default) carries the image's own latent toward the "
                             "concept, keeping its layout; anchor aims at the anchor image's whole latent (the "
                             "published recipe, kept for comparison)")
    parser.add_argument("--channels", metavar="CHANNEL[,CHANNEL]",
                        help="what the shading acts on: latent (the image encoders), labels (the classifiers and "
                             "taggers that write training captions), or auto: both where the label models are "
                             "installed, else latent (default from config: channels)")
    parser.add_argument("--label-models", metavar="NAME[,NAME...]",
                        help="the labels channel's ensemble (default efficientnet-lite0,efficientnet-lite1; "
                             "see `shade models`)")
    parser.add_argument("--steps", type=int, help=argparse.SUPPRESS)        # testing and tuning
    parser.add_argument("--view-size", type=int, help=argparse.SUPPRESS)    # testing: a smaller trainer view


def options_from(args: argparse.Namespace, settings: Settings) -> "ProtectOptions":
    from shading import ProtectOptions, mode_needs  # torch loads only for the commands that shade

    mode = args.mode or settings.mode
    target: Optional[str] = args.target
    if mode_needs(mode, "target") and not args.anchor and not target:
        target = settings.target
    style_image: Optional[Path] = Path(args.style_image) if args.style_image else None
    if mode_needs(mode, "style") and style_image is None:
        from shading import Library, ShadeError

        try:
            style_image = Library(style_dirs=settings.style_dirs).resolve_style(getattr(args, "style", None)
                                                                                or settings.style)
        except ShadeError as exc:
            print(f"shade: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
    return ProtectOptions(
        mode=mode,
        anchor=Path(args.anchor) if args.anchor else None,
        target=target,
        style_image=style_image,
        intensity=args.intensity or settings.intensity,
        visibility=getattr(args, "visibility", None),
        quality=args.quality or settings.quality,
        encoders=tuple(e.strip() for e in args.encoder.split(",") if e.strip()) if args.encoder else settings.encoders,
        device=args.device or settings.device,
        seed=args.seed,
        model_dirs=settings.model_dirs,
        anchor_dirs=settings.anchor_dirs,
        max_pixels=settings.max_pixels,
        view_size=args.view_size or settings.view_size,
        steps=args.steps,
        eot=args.robust,
        large_view=args.large_view,
        precision=args.precision,
        objective=args.objective,
        **label_options(args, settings),
    )


def label_options(args: argparse.Namespace, settings: Settings) -> dict:
    """``channels`` and ``label_models`` from the flags over the ``channels`` setting, ``auto``
    resolved against what is installed; exits with a clear line on a bad value."""
    from shading import ProtectOptions, ShadeError, parse_channels, resolve_channels

    models = ProtectOptions.label_models
    if getattr(args, "label_models", None):
        models = tuple(n.strip() for n in args.label_models.split(",") if n.strip())
    try:
        wanted = parse_channels(args.channels) if getattr(args, "channels", None) else settings.channels
        channels = resolve_channels(wanted, models, settings.model_dirs)
    except ShadeError as exc:
        print(f"shade: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return {"channels": channels, "label_models": models}
