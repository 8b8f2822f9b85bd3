"""Reading images faithfully and writing the shaded result without losing anything.

Reading applies the EXIF orientation, separates alpha (which shading never touches),
and keeps the ICC profile. Writing keeps the format (PNG->PNG, JPEG->JPEG at quality 95
with full-resolution chroma, WebP->WebP), drops GPS/location data, and is atomic: a
temporary file beside the destination is linked into place, so an existing file (the
original above all) is never overwritten.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError, ImageTooLarge

# Formats written back as themselves; anything else readable becomes PNG (lossless).
KEPT_FORMATS = {"PNG", "JPEG", "WEBP", "TIFF", "BMP"}
EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp"}
JPEG_QUALITY = 95
_GPS_IFD = 0x8825
_ORIENTATION = 0x0112
# mkstemp makes 0600 files; results get the permissions any new file would (read at import,
# while nothing else runs: os.umask can only be read by setting it).
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK


@dataclass
class LoadedImage:
    rgb: np.ndarray                   # H x W x 3 uint8, orientation applied
    alpha: Optional[np.ndarray]       # H x W uint8, or None
    grayscale: bool                   # the input was L/LA: write it back as such
    format: str                       # what the result is written as
    info: dict[str, Any] = field(default_factory=dict)
    name: str = "image"

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]


def _open(source, name: str) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        try:
            return Image.fromarray(source)
        except (TypeError, ValueError) as exc:
            raise ImageError(f"{name}: cannot use this array as an image ({exc}); give H x W x 3 uint8") from None
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ImageError(f"{name}: the file is empty (0 bytes); pick the image file itself")
        fp = io.BytesIO(source)
    else:
        path = Path(source)
        if not path.exists():
            raise ImageError(f"{path}: no such file; check the path")
        if path.is_dir():
            raise ImageError(f"{path}: is a folder; give image files")
        if path.stat().st_size == 0:
            raise ImageError(f"{path}: the file is empty (0 bytes); pick the image file itself")
        fp = path
    try:
        return Image.open(fp)
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image Shade can read; use PNG, JPEG or WebP") from None
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"{name}: refused as a decompression bomb ({exc})") from None


def load_image(source, max_pixels: int = 50_000_000, name: Optional[str] = None) -> LoadedImage:
    """Decode ``source`` (path, bytes or PIL image) into 8-bit RGB (+ alpha), checking limits first."""
    name = name or (str(source) if isinstance(source, (str, Path)) else "image")
    img = _open(source, name)
    width, height = img.size
    if width * height > max_pixels:
        raise ImageTooLarge(f"{name}: {width}x{height} is {width * height / 1e6:.1f} megapixels; Shade handles up "
                            f"to {max_pixels / 1e6:.0f} MP: downscale it first")
    if getattr(img, "n_frames", 1) > 1:
        raise ImageError(f"{name}: animated images are not supported; export one frame as PNG or JPEG")
    if img.mode == "CMYK":
        raise ImageError(f"{name}: CMYK images are not supported; convert it to RGB (sRGB) for the web first")
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F") or img.info.get("bits", 8) > 8:
        raise ImageError(f"{name}: 16-bit and float images are not supported; export it as 8-bit PNG or JPEG")
    fmt = (img.format or "PNG").upper()
    try:
        img.load()
        exif = img.getexif()
        img = ImageOps.exif_transpose(img)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{name}: the image is damaged or truncated ({exc}); re-export it") from None
    info: dict[str, Any] = {}
    if img.info.get("icc_profile"):
        info["icc_profile"] = img.info["icc_profile"]
    if exif:
        exif.pop(_GPS_IFD, None)
        if _ORIENTATION in exif:
            exif[_ORIENTATION] = 1
        info["exif"] = exif.tobytes()
    grayscale = img.mode in ("L", "LA", "1") or (img.mode == "P" and _palette_is_gray(img))
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    rgba = img.convert("RGBA") if has_alpha else img.convert("RGB")
    arr = np.asarray(rgba)
    alpha = arr[..., 3].copy() if has_alpha else None
    return LoadedImage(np.ascontiguousarray(arr[..., :3]), alpha, grayscale,
                       fmt if fmt in KEPT_FORMATS else "PNG", info, name)


def _palette_is_gray(img: Image.Image) -> bool:
    pal = np.asarray(img.getpalette() or [0, 0, 0]).reshape(-1, 3)
    return bool((pal[:, 0] == pal[:, 1]).all() and (pal[:, 1] == pal[:, 2]).all())


def compose(loaded: LoadedImage, rgb: np.ndarray) -> Image.Image:
    """The shaded RGB array back into the input's mode, with the original alpha untouched."""
    if loaded.grayscale:
        base = Image.fromarray(rgb).convert("L")
        if loaded.alpha is None:
            return base
        return Image.merge("LA", (base, Image.fromarray(loaded.alpha)))
    if loaded.alpha is None:
        return Image.fromarray(rgb)
    return Image.fromarray(np.dstack([rgb, loaded.alpha]), "RGBA")


def _save_kwargs(fmt: str, info: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if info.get("icc_profile"):
        kwargs["icc_profile"] = info["icc_profile"]
    if info.get("exif") and fmt in ("JPEG", "WEBP", "PNG", "TIFF"):
        kwargs["exif"] = info["exif"]
    if fmt == "JPEG":
        kwargs.update(quality=JPEG_QUALITY, subsampling=0)   # 4:4:4 keeps the chroma perturbation
    elif fmt == "WEBP":
        kwargs.update(quality=JPEG_QUALITY, method=4)
    elif fmt == "PNG":
        kwargs.update(compress_level=6)
    return kwargs


def encode(image: Image.Image, fmt: str, info: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    img = image
    if fmt == "JPEG" and img.mode in ("RGBA", "LA"):   # cannot happen for a JPEG input; be safe
        img = img.convert("RGB" if img.mode == "RGBA" else "L")
    img.save(buf, format=fmt, **_save_kwargs(fmt, info))
    return buf.getvalue()


def encode_image(result) -> bytes:
    return encode(result.image, result.format, result.info)


def write_new_file(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; fail with ImageError if ``path`` already exists."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        raise ImageError(f"{path}: already exists; Shade never overwrites files. Choose another output folder")
    fd, tmp = tempfile.mkstemp(prefix=".shade-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        try:
            os.link(tmp, path)          # atomic, and refuses to replace an existing file
        except FileExistsError:
            raise ImageError(f"{path}: already exists; Shade never overwrites files") from None
        except OSError:                 # file systems without hard links
            if path.exists():
                raise ImageError(f"{path}: already exists; Shade never overwrites files") from None
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def save_image(result, path: Path) -> Path:
    return write_new_file(path, encode_image(result))


def output_name(input_name: str, fmt: str) -> str:
    """``photo.jpeg`` -> ``photo.jpeg`` kept when the format is kept; else the format's extension."""
    p = Path(input_name)
    ext = p.suffix if p.suffix and _ext_matches(p.suffix, fmt) else EXTENSIONS.get(fmt, ".png")
    return p.stem + ext


def _ext_matches(suffix: str, fmt: str) -> bool:
    return Image.registered_extensions().get(suffix.lower()) == fmt
