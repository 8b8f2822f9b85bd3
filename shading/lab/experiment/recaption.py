"""The recaptioning rows' measure: how many of concept A's training images a captioner that
is not in Shade's ensemble labels as something other than A.

A trainer that recaptions scraped images trains each one under the caption its captioner
writes. Here the captioner is a held-out label model (EfficientNet-Lite2 stands in: its top
label is the caption). A's clean label is what it names A's clean images (the most common
top label, by concept: a tabby and a tiger cat are both ``cat``); a shaded image that it
names otherwise is trained under another concept's caption. Each image goes through a
JPEG round trip first, as a scraped copy would.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Optional, Sequence

from ...labels.imagenet import CONCEPT_CLASSES
from ...labels.measure import jpeg_round_trip
from ...labels.registry import ImageLike, LabelModel


def concept_of(label: str, labels: Sequence[str]) -> str:
    """The built-in concept an ImageNet class name belongs to, else the name itself."""
    if label in labels:
        index = labels.index(label)
        for concept, classes in CONCEPT_CLASSES.items():
            if index in classes:
                return concept
    return label


@dataclass(frozen=True)
class Recaptioned:
    clean_label: str             # A's label: the captioner's commonest concept on A's clean images
    clean_share: float           # share of A's clean images it labels otherwise (the captioner's own noise)
    shaded_share: float          # share of A's shaded images it labels otherwise
    shaded_labels: tuple[str, ...]   # the caption (concept) each shaded image gets, in order

    def to_dict(self) -> dict:
        return {"clean_label": self.clean_label, "clean_share": self.clean_share,
                "shaded_share": self.shaded_share, "shaded_labels": list(self.shaded_labels)}


def _captions(images: Sequence[ImageLike], captioner: LabelModel, jpeg_quality: Optional[int]) -> list[str]:
    out = []
    for image in images:
        seen = jpeg_round_trip(image, jpeg_quality) if jpeg_quality else image
        out.append(concept_of(captioner.top_labels(seen, 1)[0][0], captioner.labels))
    return out


def recaption(clean: Sequence[ImageLike], shaded: Sequence[ImageLike], captioner: LabelModel,
              clean_label: Optional[str] = None, jpeg_quality: Optional[int] = 85) -> Recaptioned:
    """Label A's ``clean`` and ``shaded`` training images with ``captioner`` (after a JPEG
    round trip of ``jpeg_quality``; None: as given) and return the share of each it labels as
    something other than A's clean label (``clean_label``, or the commonest on ``clean``)."""
    if not clean and clean_label is None:
        raise ValueError("recaption needs A's clean images or its clean label")
    if not shaded:
        raise ValueError("recaption needs A's shaded training images")
    clean_captions = _captions(clean, captioner, jpeg_quality)
    label = clean_label or Counter(clean_captions).most_common(1)[0][0]
    shaded_captions = _captions(shaded, captioner, jpeg_quality)

    def other(captions: list[str]) -> float:
        return round(sum(c != label for c in captions) / len(captions), 4) if captions else 0.0

    return Recaptioned(label, other(clean_captions), other(shaded_captions), tuple(shaded_captions))
