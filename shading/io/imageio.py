"""Reading images faithfully and writing the shaded result without losing anything.

Reading applies the EXIF orientation, separates alpha (which shading never touches),
and keeps the ICC profile. Writing keeps the format (PNG->PNG, JPEG->JPEG at the original's
estimated quality and chroma subsampling, WebP->WebP), drops GPS/location data, and is atomic: a
temporary file beside the destination is linked into place, so an existing file (the
original above all) is never overwritten.
"""

from __future__ import annotations

import io
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

from ..errors import ImageError, ImageTooLarge
from ..options import FORMATS, format_extension
from .imagecheck import is_high_bit_depth, size_problem

# Formats written back as themselves: the one format table (``options.FORMATS``), the formats
# the CLI and the daemon accept; anything else readable becomes PNG (lossless).
KEPT_FORMATS = frozenset(FORMATS)
EXTENSIONS = {fmt: format_extension(fmt) for fmt in FORMATS}
JPEG_QUALITY = 95                 # JPEG without readable tables (and WebP): quality 95, 4:4:4
JPEG_QUALITY_RANGE = (60, 95)     # a JPEG is written at its original's quality, within these
# The IJG (libjpeg) base tables in natural order; quality q scales them (see jpeg_quality).
_IJG_LUMA = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
             14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
             49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)
_IJG_CHROMA = (17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
               47, 66, 99, 99, 99, 99, 99, 99, *([99] * 32))
_GPS_IFD = 0x8825
_ORIENTATION = 0x0112


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
    except (OSError, SyntaxError, ValueError) as exc:   # a header that starts right, then junk
        raise ImageError(f"{name}: the image is damaged or truncated ({exc}); re-export it") from None


def _ijg_table(base, quality: int) -> np.ndarray:
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip((np.asarray(base) * scale + 50) // 100, 1, 255)


def jpeg_quality(quantization: dict) -> Optional[int]:
    """The IJG quality (1-100) whose scaled standard tables come closest to a JPEG's
    quantization tables (Pillow's ``img.quantization``, natural order); None without tables.
    Encoders with their own tables (Photoshop, cameras) get the nearest IJG quality."""
    tables = [np.asarray(quantization[k], dtype=np.float64) for k in sorted(quantization)[:2]]
    if not tables or any(t.size != 64 for t in tables):
        return None
    bases = (_IJG_LUMA, _IJG_CHROMA)[:len(tables)]
    # Compare in log space, so the small entries (low frequencies, what is seen) count as much as the large ones.
    errors = [sum(float(np.abs(np.log(_ijg_table(b, q)) - np.log(np.maximum(t, 1))).sum())
                  for b, t in zip(bases, tables)) for q in range(1, 101)]
    return int(np.argmin(errors)) + 1


def _jpeg_info(img: Image.Image) -> dict[str, Any]:
    """What writing the result needs to keep the original JPEG's quality and chroma layout."""
    out: dict[str, Any] = {}
    quality = jpeg_quality(getattr(img, "quantization", None) or {})
    if quality is not None:
        out["jpeg_quality"] = quality
    sampling = JpegImagePlugin.get_sampling(img)
    if sampling >= 0:
        out["jpeg_subsampling"] = sampling      # 0: 4:4:4, 1: 4:2:2, 2: 4:2:0
    if img.info.get("progressive") or img.info.get("progression"):
        out["jpeg_progressive"] = True
    return out


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
    if is_high_bit_depth(img):
        raise ImageError(f"{name}: 16-bit and float images are not supported; export it as 8-bit PNG or JPEG")
    if size_problem(width, height):
        raise ImageError(f"{name}: {size_problem(width, height)}")
    fmt = (img.format or "PNG").upper()
    jpeg = _jpeg_info(img) if fmt == "JPEG" else {}
    try:
        img.load()
        exif = img.getexif()
        img = ImageOps.exif_transpose(img)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{name}: the image is damaged or truncated ({exc}); re-export it") from None
    info: dict[str, Any] = dict(jpeg)
    if img.mode == "CMYK":                  # print files: to sRGB through their own profile, then shaded
        img = _cmyk_to_srgb(img)
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


def _cmyk_to_srgb(img: Image.Image) -> Image.Image:
    """A CMYK image as sRGB, converted through its embedded ICC profile (Pillow's plain
    formula where it has none or the profile cannot be used); it carries the sRGB profile."""
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    out = None
    icc = img.info.get("icc_profile")
    if icc:
        try:
            out = ImageCms.profileToProfile(img, ImageCms.ImageCmsProfile(io.BytesIO(icc)), srgb, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            out = None
    if out is None:
        out = img.convert("RGB")
    out.info = {k: v for k, v in img.info.items() if k != "icc_profile"}
    out.info["icc_profile"] = srgb.tobytes()
    return out


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
        # The original's quality and chroma subsampling, so the result is about its size (a
        # 4:2:0 original written at 95 and 4:4:4 came out ~60 % larger); where the input had
        # no JPEG tables, quality 95 with full-resolution chroma. Measurements are taken on
        # these very bytes, so the protection reported is what survives this encoding.
        low, high = JPEG_QUALITY_RANGE
        quality = info.get("jpeg_quality")
        kwargs.update(quality=JPEG_QUALITY if quality is None else min(high, max(low, int(quality))),
                      subsampling=info.get("jpeg_subsampling", 0), optimize=True)
        if info.get("jpeg_progressive"):
            kwargs["progressive"] = True
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
    """The result's file: the very bytes it was measured on, where ``protect`` kept them."""
    if getattr(result, "data", None):
        return result.data
    return encode(result.image, result.format, result.info)


def lossless(fmt: str) -> bool:
    """Whether a file written as ``fmt`` decodes to exactly the pixels it was given."""
    return fmt == "PNG"


def as_written_rgb(image: Image.Image) -> np.ndarray:
    """The pixels a lossless file of ``image`` decodes to (as ``decode_rgb`` gives them),
    without encoding it: a 12 MP PNG takes seconds to compress."""
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


def decode_rgb(data: bytes) -> np.ndarray:
    """An encoded file's pixels as H x W x 3 uint8 (grey replicated, alpha dropped)."""
    img = Image.open(io.BytesIO(data))
    img.load()
    return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))    # no second full-size copy


def _new_temporary(folder: Path) -> tuple[int, str]:
    """A new hidden ``.shade-*.part`` file in ``folder``, opened for writing, mode 0666 & ~umask."""
    for _ in range(100):
        tmp = os.path.join(folder, f".shade-{secrets.token_hex(8)}.part")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:
            continue
    raise ImageError(f"{folder}: cannot create a temporary file there")


def write_new_file(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; fail with ImageError if ``path`` already exists."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        raise ImageError(f"{path}: already exists; Shade never overwrites files. Choose another output folder")
    # Created with mode 0666 for the kernel to apply the user's umask: results get the
    # permissions any new file would (mkstemp's would be 0600), with no umask probe.
    fd, tmp = _new_temporary(path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
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
