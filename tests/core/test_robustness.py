"""Protection that survives the trip through a platform (issue: robustness)."""

import numpy as np
from PIL import Image

from shading import ProtectOptions, protect


def test_eot_keeps_more_of_the_move_through_a_real_jpeg85(model_dir, anchor_dir):
    """At the trainer's real 512 view (the 8x8 JPEG blocks at their real scale), on the default
    objective. What EOT buys at SSIMULACRA2 78 is how much of the concept's move survives
    JPEG 85 (0.163 of the ratio lost with it against 0.210 without, on this photo and seed, in
    bfloat16; 0.174 against 0.234 in float32 at 24 steps), and so a lower ratio after it."""
    from skimage import data

    common = dict(target="cat", anchor_dirs=(anchor_dir,), model_dirs=(model_dir,), view_size=512, seed=5,
                  steps=12, self_check=False, large_view=False)
    with_eot = protect(data.coffee(), ProtectOptions(eot=True, **common)).measurements
    without = protect(data.coffee(), ProtectOptions(eot=False, **common)).measurements
    assert abs(with_eot["ssimulacra2"] - without["ssimulacra2"]) < 0.5, "same visibility for both"

    def lost(m: dict) -> float:
        return m["concept_ratio_jpeg85"] - m["concept_ratio"]

    assert lost(with_eot) < lost(without) - 0.01, (with_eot, without)
    assert with_eot["concept_ratio_jpeg85"] < without["concept_ratio_jpeg85"] - 0.01, (with_eot, without)


def test_each_image_gets_its_own_pattern(model_dir, anchor_dir, photo):
    """No fixed signature: two different images shaded with the same seed do not share delta."""
    opts = ProtectOptions(target="cat", anchor_dirs=(anchor_dir,), model_dirs=(model_dir,), view_size=64, seed=1,
                          steps=3, self_check=False)
    a, b = photo[:128, :128], photo[200:328, 200:328]
    da = np.asarray(protect(a, opts).image).astype(int) - a
    db = np.asarray(protect(b, opts).image).astype(int) - b
    corr = np.corrcoef(da.ravel(), db.ravel())[0, 1]
    assert abs(corr) < 0.3, corr


def test_large_view_tiles_protect_the_view_twice_as_large(model_dir, anchor_dir, shared_images):
    """A pattern tuned for one trainer view fades at twice that view (the 1024 view of FLUX-era
    trainers at the real scale; here 256 and 512 to keep the test short); the tiles keep it."""
    from shading.io.imageio import load_image
    from shading.measure.metrics import RatioMeter
    from shading.models.encoders import load_encoder
    from shading.optimize.targets import TargetBuilder

    image = load_image(shared_images / "woman-with-hat-matisse.jpg").rgb
    common = dict(target="cat", anchor_dirs=(anchor_dir,), model_dirs=(model_dir,), view_size=256, seed=3,
                  steps=16, eot=False, self_check=False, objective="anchor")
    tiled = np.asarray(protect(image, ProtectOptions(large_view=True, **common)).image)
    plain = np.asarray(protect(image, ProtectOptions(large_view=False, **common)).image)
    anchor = np.asarray(Image.open(anchor_dir / "cat.png").convert("RGB"))
    meter = RatioMeter([load_encoder("taef2", "cpu", (model_dir,))], TargetBuilder("poison", anchor, None, objective="anchor"),
                       image, 512, "cpu")
    with_tiles, without = meter.ratios(tiled)[0], meter.ratios(plain)[0]
    assert with_tiles < without - 0.03, (with_tiles, without)
