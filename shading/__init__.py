"""Shade's shading core: perturb an image so image-model encoders see a chosen target.

    from shading import Protector, ProtectOptions
    protector = Protector.from_pretrained(encoders=("taef2",))
    result = protector.protect("dog.jpg", ProtectOptions(mode="poison", target="cat"))
    result.save("dog-shaded.jpg")

``shading.protect(image, options)`` does the same for one image. A pure library: no HTTP,
no folder watching. Errors derive from ``ShadeError``.

Everything a caller outside the core uses is exported here; the sub-packages
(``pixels``, ``io``, ``models``, ``measure``, ``optimize``, ``lab``, ``labels``) are the
core's own layout. The vocabulary (``options``), the errors and the ``Library`` import
eagerly and without PyTorch; every other name loads on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (
    AnchorNotFound,
    Cancelled,
    DeviceUnavailable,
    ImageError,
    ImageTooLarge,
    ModelNotFound,
    OptionsError,
    ShadeError,
    StyleNotFound,
)
from .library import ANCHOR_EXTENSIONS, Library, normalize_concept, normalize_style
from .options import (
    CHANNELS,
    DEFAULT_MAX_PIXELS,
    DEFAULT_VIEW_SIZE,
    DEVICES,
    FORMATS,
    INTENSITIES,
    MODE_NEEDS,
    MODES,
    OBJECTIVES,
    PRECISIONS,
    QUALITIES,
    TUNABLE,
    ImageSource,
    ProgressCallback,
    ProtectOptions,
    choices,
    format_extension,
    mode_needs,
)

# Eager (torch-free, like the vocabulary): the module and its function share the name, and
# binding the function here is what keeps ``shading.verdict`` the function.
from .verdict import Verdict, next_intensity, verdict

# name -> the module (under shading) that defines it, imported on first use.
_LAZY = {
    "Protector": "protector", "protect": "protector", "target_builder": "protector",
    "ProtectResult": "result",
    "available_encoders": "models.encoders", "expand_encoders": "models.encoders", "load_encoder": "models.encoders",
    "missing_encoders": "models.encoders", "resolve_device": "models.encoders", "register": "models.encoders",
    "pull_model": "models.hub",
    "ImageFacts": "io.imagecheck", "inspect_image": "io.imagecheck",
    "load_image": "io.imageio", "decode_rgb": "io.imageio", "write_new_file": "io.imageio",
    "output_name": "io.imageio",
    "Fingerprint": "measure.audit", "fingerprint": "measure.audit", "fingerprint_image": "measure.audit",
    "small_copy": "measure.audit", "best_match": "measure.audit",
    "Preview": "measure.preview", "sheet": "measure.preview",
    "Checkpoint": "optimize.checkpoint",
    "expected_effect": "measure.expected", "effect_table": "measure.expected",
    # The label channel: classifiers, taggers and CLIP towers, their loss and the before/after report.
    "available_label_models": "labels.registry", "load_label_model": "labels.registry",
    "fetch_label_model": "labels.registry", "LabelObjective": "labels.objective", "label_report": "labels.measure",
    "run_label_bench": "lab.label_bench", "label_bench_table": "lab.label_bench",
    "parse_channels": "labels.channels", "resolve_channels": "labels.channels",
    # The lab: the benchmark and the poisoning experiment (not used by the product).
    "run_bench": "lab.bench", "run_speed": "lab.bench", "bench_table": "lab.bench", "format_speed": "lab.bench",
    "frontier_plot": "lab.bench", "crop_sheet": "lab.bench",
    "peak_above_idle": "lab.memory_bench", "synthetic_png": "lab.memory_bench",
    "experiment": "lab.experiment",
}

__all__ = [  # the lazy names too: a test checks that every _LAZY key is here
    "expected_effect", "effect_table",
    "Protector", "protect", "ProtectOptions", "ProtectResult", "Library", "target_builder", "INTENSITIES",
    "QUALITIES", "MODES", "OBJECTIVES", "CHANNELS", "TUNABLE", "MODE_NEEDS", "mode_needs", "DEVICES", "PRECISIONS", "FORMATS", "DEFAULT_MAX_PIXELS", "DEFAULT_VIEW_SIZE",
    "ANCHOR_EXTENSIONS", "ImageSource", "ProgressCallback", "choices", "format_extension", "normalize_concept",
    "normalize_style", "ShadeError", "ImageError", "ImageTooLarge", "ModelNotFound", "DeviceUnavailable",
    "AnchorNotFound", "StyleNotFound", "OptionsError", "Cancelled", "Verdict", "verdict", "next_intensity",
    "available_encoders", "expand_encoders", "load_encoder", "missing_encoders", "resolve_device", "register",
    "pull_model", "ImageFacts", "inspect_image", "load_image", "decode_rgb", "write_new_file", "output_name",
    "Fingerprint", "fingerprint", "fingerprint_image", "small_copy", "best_match", "Preview", "sheet", "Checkpoint",
    "run_bench", "run_speed", "bench_table", "format_speed", "frontier_plot", "crop_sheet", "peak_above_idle",
    "synthetic_png", "experiment",
    "available_label_models", "load_label_model", "fetch_label_model", "LabelObjective", "label_report",
    "run_label_bench", "label_bench_table", "parse_channels", "resolve_channels",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'shading' has no attribute {name!r}")
    if name == "experiment":          # the experiment is a package of its own: export it whole
        value = importlib.import_module(f".{module}", __name__)
    else:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
