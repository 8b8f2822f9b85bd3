"""The label channel's loss: what the optimizer adds so label models stop seeing the image.

Per model, with what the original shows computed once at construction:

- a classifier (softmax): the original's top classes (those making up ``mass`` of its
  probability, at most ``top_k``) lose probability: ``log p(original classes)``, floored
  at ``log floor`` so a model already fooled stops pulling on the shared budget, plus a
  logit margin (best original class minus best other class, floored at ``-margin``): the
  mass alone can fall while the original class stays on top of a flattened distribution;
  for a poison target, ``-log p(target classes)`` is added (capped the same way at ``1 - floor``);
- a tagger (sigmoid per tag): the original's tags above ``tag_threshold`` lose theirs:
  the mean ``log sigmoid``; a target adds ``-log sigmoid`` of the target's tags;
- a CLIP tower (embedding): the cosine similarity to the original's embedding, minus the
  similarity to the target anchor's embedding where there is one.

Every step each model sees the image through a random crop and size around its own view
(input diversity) and, with probability ``jpeg_probability``, a simulated JPEG at quality
75-95 first, as a posted copy would be. The ensemble's loss is the mean over the models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import torch
from torch import nn

from ..pixels.transforms import jpeg
from .imagenet import CONCEPT_CLASSES, concept_classes
from .registry import EMBEDDING, SIGMOID, SOFTMAX, ImageLike, LabelModel, to_batch

Target = Union[str, Sequence[int], None]


@dataclass(frozen=True)
class ModelTerms:
    """What one model's loss pushes down (``away``) and up (``toward``): class/tag indices,
    or embeddings for a CLIP tower."""

    away: Union[torch.Tensor, None]
    toward: Union[torch.Tensor, None]


def _sum_log(logits: torch.Tensor, idx: torch.Tensor, kind: str) -> torch.Tensor:
    """log p(any of ``idx``) for a softmax model; the mean log p(tag) for a sigmoid one."""
    if kind == SOFTMAX:
        return torch.logsumexp(logits.log_softmax(-1)[:, idx], -1).mean()
    return torch.nn.functional.logsigmoid(logits[:, idx]).mean()


def _margin(logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """The best of ``idx``'s logits minus the best other logit: below 0, another class is top-1."""
    inside = logits[:, idx].max(-1).values
    others = logits.index_fill(-1, idx, float("-inf")).max(-1).values
    return (inside - others).mean()


class LabelObjective(nn.Module):
    """``objective(x, generator) -> scalar loss`` (lower = the models see less of the original
    and, with a target, more of it). ``x``: 1 x 3 x H x W in [0, 1], differentiable.

    ``target``: a concept name (mapped to ImageNet classes for classifiers, to the tag of
    that name for taggers), explicit ImageNet class indices, or None (untargeted).
    ``target_image``: an anchor image; models the concept does not map for (CLIP towers,
    and classifiers for a concept without ImageNet classes) take its own top labels or
    embedding as the target."""

    def __init__(self, models: Sequence[LabelModel], original: ImageLike, target: Target = None,
                 target_image: Optional[ImageLike] = None, top_k: int = 5, mass: float = 0.9,
                 tag_threshold: float = 0.35, floor: float = 1e-3, margin: float = 3.0, jpeg_probability: float = 0.5,
                 jpeg_quality: tuple[float, float] = (75.0, 95.0), diversity: bool = True) -> None:
        super().__init__()
        if not models:
            raise ValueError("LabelObjective needs at least one label model")
        self.models = list(models)
        self.floor = floor
        self.margin = margin
        self.jpeg_probability = jpeg_probability
        self.jpeg_quality = jpeg_quality
        self.diversity = diversity
        self.top_k, self.mass, self.tag_threshold = top_k, mass, tag_threshold
        original = to_batch(original)
        anchor = to_batch(target_image) if target_image is not None else None
        self.terms = [self._terms(m, original, target, anchor) for m in self.models]

    @torch.no_grad()
    def _top_set(self, model: LabelModel, image: torch.Tensor) -> torch.Tensor:
        probs = model.probabilities(model(image.to(model.device)))[0]
        if model.output == SIGMOID:
            shown = torch.tensor(model.shown, device=probs.device)
            picked = shown[probs[shown] >= self.tag_threshold]
            if picked.numel() == 0:
                picked = shown[probs[shown].argmax()].view(1)
            return picked[probs[picked].argsort(descending=True)][: max(self.top_k, 1) * 2]
        values, order = probs.sort(descending=True)
        keep = int((values.cumsum(0) < self.mass).sum()) + 1
        return order[: max(1, min(keep, self.top_k))]

    def _terms(self, model: LabelModel, original: torch.Tensor, target: Target,
               anchor: Optional[torch.Tensor]) -> ModelTerms:
        with torch.no_grad():
            if model.output == EMBEDDING:
                away = model(original.to(model.device))
                toward = model(anchor.to(model.device)) if anchor is not None else None
                return ModelTerms(away, toward)
        away = self._top_set(model, original)
        if model.output == SOFTMAX:
            # A tabby that turns into a tiger cat is still a cat: push down the whole
            # concept an original class belongs to.
            groups = [torch.tensor(g, device=away.device) for g in CONCEPT_CLASSES.values()]
            away = torch.unique(torch.cat([away, *(g for g in groups if torch.isin(away, g).any())]))
        toward = self._target_indices(model, target, anchor)
        if toward is not None:
            away = away[~torch.isin(away, toward)]      # a cat poisoned towards "cat" keeps its cat classes
            away = away if away.numel() else None
        return ModelTerms(away, toward)

    def _target_indices(self, model: LabelModel, target: Target,
                        anchor: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        device = model.device
        if target is not None and not isinstance(target, str):
            return torch.tensor(list(target), dtype=torch.long, device=device) if model.output == SOFTMAX else None
        if isinstance(target, str):
            if model.output == SOFTMAX:
                classes = concept_classes(target)
            else:
                wanted = {target.strip().lower().replace(" ", "_")}
                classes = tuple(i for i in model.shown if model.labels[i].lower() in wanted)
            if classes:
                return torch.tensor(classes, dtype=torch.long, device=device)
        if anchor is not None:
            return self._top_set(model, anchor)
        return None

    def _posted(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.jpeg_probability <= 0 or float(torch.rand((), generator=generator)) >= self.jpeg_probability:
            return x
        low, high = self.jpeg_quality
        return jpeg(x, low + (high - low) * float(torch.rand((), generator=generator)))

    def model_loss(self, index: int, x: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
        """One model's loss for the (already posted) image ``x``."""
        model, terms = self.models[index], self.terms[index]
        out = model(x, generator if self.diversity else None)
        loss = out.new_zeros(())
        if model.output == EMBEDDING:
            loss = loss + (out * terms.away).sum(-1).mean()
            if terms.toward is not None:
                loss = loss - (out * terms.toward).sum(-1).mean()
            return loss
        low, high = math.log(self.floor), math.log1p(-self.floor)
        if terms.away is not None:
            loss = loss + _sum_log(out, terms.away, model.output).clamp(min=low)
            if model.output == SOFTMAX:
                loss = loss + _margin(out, terms.away).clamp(min=-self.margin)
        if terms.toward is not None:
            loss = loss - _sum_log(out, terms.toward, model.output).clamp(max=high)
        return loss

    def forward(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        posted = self._posted(x, generator)
        losses = [self.model_loss(i, posted, generator) for i in range(len(self.models))]
        return torch.stack(losses).mean()
