import io

import numpy as np
import torch
from PIL import Image

from shading.attack import damp_luma, interleave, tiled_views
from shading.mask import budget_map
from shading.transforms import PostingSimulator, jpeg, rescale
from shading.views import cover, to_tensor, view_shape


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


def test_budget_is_low_on_flat_colour_and_line_art_high_on_texture():
    flat = torch.full((1, 3, 96, 96), 0.6)
    assert torch.allclose(budget_map(flat, 0.15), torch.full((1, 1, 96, 96), 0.15))
    texture = torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    assert float(budget_map(texture, 0.15).mean()) > 0.95
    lines = torch.ones(1, 3, 96, 96)
    lines[..., ::24, :] = 0          # thin black lines on white paper
    lines[..., :, ::24] = 0
    assert float(budget_map(lines, 0.15).mean()) < 0.45


def test_damp_luma_scales_luminance_and_keeps_colour():
    u = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    damped = damp_luma(u, 0.75)
    y, yd = (u * luma).sum(1), (damped * luma).sum(1)
    assert torch.allclose(yd, 0.75 * y, atol=1e-6)
    # colour differences (R-G, B-G) are what the damping leaves alone
    assert torch.allclose(damped[:, 0] - damped[:, 1], u[:, 0] - u[:, 1], atol=1e-6)
    assert torch.allclose(damped[:, 2] - damped[:, 1], u[:, 2] - u[:, 1], atol=1e-6)
    assert damp_luma(u, 1.0) is u


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
