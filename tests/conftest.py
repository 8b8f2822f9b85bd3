"""Shared fixtures: the real weights (strength and visibility tests only), the seeded random
encoder every other test runs on, the test images and small anchor libraries.

Tests that need the weights in ../shared/models (or SHADE_MODEL_DIR) or the paintings in
../shared/images skip with the reason when those are absent; in CI they run. The helpers
live in the test library, tests/shadetest/.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shadetest import REAL_MODEL_DIR, SHARED, WEIGHTS_REASON, make_random_model_dir

IMAGES_DIR = SHARED / "images" if (SHARED / "images").is_dir() else None


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The real weights: for the tests that measure protection or visibility."""
    if REAL_MODEL_DIR is None:
        pytest.skip(WEIGHTS_REASON)
    return REAL_MODEL_DIR


@pytest.fixture(scope="session")
def plumbing_model_dir(tmp_path_factory) -> Path:
    """A model folder with only the seeded random-weight encoder ``random-tiny``: for the
    tests of everything around the optimizer, which then run without ../shared."""
    return make_random_model_dir(tmp_path_factory.mktemp("random-models"))


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
