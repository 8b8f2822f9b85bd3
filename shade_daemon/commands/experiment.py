"""``shade experiment poison`` (also ``shade bench --poison``): does a small generative model
trained on shaded images learn the target concept? The experiment lives in
``shading.lab.experiment``; this module only parses the command line and writes the outputs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shading import DEVICES, QUALITIES

from .common import settings_or_exit

SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("experiment", help="offline experiments: does a model trained on shaded images learn "
                                          "the target?")
    kinds = p.add_subparsers(dest="experiment", metavar="EXPERIMENT")
    poison = kinds.add_parser("poison", help="train a small generative model on shaded images of one concept "
                                             "and judge what it learned (about 20 minutes on 2 CPU cores)")
    poison.add_argument("--concept", action="append", default=[], metavar="NAME=FOLDER",
                        help="a concept from a folder of your images (twice or more; default: one concept "
                             "per painting in ../shared/images)")
    poison.add_argument("--photos", action="store_true", help="scikit-image's photos as the concepts")
    poison.add_argument("--poisoned", metavar="NAME", help="the concept whose images are shaded (default: the last)")
    poison.add_argument("--target", metavar="NAME", help="the concept they are shaded toward (default: the second)")
    _common(poison)
    poison.set_defaults(func=run)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    # ``shade bench --poison``: the same experiment with its defaults, from the bench.
    bench = sub.choices.get("bench")
    if bench is not None:
        bench.add_argument("--poison", action="store_true",
                           help="run the poisoning experiment instead (see `shade experiment poison`)")
        bench_run = bench.get_default("func")
        bench.set_defaults(func=lambda args: _from_bench(args) if args.poison else bench_run(args))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="DIR", default="poison-experiment",
                   help="where report.json, dose_response.png and samples.png go (default: ./poison-experiment)")
    p.add_argument("--seeds", type=int, default=3, help="training seeds per condition (default 3)")
    p.add_argument("--intensities", nargs="+", metavar="NAME", default=["default", "high"],
                   help="Shade's intensities (default: default high)")
    p.add_argument("--quality", default="default", choices=list(QUALITIES), help="Shade's quality")
    p.add_argument("--reference-steps", type=int, default=100,
                   help="steps of the reference attack (L-inf 0.04; 0 leaves it out; 500 as published)")
    p.add_argument("--no-purify", action="store_true", help="leave out the purification rows")
    p.add_argument("--recaption", action="store_true",
                   help="add the recaptioning rows: A's training labels written by a held-out classifier "
                        "(--captioner), Shade with its labels channel alone and with both (needs shade-art[labels])")
    p.add_argument("--captioner", default="efficientnet-lite2", metavar="NAME",
                   help="with --recaption: the label model that writes the captions (default efficientnet-lite2)")
    p.add_argument("--fast", action="store_true", help="the small variant the tests run (about a minute)")
    p.add_argument("--device", choices=list(DEVICES), default="auto")


def _concepts(args: argparse.Namespace) -> list:
    from shading import experiment

    if args.concept:
        out = []
        for spec in args.concept:
            name, sep, folder = spec.partition("=")
            if not sep or not name or not folder:
                raise SystemExit(f"shade: --concept wants NAME=FOLDER, not {spec!r}")
            if not Path(folder).is_dir():
                raise SystemExit(f"shade: --concept {name}: {folder} is not a folder")
            out.append(experiment.concept_from_folder(name, Path(folder)))
        return out
    if args.photos:
        from skimage import data  # a dev dependency: the photos ship inside the package

        return [experiment.Concept(n, [getattr(data, n)()]) for n in SKIMAGE_PHOTOS]
    shared = Path(__file__).resolve().parents[2].parent / "shared" / "images"
    if not shared.is_dir():
        raise SystemExit("shade: give concepts with --concept NAME=FOLDER (twice or more), or --photos")
    return experiment.painting_concepts(shared)


def _config(args: argparse.Namespace, concepts: list):
    from dataclasses import replace

    from shading import experiment

    settings, _ = settings_or_exit()
    base = experiment.fast_config() if args.fast else experiment.PoisonConfig()
    steps = getattr(args, "reference_steps", base.reference_steps)
    return replace(base, concepts=concepts, poisoned=getattr(args, "poisoned", None),
                   target=getattr(args, "target", None), model_dirs=tuple(settings.model_dirs),
                   device=args.device or "auto",
                   seeds=base.seeds if args.fast else tuple(range(args.seeds)),
                   intensities=tuple(args.intensities)[:1] if args.fast else tuple(args.intensities),
                   quality=base.quality if args.fast else args.quality,
                   reference=steps > 0, reference_steps=min(steps, base.reference_steps) if args.fast else steps,
                   purifiers=() if args.no_purify else base.purifiers,
                   recaption=bool(getattr(args, "recaption", False)),
                   captioner=getattr(args, "captioner", base.captioner))


def _execute(config, out: Path, json_path: str | None = None) -> int:
    from shading import ShadeError, experiment

    try:
        result = experiment.run_poison_experiment(config, log=lambda s: print(s, file=sys.stderr, flush=True))
    except (ShadeError, ValueError, FileNotFoundError) as exc:
        print(f"shade: {exc}", file=sys.stderr)
        return 1
    paths = experiment.write_outputs(result, out)
    if json_path:
        Path(json_path).write_text(paths["report"].read_text())
    print(experiment.format_table(result.report))
    print(f"wrote {paths['report']}, {paths['plot']} and {paths['samples']}")
    return 0


def run(args: argparse.Namespace) -> int:
    return _execute(_config(args, _concepts(args)), Path(args.out))


def _from_bench(args: argparse.Namespace) -> int:
    defaults = argparse.Namespace(concept=[], photos=getattr(args, "photos", False), poisoned=None, target=None,
                                  out="poison-experiment", seeds=3, intensities=["default", "high"],
                                  quality="default", reference_steps=100, no_purify=False, fast=False,
                                  device=getattr(args, "device", None))
    return _execute(_config(defaults, _concepts(defaults)), Path(defaults.out), getattr(args, "json", None))
