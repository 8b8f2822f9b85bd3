"""Errors of the shading core. Each message says what went wrong and what to do."""

from __future__ import annotations


class ShadeError(Exception):
    """Base of every error the core raises on purpose. ``code`` is a stable short name."""

    code = "shade_error"


class ImageError(ShadeError):
    """The input is not an image Shade can read (missing, not an image, truncated, unsupported)."""

    code = "bad_image"


class ImageTooLarge(ImageError):
    code = "image_too_large"


class ModelNotFound(ShadeError):
    code = "model_not_found"


class DeviceUnavailable(ShadeError):
    """The asked-for device (``--device``, the ``device`` setting) is unknown or this PyTorch cannot use it."""

    code = "device_unavailable"


class AnchorNotFound(ShadeError):
    code = "anchor_not_found"


class StyleNotFound(ShadeError):
    """A cloak/both style name that is neither the user's nor a built-in reference style."""

    code = "style_not_found"


class OptionsError(ShadeError, ValueError):
    code = "bad_options"


class Cancelled(ShadeError):
    """Raised from a progress callback to stop a running job; nothing is written."""

    code = "cancelled"
