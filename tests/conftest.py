"""Shared fixtures: where the real weights and images are, and small test images.

Tests that need the weights in ../shared/models (or SHADE_MODEL_DIR) or the images in
../shared/images skip with the reason when those folders are absent; in CI they run.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def _model_dir() -> Path | None:
    env = os.environ.get("SHADE_MODEL_DIR")
    for candidate in ([Path(env)] if env else []) + [SHARED / "models"]:
        if (candidate / "taef2" / "taef2_encoder.pth").is_file():
            return candidate.resolve()
    return None


MODEL_DIR = _model_dir()
IMAGES_DIR = SHARED / "images" if (SHARED / "images").is_dir() else None


@pytest.fixture(scope="session")
def model_dir() -> Path:
    if MODEL_DIR is None:
        pytest.skip("needs the real taef2 weights: ../shared/models is absent and SHADE_MODEL_DIR is unset")
    return MODEL_DIR


@pytest.fixture(scope="session")
def shared_images() -> Path:
    if IMAGES_DIR is None:
        pytest.skip("needs the test paintings: ../shared/images is absent")
    return IMAGES_DIR


@pytest.fixture(scope="session")
def cat_array() -> np.ndarray:
    from skimage import data

    return data.chelsea()


@pytest.fixture(scope="session")
def anchor_dir(tmp_path_factory, cat_array) -> Path:
    """An anchor library holding one concept, ``cat`` (scikit-image's chelsea)."""
    folder = tmp_path_factory.mktemp("anchors")
    Image.fromarray(cat_array).save(folder / "cat.png")
    return folder


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A real photo (scikit-image's astronaut), 512 x 512 RGB."""
    from skimage import data

    return data.astronaut()
