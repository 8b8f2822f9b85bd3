"""Is this file an image Shade can shade? Decided from its bytes with Pillow, never from
the file name or a declared content type. The pixel cap is checked from the header,
before any pixel is decoded, so a decompression bomb costs nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import warnings

from PIL import Image, UnidentifiedImageError

# Our own cap (max_pixels) is checked from the header before decoding, so Pillow's
# "could be a decompression bomb" warning below its hard limit is only noise here.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

FORMATS = {"PNG": ("image/png", ".png"), "JPEG": ("image/jpeg", ".jpg"), "WEBP": ("image/webp", ".webp")}
_SUPPORTED = "PNG, JPEG or WebP"


class ImageRejected(Exception):
    """Not an image Shade can shade; the message says why and what to do."""

    code = "bad_image"


class ImageTooBig(ImageRejected):
    code = "image_too_large"


@dataclass(frozen=True)
class ImageFacts:
    format: str
    width: int
    height: int
    mode: str

    @property
    def content_type(self) -> str:
        return FORMATS[self.format][0]

    @property
    def extension(self) -> str:
        return FORMATS[self.format][1]


def inspect_image(path: Path, max_pixels: int, *, decode: bool = True, what: str = "the file") -> ImageFacts:
    """Sniff, check the pixel count from the header, then (optionally) decode fully so a
    truncated file is caught here rather than in the middle of a job."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageRejected(f"{what} cannot be read: {exc.strerror or exc}") from None
    if size == 0:
        raise ImageRejected(f"{what} is empty (0 bytes); send a {_SUPPORTED} image")
    try:
        with Image.open(path) as im:
            fmt = (im.format or "").upper()
            if fmt not in FORMATS:
                raise ImageRejected(f"{what} is a {fmt or 'unknown'} image; Shade shades {_SUPPORTED} images")
            width, height = im.size
            if width <= 0 or height <= 0:
                raise ImageRejected(f"{what} has no pixels ({width}x{height})")
            if width * height > max_pixels:
                raise ImageTooBig(f"{what} is {width}x{height} = {width * height / 1e6:.1f} megapixels; the limit is "
                                  f"{max_pixels / 1e6:.1f} megapixels (setting max_pixels): downscale it first")
            if getattr(im, "n_frames", 1) > 1:
                raise ImageRejected(f"{what} is animated ({im.n_frames} frames); Shade shades still images only")
            mode = im.mode
            if decode:
                im.load()
    except ImageRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooBig(f"{what} declares far more pixels than the limit of {max_pixels / 1e6:.1f} megapixels "
                          "(setting max_pixels); downscale it first") from None
    except UnidentifiedImageError:
        raise ImageRejected(f"{what} is not an image Shade can read; send a {_SUPPORTED} image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected(f"{what} is damaged or incomplete ({exc}); export it again and retry") from None
    return ImageFacts(fmt, width, height, mode)
