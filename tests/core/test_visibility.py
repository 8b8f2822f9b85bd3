"""Invisible first: the shaded file keeps its visibility target, energy stays off smooth
regions, no ghost of the target, and what is reported is what the written file measures.
All on the real taef2 weights (visibility is only meaningful on a real optimizer)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from ssimulacra2 import compute_ssimulacra2

from shading import INTENSITIES, ProtectOptions, protect
from shading.measure.metrics import visibility
from shading.measure.perceptual import score_arrays
from shading.pixels.mask import blur, luma, masking_map
from shading.pixels.views import cover, to_tensor


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _opts(model_dir, anchor_dir, **kw) -> ProtectOptions:
    base = dict(target="cat", anchor_dirs=(anchor_dir,), model_dirs=(model_dir,), view_size=256, seed=11,
                quality="fast", self_check=False)
    base.update(kw)
    return ProtectOptions(**base)


def test_our_ssimulacra2_is_the_published_metric(photo):
    """The torch score the optimizer budgets against equals the PyPI package's."""
    rng = np.random.default_rng(0)
    noisy = np.clip(photo + rng.normal(0, 3, photo.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "JPEG", quality=70)
    for other in (noisy, _decoded(buf.getvalue())):
        ref = compute_ssimulacra2(io.BytesIO(_png(photo)), io.BytesIO(_png(other)))
        assert score_arrays(photo, other) == pytest.approx(ref, abs=0.05)


def _half_smooth_half_textured() -> np.ndarray:
    """Left: a smooth gradient carrying mild JPEG noise; right: irregular texture."""
    h, w = 256, 512
    rng = np.random.default_rng(3)
    sky = np.linspace(150, 190, h)[:, None, None] * np.ones((1, w // 2, 1)) + np.array([-40, 0, 40])
    cells = rng.uniform(40, 220, (h // 4, w // 8, 3))
    texture = np.asarray(Image.fromarray(cells.astype(np.uint8)).resize((w // 2, h), Image.Resampling.BILINEAR))
    img = np.concatenate([sky, texture.astype(np.float64)], 1)
    img = np.clip(img + rng.normal(0, 1.0, img.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=85)
    return _decoded(buf.getvalue())


def test_smooth_half_gets_a_tenth_of_the_textured_energy_or_less(model_dir, anchor_dir):
    img = _half_smooth_half_textured()
    result = protect(_png(img), _opts(model_dir, anchor_dir, steps=6))
    shaded = _decoded(result.to_bytes())
    d2 = ((shaded.astype(np.float64) - img) ** 2).mean(-1)
    smooth, textured = d2[16:-16, 16:240].mean(), d2[16:-16, 272:-16].mean()
    assert textured > 0.5, "the texture must carry the perturbation"
    assert smooth <= textured / 10, (smooth, textured)


def test_sky_photo_keeps_its_visibility_at_the_default_intensity(model_dir, anchor_dir):
    """scikit-image's rocket: a large clear evening sky. The written file scores >= 78."""
    from skimage import data

    rocket = data.rocket()
    result = protect(_png(rocket), _opts(model_dir, anchor_dir, steps=8, quality="default", view_size=256))
    shaded = _decoded(result.to_bytes())
    ref = compute_ssimulacra2(io.BytesIO(_png(rocket)), io.BytesIO(_png(shaded)))
    assert ref >= INTENSITIES["default"].visibility, ref
    assert result.measurements["ssimulacra2"] == pytest.approx(ref, abs=0.05)
    seen = visibility(rocket, shaded)
    assert seen["lowpass_smooth_255"] <= 0.75, seen       # no more than a JPEG-85 re-save leaves
    assert seen["smooth_textured_ratio"] <= 0.25, seen
    assert not np.array_equal(shaded, rocket)


def _lowpass_luma(x: np.ndarray, sigma: float) -> np.ndarray:
    return blur(luma(to_tensor(x) if x.dtype == np.uint8 else torch.from_numpy(x).permute(2, 0, 1)[None].float()),
                sigma)[0, 0].numpy()


def test_no_ghost_of_the_anchor_in_the_perturbation(model_dir, anchor_dir, cat_array, shared_images):
    """What the eye reads as a shape is the change's coarse part (blurred at 8 px). Its
    correlation with the anchor as placed over the image (the cat's face, outlines and
    layout) stays under 0.15: for two unrelated fields at this smoothness, over this many
    pixels, the correlation's spread is about 0.05, so 0.15 is three of those; a change
    that paints the cat in (the old default did) scores far more."""
    painting = np.asarray(Image.open(shared_images / "shipwreck.jpg").convert("RGB"))
    result = protect(painting, _opts(model_dir, anchor_dir, steps=12, view_size=256, intensity="high"))
    shaded = _decoded(result.to_bytes())
    delta = (shaded.astype(np.float32) - painting) / 255
    placed = cover(to_tensor(cat_array), painting.shape[:2])[0].permute(1, 2, 0).numpy()
    a, b = _lowpass_luma(delta, 8.0).ravel(), _lowpass_luma(placed, 8.0).ravel()
    corr = float(np.corrcoef(a, b)[0, 1])
    assert abs(corr) < 0.15, corr
    # and the coarse part is tiny against the change itself
    assert np.sqrt((_lowpass_luma(delta, 8.0) ** 2).mean()) < 0.1 * np.sqrt((delta ** 2).mean())
    # Outlines survive a high-pass, so also: where the change is strong follows the
    # painting's own texture, not the anchor's edges.
    energy = blur(torch.from_numpy((delta ** 2).sum(-1))[None, None], 6.0)[0, 0].numpy().ravel()
    anchor_edges = _edges(placed).ravel()
    own_texture = masking_map(to_tensor(painting))[0, 0].numpy().ravel()
    with_anchor = float(np.corrcoef(energy, anchor_edges)[0, 1])
    with_own = float(np.corrcoef(energy, own_texture)[0, 1])
    assert with_anchor < 0.2 and with_own > with_anchor + 0.3, (with_anchor, with_own)


def _edges(rgb: np.ndarray) -> np.ndarray:
    """Gradient magnitude of the luminance blurred at 2 px, then blurred at 6 px: where a
    picture's outlines are."""
    y = blur(luma(torch.from_numpy(np.asarray(rgb, np.float32)).permute(2, 0, 1)[None]), 2.0)
    gx = torch.nn.functional.pad(y[..., :, 1:] - y[..., :, :-1], (0, 1, 0, 0))
    gy = torch.nn.functional.pad(y[..., 1:, :] - y[..., :-1, :], (0, 0, 0, 1))
    return blur((gx * gx + gy * gy).sqrt(), 6.0)[0, 0].numpy()


def test_reported_ratio_is_the_written_files(model_dir, anchor_dir, cat_array, shared_images):
    """An independent re-measure: the written JPEG decoded by PIL, resized as trainers do
    (PIL bicubic, short side to the view), centre-cropped, through taef2; the anchor
    placed over the same view. Equal to the JSON's figure within 0.01."""
    from shading.models.encoders import load_encoder

    src = shared_images / "woman-with-hat-matisse.jpg"
    view = 256
    # The anchor objective: its target is the anchor's own latent, which this re-measure builds.
    result = protect(src, _opts(model_dir, anchor_dir, steps=6, view_size=view, objective="anchor"))
    original = np.asarray(Image.open(src).convert("RGB"))
    shaded = _decoded(result.to_bytes())
    enc = load_encoder("taef2", "cpu", (model_dir,))

    def crop(rgb: np.ndarray) -> torch.Tensor:
        h, w = rgb.shape[:2]
        s = view / min(h, w)
        vh, vw = int(round(h * s / 8)) * 8, int(round(w * s / 8)) * 8
        img = np.asarray(Image.fromarray(rgb).resize((vw, vh), Image.Resampling.BICUBIC))
        top, left = (vh - view) // 2, (vw - view) // 2
        return to_tensor(img[top:top + view, left:left + view])

    with torch.no_grad():
        h, w = original.shape[:2]
        s = view / min(h, w)
        vh, vw = int(round(h * s / 8)) * 8, int(round(w * s / 8)) * 8
        anchor = cover(to_tensor(cat_array), (vh, vw))
        top, left = (vh - view) // 2, (vw - view) // 2
        z_anchor = enc(anchor[..., top:top + view, left:left + view])
        ratio = float((enc(crop(shaded)) - z_anchor).norm() / (enc(crop(original)) - z_anchor).norm())
    assert result.measurements["latent_ratio"] == pytest.approx(ratio, abs=0.01)
    assert ratio < 0.99


@pytest.mark.parametrize("intensity", list(INTENSITIES))
def test_each_preset_meets_its_visibility_on_the_bench_images(model_dir, anchor_dir, shared_images, intensity):
    from skimage import data

    images = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(shared_images.glob("*.jpg"))]
    images += [data.astronaut(), data.coffee(), data.rocket()]
    target = INTENSITIES[intensity].visibility
    for image in images:
        result = protect(image, _opts(model_dir, anchor_dir, steps=1, view_size=128, intensity=intensity))
        score = score_arrays(image, _decoded(result.to_bytes()))
        assert target <= score <= target + 3, (intensity, image.shape, score)


def test_a_user_given_visibility_is_met(model_dir, anchor_dir, photo):
    result = protect(photo, _opts(model_dir, anchor_dir, steps=2, visibility=90))
    assert 90 <= score_arrays(photo, _decoded(result.to_bytes())) <= 92


def test_the_scale_search_goes_on_while_nothing_met_the_target():
    """A pattern that turned far more visible per unit of energy during a run: from a start
    60 times too large, three tries do not reach a passing scale. The search goes on until one
    passes, instead of giving up at its floor, which would leave the image all but unshaded."""
    from shading.measure.perceptual import fit_scale

    def score(a: float) -> float:                 # SSIMULACRA2-like: the deficit grows as a power of a
        return 100.0 - 22.0 * (a / 0.001) ** 2.0

    scale, seen = fit_scale(score, 78.0, start=0.06, tolerance=0.5, max_evals=3)
    assert seen >= 78.0 and scale > 0.0005, (scale, seen)
