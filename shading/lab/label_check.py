"""A standalone check that the label objective works, before it is wired into ``protect``.

Plain projected gradient descent (sign steps, L-inf ball) on ``LabelObjective`` alone
against an ensemble, then ``label_report`` on the result: white-box figures for the
ensemble's models, held-out figures for the others, each beside the JPEG noise floor.
Also times one forward+backward of the objective, against one of a latent encoder.

    python -m shading.lab.label_check --steps 20 --eps 4
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from ..labels.imagenet import concept_classes
from ..labels.measure import jpeg_round_trip, label_report
from ..labels.objective import LabelObjective
from ..labels.registry import LabelModel, load_label_model, to_batch
from ..measure.perceptual import score


def pgd(objective: Callable[[torch.Tensor, torch.Generator], torch.Tensor], image: torch.Tensor,
        eps: float = 4 / 255, steps: int = 20, seed: int = 0) -> torch.Tensor:
    """Sign-gradient descent on ``objective`` within ``eps`` of ``image`` (L-inf), the step
    shrinking linearly from eps / 2 to eps / 20; returns the result rounded to 8 bits."""
    generator = torch.Generator().manual_seed(seed)
    delta = torch.zeros_like(image, requires_grad=True)
    for step in range(steps):
        loss = objective((image + delta).clamp(0, 1), generator)
        (grad,) = torch.autograd.grad(loss, delta)
        alpha = eps * (0.5 - 0.45 * step / max(steps - 1, 1))
        with torch.no_grad():
            delta -= alpha * grad.sign()
            delta.clamp_(-eps, eps)
    return ((image + delta.detach()).clamp(0, 1) * 255).round() / 255


def time_step(objective: Callable[[torch.Tensor, torch.Generator], torch.Tensor], image: torch.Tensor,
              repeats: int = 3) -> float:
    """Median seconds of one forward+backward of ``objective`` on ``image``."""
    generator = torch.Generator().manual_seed(0)
    times = []
    for _ in range(repeats + 1):
        x = image.clone().requires_grad_(True)
        start = time.perf_counter()
        objective(x, generator).backward()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))      # the first pass warms the allocator


def check(images: dict[str, np.ndarray], ensemble: Sequence[LabelModel], held_out: Sequence[LabelModel],
          eps: float, steps: int, target: Optional[str] = None) -> dict:
    out = {}
    for name, array in images.items():
        x = to_batch(array)
        objective = LabelObjective(ensemble, x, target=target)
        start = time.perf_counter()
        shaded = pgd(objective, x, eps, steps)
        seconds = time.perf_counter() - start
        report = label_report(x, shaded, [*ensemble, *held_out], held_out=[m.name for m in held_out])
        # How visible the plain L-inf ball is: the latent channel's budget is SSIMULACRA2 >= 78.
        out[name] = {"seconds": round(seconds, 1), "ssimulacra2": round(score(x, shaded, torch.float32), 2), **report}
        if target is not None:
            out[name]["target_probability"] = target_mass(x, shaded, [*ensemble, *held_out], target)
    return out


@torch.no_grad()
def target_mass(original: torch.Tensor, shaded: torch.Tensor, models: Sequence[LabelModel],
                target: str) -> dict[str, list[float]]:
    """Per ImageNet classifier: the target concept's probability [original, shaded after JPEG 85]."""
    classes = list(concept_classes(target))
    if not classes:
        return {}
    written = to_batch(jpeg_round_trip(shaded, 85))
    return {m.name: [round(float(m.probabilities(m(im))[0, classes].sum()), 4) for im in (original, written)]
            for m in models if m.output == "softmax"}


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eps", type=float, default=4.0, help="L-inf budget in 1/255 steps")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--ensemble", default="efficientnet-lite0,efficientnet-lite1")
    parser.add_argument("--held-out", default="efficientnet-lite2")
    parser.add_argument("--target", default=None, help="a poison concept (e.g. cat); default untargeted")
    parser.add_argument("--latent-model-dir", type=Path, default=None,
                        help="a model folder with taef2, to time one latent-encoder step beside the label step")
    parser.add_argument("--images", nargs="*", default=[], help="more image files, beside chelsea and coffee")
    parser.add_argument("--max-side", type=int, default=768, help="working resolution: the long side, at most")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1 gives steady timings on a shared machine)")
    args = parser.parse_args(argv)
    from skimage import data

    torch.set_num_threads(max(1, args.threads))
    ensemble = [load_label_model(n, "cpu") for n in args.ensemble.split(",") if n]
    held_out = [load_label_model(n, "cpu") for n in args.held_out.split(",") if n]
    timing_image = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    timing = {"label_objective_224_s": round(time_step(LabelObjective(ensemble, timing_image, jpeg_probability=0),
                                                       timing_image), 4)}
    if args.latent_model_dir is not None:
        from ..models.encoders import load_encoder

        encoder = load_encoder("taef2", "cpu", [args.latent_model_dir])
        view = torch.rand(1, 3, 512, 512, generator=torch.Generator().manual_seed(0))
        timing["taef2_512_s"] = round(time_step(lambda x, g: encoder(x).square().mean(), view), 4)
    images = {"chelsea": data.chelsea(), "coffee": data.coffee()}
    for path in args.images:
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((args.max_side, args.max_side), Image.LANCZOS)
            key = Path(path).stem
            images[key if key not in images else f"{Path(path).parent.name}/{key}"] = np.asarray(im)
    per_image = check(images, ensemble, held_out, args.eps / 255, args.steps, args.target)
    result = {"eps_255": args.eps, "steps": args.steps, "timing": timing, "summary": summarize(per_image),
              "images": per_image}
    print(json.dumps(result, indent=1))


def summarize(per_image: dict) -> dict:
    """Per part (white_box, held_out): the share of (image, model) pairs whose top-1 changed
    beyond the JPEG noise floor, the median relative drop of the original top-1's probability,
    and the same drop for the original's own JPEG copy."""
    out = {}
    for part in ("white_box", "held_out"):
        rows = [row for result in per_image.values() for row in result[part] if row["original_top1"]]
        if rows:
            out[part] = {"pairs": len(rows),
                         "changed_above_floor": round(sum(r["changed_above_floor"] for r in rows) / len(rows), 3),
                         "median_drop": round(float(np.median([r["written"]["drop"] for r in rows])), 3),
                         "median_floor_drop": round(float(np.median([r["noise_floor"]["drop"] for r in rows])), 3)}
    out["median_ssimulacra2"] = round(float(np.median([r["ssimulacra2"] for r in per_image.values()])), 2)
    return out


if __name__ == "__main__":
    main()
