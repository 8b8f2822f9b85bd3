"""Shade's shading core: perturb an image so image-model encoders see a chosen target.

    from shading import protect, ProtectOptions
    result = protect("dog.jpg", ProtectOptions(mode="poison", anchor="cat.png"))
    result.save("dog-shaded.jpg")

A pure library: no HTTP, no folder watching. Errors derive from ``ShadeError``.
The names below load on first use, so ``shading.options`` (the vocabulary) and
``shading.errors`` import without PyTorch.
"""

from __future__ import annotations

import importlib
import sys
import types
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
from .options import INTENSITIES, QUALITIES, ProtectOptions, ProtectResult

_LAZY = {
    "protect": "protect",
    "available_encoders": "encoders", "expand_encoders": "encoders", "load_encoder": "encoders",
    "missing_encoders": "encoders", "resolve_device": "encoders",
}

__all__ = [
    "protect", "ProtectOptions", "ProtectResult", "INTENSITIES", "QUALITIES",
    "available_encoders", "expand_encoders", "load_encoder", "missing_encoders", "resolve_device",
    "ShadeError", "ImageError", "ImageTooLarge", "ModelNotFound", "DeviceUnavailable", "AnchorNotFound", "StyleNotFound",
    "OptionsError", "Cancelled",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'shading' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        # Importing the submodule shading.protect sets the attribute ``protect`` to the module;
        # keep the function of that name instead, as the eager import used to.
        if name in _LAZY and isinstance(value, types.ModuleType) and hasattr(value, name):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
