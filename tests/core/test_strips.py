"""Full-size work in strips gives what the whole image in one piece gives (issue 14, item 5:
bounded memory): SSIMULACRA2 and its gradient, the reported figures, the masking map,
the working image and the rendered pattern. The strips are made small here, so each image
is cut into many; no weights needed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import shading.pixels.strips as strips
from shading.io.imageio import load_image
from shading.measure import metrics, perceptual
from shading.optimize.attack import perturbation
from shading.optimize.render import FullRender, full_mask, work_image
from shading.pixels.mask import masking_map
from shading.pixels.views import resize, to_tensor, to_uint8


def _photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Texture below, a smooth gradient above (both kinds of region the figures split)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    img = np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)).copy()
    img[: height // 2] = np.linspace(40, 220, width)[None, :, None].astype(np.uint8)
    return img


def _shaded(img: np.ndarray, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img.astype(int) + rng.integers(-6, 7, img.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def small_strips(monkeypatch):
    """About 64 rows per strip for the images below (several strips each)."""
    monkeypatch.setattr(strips, "STRIP_PIXELS", 64 * 300)


def test_ssimulacra2_in_strips_and_windows_equals_one_piece_score_and_gradient():
    img = _photo(203, 150)
    other = _shaded(img)
    whole = perceptual.score(img, other, budget=None)
    for budget in (150 * 16, 150 * 37, 150 * 100):
        assert perceptual.score(img, other, budget=budget) == pytest.approx(whole, abs=1e-9)
    ref = torch.from_numpy(img).permute(2, 0, 1)[None].double() / 255
    dis = (torch.from_numpy(other).permute(2, 0, 1)[None].double() / 255).requires_grad_(True)
    (expected,) = torch.autograd.grad(perceptual.ssimulacra2(ref, dis)[0], dis)
    reference = perceptual.Reference(ref, torch.float64, budget=150 * 16)
    assert reference.score(dis.detach()) == pytest.approx(whole, abs=1e-9)
    value, grad = reference.score_and_gradient(dis.detach())
    assert value == pytest.approx(whole, abs=1e-9)
    assert torch.allclose(grad, expected, rtol=1e-9, atol=1e-12)


def test_reported_figures_in_strips_equal_the_whole_image(small_strips, monkeypatch):
    img, other = _photo(300, 280), _shaded(_photo(300, 280))
    got = (metrics.visibility(img, other), metrics.psnr(img, other), metrics.ssim(img, other),
           metrics.rms_255(img, other), metrics.linf_255(img, other))
    monkeypatch.setattr(strips, "STRIP_PIXELS", 10 ** 9)          # one strip: the whole image
    want = (metrics.visibility(img, other), metrics.psnr(img, other), metrics.ssim(img, other),
            metrics.rms_255(img, other), metrics.linf_255(img, other))
    assert got[0].keys() == want[0].keys()
    for key in want[0]:
        assert got[0][key] == pytest.approx(want[0][key], abs=2e-4), key
    assert 0.1 < want[0]["smooth_fraction"] and 0.1 < want[0]["textured_fraction"]   # both kinds were there
    assert got[1:] == pytest.approx(want[1:], rel=1e-9)


def test_mask_working_image_and_render_in_strips_equal_one_piece(small_strips):
    img = _photo(333, 290)
    assert torch.allclose(full_mask(img).float(), masking_map(to_tensor(img)), atol=1e-3)    # held in float16
    shape = (168, 144)
    assert torch.allclose(work_image(img, shape), resize(to_tensor(img), shape), atol=1e-6)

    loaded = load_image(Image.fromarray(img))
    gen = torch.Generator().manual_seed(0)
    mid, fine = torch.randn(1, 3, *shape, generator=gen), torch.randn(1, 3, *shape, generator=gen)
    mask = full_mask(img)
    render = FullRender(loaded, mask, cap=16 / 255, grain_cap=1 / 255)
    render.set_pattern(mid, fine, 1.3, 0.9)
    size = img.shape[:2]
    want = to_uint8(to_tensor(img) + perturbation(resize(mid, size), resize(fine, size), mask, 0.02, 1.3, 0.9,
                                                  16 / 255, 1 / 255))
    got = render.pixels(0.02)
    assert np.abs(got.astype(int) - want).max() <= 1 and (got != want).mean() < 1e-3   # rounding only
    assert (got != img).mean() > 0.5


def test_a_released_mask_is_made_again_and_renders_the_same(small_strips):
    img = _photo(200, 150)
    loaded = load_image(Image.fromarray(img))
    made = []

    def make() -> torch.Tensor:
        made.append(1)
        return full_mask(img)
    render = FullRender(loaded, make, cap=16 / 255, grain_cap=1 / 255)
    gen = torch.Generator().manual_seed(1)
    render.set_pattern(torch.randn(1, 3, 100, 75, generator=gen), torch.randn(1, 3, 100, 75, generator=gen), 1.0, 1.0)
    first = render.pixels(0.02)
    render.release()
    assert render._mask is None                   # dropped while the optimizer or the figures run
    again = render.pixels(0.02)
    assert len(made) == 2 and np.array_equal(first, again)
    fixed = FullRender(loaded, full_mask(img), cap=16 / 255, grain_cap=1 / 255)
    fixed.release()                               # a given mask cannot be made again: it stays
    assert fixed._mask is not None
