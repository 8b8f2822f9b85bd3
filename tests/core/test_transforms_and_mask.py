import io

import numpy as np
import torch
from PIL import Image

from shading.optimize.attack import band_limit, interleave, tiled_views
from shading.pixels.mask import blur, luma, masking_map, smooth_and_textured
from shading.pixels.transforms import PostingSimulator, jpeg, rescale
from shading.pixels.views import cover, to_tensor, view_shape


def _pil_jpeg(array: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def test_differentiable_jpeg_matches_a_real_encoder(photo):
    x = to_tensor(photo[:256, :256])
    for q in (95, 75):
        ours = jpeg(x, q)[0].permute(1, 2, 0).numpy() * 255
        real = _pil_jpeg(photo[:256, :256], q).astype(np.float64)
        gap_real = np.abs(ours - real).mean()
        gap_none = np.abs(photo[:256, :256].astype(np.float64) - real).mean()
        assert gap_real < 0.6 * gap_none, (q, gap_real, gap_none)


def test_differentiable_jpeg_passes_gradients():
    x = torch.rand(1, 3, 32, 40, requires_grad=True)
    jpeg(x, 80).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_rescale_keeps_shape_and_loses_detail():
    x = torch.rand(1, 3, 64, 64)
    y = rescale(x, 0.5)
    assert y.shape == x.shape and float((y - x).abs().mean()) > 0.05


def test_simulator_crops_image_and_latent_together():
    sim = PostingSimulator(torch.Generator().manual_seed(3))
    x, z = torch.rand(1, 3, 128, 96), torch.rand(1, 4, 16, 12)
    upload = torch.rand(1, 3, 150, 110)
    changed = 0
    for _ in range(20):
        posting = sim.sample()
        after = posting.op(upload)          # at the upload's own size, before a trainer resizes it
        assert after.shape == upload.shape and 0 <= float(after.min()) and float(after.max()) <= 1
        changed += not torch.equal(after, upload)
        xt, zt = posting.shift(x, z)
        assert xt.shape[-2:] == (zt.shape[-2] * 8, zt.shape[-1] * 8)
    assert changed >= 10


def test_views_and_cover():
    assert view_shape(640, 1024, 512) == (512, 816)
    assert view_shape(1528, 1200, 512) == (648, 512)
    a = torch.rand(1, 3, 100, 300)
    assert cover(a, (64, 64)).shape[-2:] == (64, 64)


def _jpeg_noisy_gradient(h: int = 96, w: int = 96, quality: int = 80) -> torch.Tensor:
    """A smooth sky-like gradient carrying mild JPEG noise, as a camera or a platform leaves it."""
    ramp = np.linspace(90, 170, w)[None, :, None] * np.ones((h, 1, 3)) + np.array([0, 20, 60])
    rgb = np.clip(ramp + np.random.default_rng(1).normal(0, 1.2, (h, w, 3)), 0, 255).astype(np.uint8)
    return to_tensor(_pil_jpeg(rgb, quality))


def test_masking_map_is_zero_on_flat_colour_and_noisy_gradients_high_on_texture():
    flat = torch.full((1, 3, 96, 96), 0.6)
    assert float(masking_map(flat).max()) == 0
    # JPEG noise and grain at pixel scale are not texture: judged on the blurred luminance
    assert float(masking_map(_jpeg_noisy_gradient()).mean()) < 0.02
    cells = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    texture = torch.nn.functional.interpolate(cells, scale_factor=4, mode="bilinear")   # brush-stroke scale
    assert float(masking_map(texture)[..., 16:-16, 16:-16].mean()) > 0.6
    lines = torch.ones(1, 3, 96, 96)
    lines[..., ::24, :] = 0          # thin black lines on white paper: contrast, but lone edges
    lines[..., :, ::24] = 0
    m = masking_map(lines)[0, 0]
    far = torch.ones(96, 96, dtype=torch.bool)      # the paper 8 px or more from any line
    for k in range(0, 96, 24):
        far[max(0, k - 7):k + 8, :] = False
        far[:, max(0, k - 7):k + 8] = False
    assert float(m[far].mean()) < 0.05 and float(m[far].max()) < 0.2, (float(m[far].mean()), float(m[far].max()))
    assert float(m.mean()) < 0.35
    # faint texture (not smooth, too weak to mask much) still gets the floor
    faint = 0.5 + 0.25 * torch.nn.functional.interpolate(cells - 0.5, scale_factor=4, mode="bilinear")
    inner = masking_map(faint, floor=0.2)[..., 16:-16, 16:-16]
    assert float(inner.mean()) >= 0.18 and float(masking_map(flat, floor=0.2).max()) == 0


def test_smooth_and_textured_regions_ignore_pixel_noise():
    smooth, textured = smooth_and_textured(_jpeg_noisy_gradient())
    assert float(smooth.float().mean()) > 0.85 and not bool(textured.any())


def test_band_limit_removes_the_low_frequencies_and_blurs_colour():
    u = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    shape = torch.zeros(1, 3, 128, 128)
    shape[..., 32:96, 32:96] = 1.0                  # a large shape: what must never show
    p = band_limit(u + 5 * shape, low_cut=3.0, chroma_cut=1.0)
    # nothing coarse is left: blurred at 8 px the shape is gone, to well under 1 % of its size
    coarse = blur(p, 8.0)[..., 16:-16, 16:-16]
    assert float(coarse.abs().max()) < 0.05 * 5
    # colour (the residual after luminance) carries no pixel-scale detail: 4:2:0 would drop it
    chroma = p - luma(p)
    fine = chroma - blur(chroma, 1.0)
    assert float(fine.pow(2).mean()) < 0.25 * float(chroma.pow(2).mean())


def test_tiles_cover_the_large_views_centre_square():
    tiles = tiled_views((1384, 1024), 512)
    assert len(tiles) == 4 and {t.size for t in tiles} == {512}
    top0 = (1384 - 1024) // 2
    assert {(t.top, t.left) for t in tiles} == {(top0, 0), (top0, 512), (top0 + 512, 0), (top0 + 512, 512)}
    x = torch.rand(1, 3, 800, 591)
    assert tiles[0].look(x).shape[-2:] == (512, 512)
    assert len(tiled_views((512, 700), 512)) == 1      # a view no larger than a tile is one tile


def test_interleave_alternates_and_repeats_the_shorter_group():
    assert interleave([1, 2, 3, 4], ["a", "b"]) == [1, "a", 2, "b", 3, "a", 4, "b"]
    assert interleave([1, 2], []) == [1, 2]
