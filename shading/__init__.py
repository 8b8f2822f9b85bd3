"""Shade's shading core: perturb an image so image-model encoders see a chosen target.

    from shading import protect, ProtectOptions
    result = protect("dog.jpg", ProtectOptions(mode="poison", anchor="cat.png"))
    result.save("dog-shaded.jpg")

A pure library: no HTTP, no folder watching. Errors derive from ``ShadeError``.
"""

from .errors import (
    AnchorNotFound, Cancelled, ImageError, ImageTooLarge, ModelNotFound, OptionsError, ShadeError,
)
from .options import INTENSITIES, QUALITIES, ProtectOptions, ProtectResult
from .encoders import available_encoders, expand_encoders, load_encoder, missing_encoders, resolve_device
from .protect import protect

__all__ = [
    "protect", "ProtectOptions", "ProtectResult", "INTENSITIES", "QUALITIES",
    "available_encoders", "expand_encoders", "load_encoder", "missing_encoders", "resolve_device",
    "ShadeError", "ImageError", "ImageTooLarge", "ModelNotFound", "AnchorNotFound",
    "OptionsError", "Cancelled",
]
