"""Is this file an image Shade can shade? The one validator, used by the daemon's uploads
and watched folder before a job is queued. Decided from the bytes with Pillow, never from
the file name or a declared content type. The pixel cap is checked from the header, before
any pixel is decoded, so a decompression bomb costs nothing. Torch-free to import."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .errors import ImageError, ImageTooLarge
from .options import FORMATS

_SUPPORTED = "PNG, JPEG or WebP"


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
        return FORMATS[self.format][1][0]


def inspect_image(path: Path, max_pixels: int, *, decode: bool = True, what: str = "the file") -> ImageFacts:
    """Sniff, check the pixel count from the header, then (optionally) decode fully so a
    truncated file is caught here rather than in the middle of a job. Raises ``ImageError``
    (``ImageTooLarge`` over ``max_pixels``) with a message saying what to do."""
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise ImageError(f"{what} cannot be read: {exc.strerror or exc}") from None
    if size == 0:
        raise ImageError(f"{what} is empty (0 bytes); send a {_SUPPORTED} image")
    try:
        with warnings.catch_warnings():
            # Our own cap is checked from the header before decoding, so Pillow's "could be a
            # decompression bomb" warning below its hard limit is only noise here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                fmt = (im.format or "").upper()
                if fmt not in FORMATS:
                    raise ImageError(f"{what} is a {fmt or 'unknown'} image; Shade shades {_SUPPORTED} images")
                width, height = im.size
                if width <= 0 or height <= 0:
                    raise ImageError(f"{what} has no pixels ({width}x{height})")
                if width * height > max_pixels:
                    raise ImageTooLarge(f"{what} is {width}x{height} = {width * height / 1e6:.1f} megapixels; the "
                                        f"limit is {max_pixels / 1e6:.1f} megapixels (setting max_pixels): "
                                        "downscale it first")
                if getattr(im, "n_frames", 1) > 1:
                    raise ImageError(f"{what} is animated ({im.n_frames} frames); Shade shades still images only")
                mode = im.mode
                if decode:
                    im.load()
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"{what} declares far more pixels than the limit of {max_pixels / 1e6:.1f} megapixels "
                            "(setting max_pixels); downscale it first") from None
    except UnidentifiedImageError:
        raise ImageError(f"{what} is not an image Shade can read; send a {_SUPPORTED} image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{what} is damaged or incomplete ({exc}); export it again and retry") from None
    return ImageFacts(fmt, width, height, mode)
