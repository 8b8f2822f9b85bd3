"""``cover`` crops in the source's pixels before it resizes: the anchor placed on a
strip-shaped view never becomes an image larger than the view (issue 28: a 512x16 strip
drove an audit past 8 GB, a square anchor resized to cover a 1024x32768 view first)."""

from __future__ import annotations

import torch

from shading.pixels import views
from shading.pixels.views import cover, resize


def test_cover_never_builds_more_than_it_keeps(monkeypatch) -> None:
    made: list[tuple[int, ...]] = []

    def recording_resize(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
        out = resize(x, shape)
        made.append(tuple(out.shape[-2:]))
        return out

    monkeypatch.setattr(views, "resize", recording_resize)
    anchor = torch.rand(1, 3, 256, 256)
    strip_view = (64, 2048)               # a 32:1 view (the audit's of a 512x16 strip is 1024x32768)
    out = cover(anchor, strip_view)
    assert tuple(out.shape[-2:]) == strip_view
    assert made and all(h * w <= strip_view[0] * strip_view[1] for h, w in made), made


def test_cover_matches_resize_then_crop_on_ordinary_shapes() -> None:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 96), torch.linspace(0, 1, 128), indexing="ij")
    anchor = torch.stack([yy, xx, (yy + xx) / 2])[None]     # smooth: a pixel's shift changes little
    for shape in ((64, 64), (48, 120), (120, 40)):
        h, w = anchor.shape[-2:]
        scale = max(shape[0] / h, shape[1] / w)
        big = resize(anchor, (max(shape[0], round(h * scale)), max(shape[1], round(w * scale))))
        old = views.center_crop(big, shape)
        new = cover(anchor, shape)
        assert new.shape == old.shape
        # The same picture: the crops agree to within a source pixel's shift after smoothing.
        assert (new - old).abs().mean() < 0.02, shape
