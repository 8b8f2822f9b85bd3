"""``shade models`` (list what is installed and missing), ``shade models pull NAME``,
``shade anchors`` (the anchor library: yours, then the built-in ones), ``shade anchors add NAME IMAGE``,
and the same for the reference styles of cloak/both: ``shade styles``, ``shade styles add NAME IMAGE``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import settings_or_exit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list encoder and label models, or pull one from the Hugging Face hub")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    pull_p = msub.add_parser("pull", help="download a model into the first model folder")
    pull_p.add_argument("name")
    pull_p.set_defaults(func=run_pull)
    p.set_defaults(func=run_list)

    a = sub.add_parser("anchors", help="list the anchor library's concepts, or add one")
    asub = a.add_subparsers(dest="anchors_command", metavar="ACTION")
    add = asub.add_parser("add", help="add IMAGE to the library as concept NAME")
    add.add_argument("name")
    add.add_argument("image")
    add.set_defaults(func=run_anchor_add)
    a.set_defaults(func=run_anchor_list)

    s = sub.add_parser("styles", help="list the reference styles for cloak/both, or add one")
    ssub = s.add_subparsers(dest="styles_command", metavar="ACTION")
    sadd = ssub.add_parser("add", help="add IMAGE to the style library as style NAME")
    sadd.add_argument("name")
    sadd.add_argument("image")
    sadd.set_defaults(func=run_style_add)
    s.set_defaults(func=run_style_list)


def run_list(args: argparse.Namespace) -> int:
    from shading import available_encoders, missing_encoders

    settings, _ = settings_or_exit()
    print(f"model folders: {', '.join(str(d) for d in settings.model_dirs)}")
    for info in available_encoders(settings.model_dirs):
        state = f"installed  {info.location}" if info.installed else f"missing    shade models pull {info.name}"
        print(f"  {info.name:<9} {info.kind:<5} {state}")
    print("label models (the labels channel: classifiers, taggers and CLIP image towers):")
    for label in label_model_lines(settings.model_dirs):
        print(label)
    missing = missing_encoders(settings.encoders, settings.model_dirs)
    if missing:
        print(f"shade: the configured encoder(s) {', '.join(missing)} are missing: run "
              f"`shade models pull {missing[0]}` or set SHADE_MODEL_DIR", file=sys.stderr)
        return 1
    return 0


def label_model_lines(model_dirs) -> list[str]:
    """One line per label model: installed where, or how to get it (the classifiers come with
    the labels extra, the others from the hub)."""
    from shading import available_label_models

    lines = []
    for info in available_label_models(model_dirs):
        if info.installed:
            state = f"installed  {info.location}"
        elif info.source.startswith("pypi:"):
            state = "missing    pip install 'shade-art[labels]'"
        else:
            state = f"missing    shade models pull {info.name}"
        lines.append(f"  {info.name:<22} {info.kind:<10} {state}")
    return lines


def run_pull(args: argparse.Namespace) -> int:
    from shading import ShadeError, available_label_models, fetch_label_model, pull_model

    settings, _ = settings_or_exit()
    try:
        labels = {info.name: info for info in available_label_models(settings.model_dirs)}
        if args.name in labels and labels[args.name].installed and labels[args.name].source.startswith("pypi:"):
            print(f"{args.name} is already installed (with the labels extra): {labels[args.name].location}")
            return 0
        if args.name in labels:
            where = fetch_label_model(args.name, Path(settings.model_dirs[0]))
        else:
            where = pull_model(args.name, Path(settings.model_dirs[0]))
    except ShadeError as exc:
        print(f"shade: {exc}", file=sys.stderr)
        return 1
    print(f"{args.name} installed in {where}")
    return 0


def _print_library(kind: str, folders, entries, hint: str) -> None:
    print(f"{kind} folders: {', '.join(str(d) for d in folders)} (yours, first), then the built-in ones")
    mine = [name for name, _, builtin in entries if not builtin]
    builtins = [name for name, _, builtin in entries if builtin]
    print("yours: " + (", ".join(mine) if mine else f"none yet ({hint})"))
    print("built-in: " + (", ".join(builtins) if builtins else "none"))


def run_anchor_list(args: argparse.Namespace) -> int:
    from shading import Library

    settings, _ = settings_or_exit()
    library = Library(anchor_dirs=settings.anchor_dirs, model_dirs=settings.model_dirs)
    _print_library("anchor", settings.anchor_dirs, library.anchors(), "add one: shade anchors add cat cat.jpg")
    if library.renders_missing_targets():
        print("other concepts are rendered by the text-to-image pipeline in your model folder")
    return 0


def run_style_list(args: argparse.Namespace) -> int:
    from shading import Library

    settings, _ = settings_or_exit()
    _print_library("style", settings.style_dirs, Library(style_dirs=settings.style_dirs).styles(),
                   "add one: shade styles add mine painting.jpg")
    print(f"default style: {settings.style}")
    return 0


def run_anchor_add(args: argparse.Namespace) -> int:
    from shading import normalize_concept

    settings, _ = settings_or_exit()
    return _add_to_library(args, Path(settings.anchor_dirs[0]), normalize_concept)


def run_style_add(args: argparse.Namespace) -> int:
    from shading import normalize_style

    settings, _ = settings_or_exit()
    return _add_to_library(args, Path(settings.style_dirs[0]), normalize_style)


def _add_to_library(args: argparse.Namespace, folder: Path, normalize) -> int:
    from shading import ANCHOR_EXTENSIONS, ShadeError, load_image, write_new_file

    try:
        concept = normalize(args.name)
        loaded = load_image(args.image)             # refuse what cannot be used as an anchor
        suffix = Path(args.image).suffix.lower()
        if suffix in ANCHOR_EXTENSIONS:
            data = Path(args.image).read_bytes()
        else:                                       # keep the library to formats it looks for
            import io

            from PIL import Image
            buf = io.BytesIO()
            Image.fromarray(loaded.rgb).save(buf, format="PNG")
            data, suffix = buf.getvalue(), ".png"
        dest = write_new_file(folder / f"{concept}{suffix}", data)
    except ShadeError as exc:
        print(f"shade: {exc}", file=sys.stderr)
        return 1
    print(f"added {concept!r}: {dest}")
    return 0
