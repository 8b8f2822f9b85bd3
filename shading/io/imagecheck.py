"""Is this file an image Shade can shade? The one validator, used by the daemon's uploads
and watched folder before a job is queued. Decided from the bytes with Pillow, never from
the file name or a declared content type. The pixel cap is checked from the header, before
any pixel is decoded, so a decompression bomb costs nothing. Torch-free to import."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ..errors import ImageError, ImageTooLarge
from ..options import FORMATS

_SUPPORTED = "PNG, JPEG or WebP"
# Smaller images, or longer strips, are refused: a trainer scales the short side to its view
# (512 px), so a 10000x1 strip would become a 5-gigapixel view, and below 16 px the core's
# filters have nothing to work on.
MIN_SIDE = 16
MAX_ASPECT = 32
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def size_problem(width: int, height: int) -> str | None:
    """Why an image of this size cannot be shaded (None when it can)."""
    if min(width, height) < MIN_SIDE:
        return (f"is {width}x{height} pixels; Shade needs at least {MIN_SIDE} pixels on each side: send the "
                "image at a larger size")
    if max(width, height) > MAX_ASPECT * min(width, height):
        return (f"is {width}x{height} pixels, more than {MAX_ASPECT} times longer than wide; Shade shades images "
                f"up to {MAX_ASPECT}:1 (a trainer scales the short side to 512 pixels): crop it or split it first")
    return None


def is_high_bit_depth(img: Image.Image) -> bool:
    """16-bit (or float) samples, which Pillow would otherwise quietly read as 8-bit RGB."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F") or img.info.get("bits", 8) > 8:
        return True
    return any(";16" in str(getattr(tile, "args", "")) for tile in (getattr(img, "tile", None) or []))


def png_is_complete(path: Path) -> bool:
    """Whether the PNG's chunks run, intact in length, up to its IEND end marker (a PNG cut
    off after its image data still decodes; only the marker says it is whole)."""
    with open(path, "rb") as fh:
        if fh.read(8) != _PNG_SIGNATURE:
            return False
        total = os.fstat(fh.fileno()).st_size
        pos = 8
        while pos + 12 <= total:
            fh.seek(pos)
            head = fh.read(8)
            length, kind = int.from_bytes(head[:4], "big"), head[4:]
            if kind == b"IEND":
                return True
            pos += 12 + length
        return False


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
    except FileNotFoundError:
        raise ImageError(f"{what}: no such file; check the path") from None
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
                problem = size_problem(width, height)
                if problem:
                    raise ImageError(f"{what} {problem}")
                if is_high_bit_depth(im):
                    raise ImageError(f"{what} has 16 bits per channel; Shade shades 8-bit images (the result "
                                     "would silently lose the extra depth): export it as an 8-bit PNG or a JPEG")
                mode = im.mode
                if decode:
                    im.load()
                if fmt == "PNG" and not png_is_complete(Path(path)):
                    raise ImageError(f"{what} is incomplete (its PNG end marker, IEND, is missing): wait until it "
                                     "is fully written, or export it again")
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
