"""The dashboard tests' part of the test library: logging in through a one-time link, and
independent re-measures (written here, not taken from shading/) of what the dashboard
shows: the trainer's input, the seeded random decoder's output, a posted copy's latent
ratio."""

from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

REBIND_HOST = "rebind.test"     # the browser tests resolve it to 127.0.0.1 (a DNS-rebinding stand-in)


def login_url(daemon, view: str | None = None) -> str:
    """A one-time login link from the running daemon (the API token asks for it)."""
    import json

    body = json.dumps({"view": view} if view else {}).encode()
    status, reply = daemon.request("POST", "/v1/dashboard/link", body, {"Content-Type": "application/json"})
    assert status == 200, reply
    return reply["url"]


def rgb_of(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def half_jpeg(data: bytes, quality: int = 80) -> bytes:
    """What a platform might serve: half the size, re-saved as JPEG ``quality``."""
    img = Image.open(io.BytesIO(data)).convert("RGB")
    img = img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def trainer_input(rgb: np.ndarray, short: int) -> torch.Tensor:
    """PIL bicubic to the short side ``short``, both sides rounded to multiples of 8."""
    h, w = rgb.shape[:2]
    scale = short / min(h, w)
    vh, vw = max(8, int(round(h * scale / 8)) * 8), max(8, int(round(w * scale / 8)) * 8)
    small = np.asarray(Image.fromarray(rgb).resize((vw, vh), Image.Resampling.BICUBIC))
    return torch.from_numpy(small.copy()).permute(2, 0, 1)[None].float() / 255


def random_pair(model_dir):
    """The seeded random encoder, and its decoder built by hand from the documented seed
    (random.json's seed + 1) and shape."""
    from shading.models.encoders import REGISTRY
    from shading.models.taesd import make_decoder

    encoder = REGISTRY["random-tiny"].load(model_dir / "random-tiny" / "random.json")
    state = torch.random.get_rng_state()
    torch.manual_seed(0 + 1)
    decoder = make_decoder(4, False).eval()
    torch.random.set_rng_state(state)
    return encoder, decoder


def decoded_view(rgb: np.ndarray, encoder, decoder, short: int) -> np.ndarray:
    with torch.no_grad():
        out = decoder(encoder(trainer_input(rgb, short))).clamp(0, 1)[0].mul(255).round().byte()
    return out.permute(1, 2, 0).numpy()


def posted_ratio(original: np.ndarray, posted: np.ndarray, anchor: np.ndarray, encoder, short: int) -> float:
    """|E(posted) - z_t| / |E(original) - z_t| at the trainer's centre crop, z_t the latent of
    the anchor at the same crop (resized to cover the original's view, centre-cropped)."""
    def crop(rgb):
        x = trainer_input(rgb, short)
        h, w = x.shape[-2:]
        top, left = (h - short) // 2, (w - short) // 2
        return x[..., top:top + short, left:left + short], (h, w)

    xo, shape = crop(original)
    xp, _ = crop(posted)
    a = torch.from_numpy(anchor.copy()).permute(2, 0, 1)[None].float() / 255
    scale = max(shape[0] / a.shape[-2], shape[1] / a.shape[-1])
    size = (max(shape[0], int(np.ceil(a.shape[-2] * scale))), max(shape[1], int(np.ceil(a.shape[-1] * scale))))
    big = F.interpolate(a, size=size, mode="bilinear", align_corners=False, antialias=scale < 1)
    t, l_ = (size[0] - shape[0]) // 2, (size[1] - shape[1]) // 2
    view = big[..., t:t + shape[0], l_:l_ + shape[1]]
    t, l_ = (shape[0] - short) // 2, (shape[1] - short) // 2
    xa = view[..., t:t + short, l_:l_ + short]
    with torch.no_grad():
        zt = encoder(xa)
        return float((encoder(xp) - zt).norm() / (encoder(xo) - zt).norm())
