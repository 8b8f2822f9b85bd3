"""Rebuild Shade's built-in anchors and reference styles (shading/assets/).

    .venv/bin/python scripts/build_assets.py [PAINTINGS_DIR]

Anchors come from scikit-image's sample photos (each public domain or CC0, as its
docstring in skimage/data/_fetchers.py says; shading/assets/NOTICE records each),
styles from the public-domain paintings in ../shared/images. Every image is downscaled
to a 512-pixel short side and stored as JPEG quality 90, so the package stays small.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "shading" / "assets"
SHORT_SIDE = 512

# concept name -> scikit-image sample function
ANCHORS = {
    "cat": "chelsea", "astronaut": "astronaut", "coffee": "coffee", "rocket": "rocket",
    "galaxy": "hubble_deep_field", "grass": "grass", "gravel": "gravel", "bricks": "brick",
    "horse": "horse", "photographer": "camera",
}
# style name -> painting file in ../shared/images
STYLES = {
    "van-gogh": "starry_night.jpg", "munch": "the_scream.jpg", "turner": "shipwreck.jpg",
    "matisse": "woman-with-hat-matisse.jpg",
}


def small(img: Image.Image) -> Image.Image:
    img = img.convert("L" if img.mode in ("L", "1") else "RGB")   # grey stays one channel
    w, h = img.size
    scale = SHORT_SIDE / min(w, h)
    if scale < 1:
        img = img.resize((round(w * scale), round(h * scale)), Image.Resampling.LANCZOS)
    return img


def save(img: Image.Image, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    small(img).save(dest, format="JPEG", quality=90, optimize=True)
    print(f"{dest.relative_to(ROOT)}: {dest.stat().st_size // 1024} KiB")


def main(argv: list[str]) -> int:
    from skimage import data

    paintings = Path(argv[0]) if argv else ROOT.parent / "shared" / "images"
    for concept, func in ANCHORS.items():
        arr = getattr(data, func)()
        if arr.dtype == bool:
            arr = np.where(arr, 0, 255).astype(np.uint8)   # the horse: a black silhouette on white
        save(Image.fromarray(arr), ASSETS / "anchors" / f"{concept}.jpg")
    for style, name in STYLES.items():
        save(Image.open(paintings / name), ASSETS / "styles" / f"{style}.jpg")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
