"""Auditing a posted copy: did the protection survive the platform?

A platform resizes, crops and recompresses what it serves. The copy is matched to its
original by perceptual hashes (``imagehash``: a DCT hash of the whole picture, which
survives resizing and recompression, and a crop-resistant hash of its segments, which
survives cropping), the platform's treatment is read from the copy (size, format, the JPEG
quality estimated from its quantization tables), and the latent ratio of the copy is
measured at the trainer's view against the job's target, the way ``protect`` measures the
file it writes (``metrics.RatioMeter``).
"""

from __future__ import annotations

import io
import statistics
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

import imagehash
import numpy as np
from PIL import Image

from ..io.imageio import jpeg_quality
from .metrics import RatioMeter

FINGERPRINT_SIDE = 1024         # pictures are hashed at most this large (the hashes look coarser still)
PHASH_MATCH_BITS = 12           # of 64: at most this many differing bits is the same picture
CROP_MIN_SEGMENTS = 2           # crop-resistant hash: segments that must match
SURVIVED_MARGIN = 0.05          # within this of the shaded file's own ratio: nothing was lost


@dataclass(frozen=True)
class Fingerprint:
    phash: str                  # 64-bit DCT hash, hex
    segments: str               # crop-resistant multi-hash, as imagehash writes it

    def to_dict(self) -> dict[str, str]:
        return {"phash": self.phash, "segments": self.segments}


def fingerprint(rgb: np.ndarray) -> Fingerprint:
    return fingerprint_image(Image.fromarray(rgb))


def fingerprint_image(img: Image.Image) -> Fingerprint:
    """The fingerprints of a picture, taken on a copy at most FINGERPRINT_SIDE pixels large."""
    img = img.convert("RGB")
    if max(img.size) > FINGERPRINT_SIDE:
        img.thumbnail((FINGERPRINT_SIDE, FINGERPRINT_SIDE), Image.Resampling.LANCZOS)
    return Fingerprint(str(imagehash.phash(img)), str(imagehash.crop_resistant_hash(img, min_segment_size=100)))


def small_copy(source: Any, side: int = FINGERPRINT_SIDE) -> Image.Image:
    """An image file (a path or bytes) decoded, upright (EXIF orientation), RGB and at most
    ``side`` pixels large, without holding more than one full-size copy (JPEGs decode
    reduced to begin with)."""
    from PIL import ImageOps

    img = Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
    img.draft("RGB", (side, side))
    img = ImageOps.exif_transpose(img)
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGBA").convert("RGB") if "A" in img.mode or img.mode == "P" else img.convert("RGB")
    img.thumbnail((side, side), Image.Resampling.LANCZOS)
    return img.convert("RGB")


def _phash_bits(a: str, b: str) -> int:
    return int(imagehash.hex_to_hash(a) - imagehash.hex_to_hash(b))


def _segments_matched(a: str, b: str) -> int:
    try:
        ha, hb = imagehash.hex_to_multihash(a), imagehash.hex_to_multihash(b)
    except (ValueError, IndexError):
        return 0
    matches, _ = ha.hash_diff(hb, hamming_cutoff=10)
    return int(matches)


@dataclass(frozen=True)
class Match:
    key: str                    # the candidate's key (a history entry's id)
    phash_bits: int
    segments: int               # matching segments of the crop-resistant hash
    how: str                    # "whole picture" or "segments (cropped copy)"


def best_match(copy: Fingerprint, candidates: Iterable[tuple[str, Sequence[Fingerprint]]]) -> Optional[Match]:
    """The candidate whose fingerprints (e.g. of its original and of its shaded file) are
    closest to ``copy``'s: by the whole-picture hash when it is within PHASH_MATCH_BITS,
    else by the most matching segments (at least CROP_MIN_SEGMENTS); None when none is."""
    whole: Optional[Match] = None
    cropped: Optional[Match] = None
    for key, prints in candidates:
        for fp in prints:
            bits = _phash_bits(copy.phash, fp.phash)
            if bits <= PHASH_MATCH_BITS and (whole is None or bits < whole.phash_bits):
                whole = Match(key, bits, 0, "whole picture")
        if whole is None or whole.key != key:
            segs = max((_segments_matched(copy.segments, fp.segments) for fp in prints), default=0)
            if segs >= CROP_MIN_SEGMENTS and (cropped is None or segs > cropped.segments):
                bits = min(_phash_bits(copy.phash, fp.phash) for fp in prints)
                cropped = Match(key, bits, segs, "segments (cropped copy)")
    return whole or cropped


def detect(data: bytes) -> dict[str, Any]:
    """What the platform made of the image: format, size, bytes and, for a JPEG, the quality
    its quantization tables correspond to (IJG scale, 1-100) and the chroma subsampling."""
    img = Image.open(io.BytesIO(data))
    out: dict[str, Any] = {"format": img.format, "width": img.width, "height": img.height, "bytes": len(data),
                           "jpeg_quality": None, "subsampling": None}
    if img.format == "JPEG":
        out["jpeg_quality"] = jpeg_quality(getattr(img, "quantization", None) or {})
        try:
            from PIL import JpegImagePlugin

            out["subsampling"] = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}.get(JpegImagePlugin.get_sampling(img))
        except Exception:  # noqa: BLE001 - informative only
            out["subsampling"] = None
    return out


def posted_ratios(original: np.ndarray, posted: np.ndarray, encoders: Sequence[Any], builder: Any,
                  view_size: int, device: str = "cpu") -> list[float]:
    """The latent ratio of the posted copy, one per encoder: |E(posted) - z_t| / |E(original) - z_t|
    at the trainer's centre crop (each image resized to the short side ``view_size`` with
    PIL's bicubic filter), z_t the target latent of the original's crop."""
    return RatioMeter(encoders, builder, original, view_size, device).ratios(posted)


def audit_verdict(ratio: float, threshold: float, shaded_ratio: Optional[float]) -> dict[str, Any]:
    """Plain words for a posted copy's ratio: ``threshold`` is the intensity's self-check
    threshold, ``shaded_ratio`` what the file had when Shade wrote it."""
    if ratio <= threshold:
        survived, words = "yes", "protection survived: the model still sees the target in the posted copy"
    elif ratio < 0.97:
        survived, words = "weakened", ("protection weakened: the posted copy still pulls towards the target, "
                                       "but less than the intensity asks; post a larger or less compressed file, "
                                       "or shade at a higher intensity")
    else:
        survived, words = "no", ("protection did not survive: the model sees the posted copy like the original; "
                                 "this platform's processing removed it")
    lost = None if shaded_ratio is None else round(ratio - float(shaded_ratio), 5)
    if lost is not None and lost <= SURVIVED_MARGIN and survived != "yes":
        words += " (the shaded file itself was already this weak)"
    return {"survived": survived, "verdict": words, "ratio_change": lost}


def mean(values: Sequence[float]) -> float:
    return round(statistics.fmean(values), 5)
