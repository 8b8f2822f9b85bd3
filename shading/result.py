"""What ``protect`` gives back: the shaded image, the bytes written and what was measured."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from PIL import Image

from .io.imageio import encode_image, save_image


@dataclass
class ProtectResult:
    """The shaded image at full size (same mode and size as the input) and what was measured.

    ``measurements`` keys: width, height, mode, target, encoders, steps, encoder_passes (forward
    and backward passes the optimizer followed back, over all encoders), resumed_from_step
    (the step a checkpoint resumed the optimization from; 0 for a fresh run), seconds, device,
    psnr, ssim, linf_255, latent_ratio (per-encoder mean at the trainer's 512 view),
    latent_ratio_jpeg85, latent_ratios (per encoder), weak (bool: the self-check found the
    protection below the intensity's threshold after a JPEG-85 round trip), self_check
    ("not needed"; "improved": its extra steps made the file stronger after JPEG 85; "no
    gain": they did not, and the pattern from before them was written).
    """

    image: Image.Image
    format: str                     # "PNG", "JPEG", "WEBP" ...: what ``save`` writes
    measurements: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)   # icc_profile, exif etc. kept for saving
    data: Optional[bytes] = None    # the encoded file the measurements were made on; what ``save`` writes

    def save(self, path: Union[str, Path]) -> Path:
        """Write atomically in the input's format; refuses to overwrite an existing file."""
        return save_image(self, Path(path))

    def to_bytes(self) -> bytes:
        return encode_image(self)
