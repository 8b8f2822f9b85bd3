"""What a label model sees before and after shading, judged on what a trainer would scrape.

The written file goes through a real JPEG round trip (PIL, quality 85) before the model
sees it. Re-saving the untouched original the same way already moves probabilities and
can swap near-tied classes; that is the noise floor, reported beside every figure, and a
change counts only where the shaded file's goes beyond it.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from typing import Optional, Sequence, Union

import numpy as np
import torch
from PIL import Image

from .registry import EMBEDDING, ImageLike, LabelModel, to_batch


def jpeg_round_trip(image: ImageLike, quality: int = 85) -> np.ndarray:
    """The image as a JPEG file of ``quality`` decodes (PIL, 4:2:0), H x W x 3 uint8."""
    x = to_batch(image)[0].clamp(0, 1)
    array = (x.permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))


@dataclass(frozen=True)
class ChangeFigures:
    top1: str                 # the top-1 label the model sees in this copy
    top1_prob: float
    changed: bool             # top-1 differs from the original's
    drop: float               # relative fall of the original top-1's probability: 1 - p_copy / p_original
    top: tuple[tuple[str, float], ...] = ()   # the few most probable labels of this copy (what a tagger writes)


@dataclass(frozen=True)
class ModelReport:
    model: str
    held_out: bool            # not in the ensemble the perturbation was optimized against
    original_top1: str
    original_prob: float
    written: ChangeFigures    # the shaded file after the JPEG round trip
    noise_floor: ChangeFigures  # the original's own JPEG round trip
    similarity: Optional[float] = None        # CLIP towers: cosine to the original's embedding (written)
    floor_similarity: Optional[float] = None  # ... and of the original's own JPEG copy
    original_top: tuple[tuple[str, float], ...] = ()   # the original's few most probable labels

    @property
    def changed_above_floor(self) -> bool:
        """The written file's top-1 is neither the original's nor that of the original's own
        JPEG copy: a change that re-saving alone does not make."""
        return self.written.changed and self.written.top1 != self.noise_floor.top1

    def to_dict(self) -> dict:
        d = asdict(self)
        d["changed_above_floor"] = self.changed_above_floor
        return d


TOP_SHOWN = 3       # labels listed per copy: what a tagger's caption would lead with


def _top(model: LabelModel, probs: torch.Tensor, k: int = TOP_SHOWN) -> tuple[tuple[str, float], ...]:
    shown = torch.tensor(model.shown, device=probs.device)
    values, order = probs[shown].topk(min(k, len(model.shown)))
    return tuple((model.labels[int(shown[i])], round(float(v), 4)) for v, i in zip(values, order))


@torch.no_grad()
def _figures(model: LabelModel, image: torch.Tensor, label: int, p0: float) -> ChangeFigures:
    probs = model.probabilities(model(image.to(model.device)))[0]
    shown = torch.tensor(model.shown, device=probs.device)
    top = int(shown[probs[shown].argmax()])
    return ChangeFigures(model.labels[top], float(probs[top]), top != label, 1 - float(probs[label]) / max(p0, 1e-12),
                         _top(model, probs))


@torch.no_grad()
def _report(model: LabelModel, original: torch.Tensor, written: torch.Tensor, floor: torch.Tensor,
            held_out: bool) -> ModelReport:
    if model.output == EMBEDDING:
        e0, e1, ef = (model(im.to(model.device))[0] for im in (original, written, floor))
        blank = ChangeFigures("", 0.0, False, 0.0)
        return ModelReport(model.name, held_out, "", 0.0, blank, blank, float(e0 @ e1), float(e0 @ ef))
    probs = model.probabilities(model(original.to(model.device)))[0]
    shown = torch.tensor(model.shown, device=probs.device)
    label = int(shown[probs[shown].argmax()])
    p0 = float(probs[label])
    return ModelReport(model.name, held_out, model.labels[label], p0,
                       _figures(model, written, label, p0), _figures(model, floor, label, p0),
                       original_top=_top(model, probs))


def label_report(original_rgb: ImageLike, written_rgb: ImageLike, models: Sequence[LabelModel],
                 jpeg_quality: int = 85, held_out: Union[Sequence[str], None] = None) -> dict[str, list[dict]]:
    """Per model: the original's top-1 and its probability; the written file's top-1 after a
    real JPEG round trip, whether it changed and how far the original top-1's probability
    fell; the same for the original's own JPEG copy (the noise floor). ``held_out`` names the
    models that were not in the ensemble; the result keeps ``white_box`` and ``held_out`` apart."""
    held = set(held_out or ())
    original = to_batch(original_rgb)
    written = to_batch(jpeg_round_trip(written_rgb, jpeg_quality))
    floor = to_batch(jpeg_round_trip(original_rgb, jpeg_quality))
    out: dict[str, list[dict]] = {"white_box": [], "held_out": []}
    for model in models:
        report = _report(model, original, written, floor, model.name in held)
        out["held_out" if report.held_out else "white_box"].append(report.to_dict())
    return out
