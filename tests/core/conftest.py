"""Fixtures of the core tests that run ``protect`` on tiny images with the seeded encoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """Tiny images: one intra-op thread is several times faster than two on a shared box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    """80 x 96: gradients on the left, a textured right half where the pattern goes."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:80, 0:96]
    base = np.stack([xx * 2, yy * 3, (xx + yy)], -1).astype(float)
    base[:, 48:] += rng.normal(0, 40, (80, 48, 3))
    return base.clip(0, 255).astype(np.uint8)
