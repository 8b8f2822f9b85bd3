"""Protection that survives the trip through a platform (issue: robustness)."""

import numpy as np
from PIL import Image

from shading import ProtectOptions, protect


def test_eot_lowers_the_ratio_after_a_real_jpeg85(model_dir, anchor_dir, photo):
    """At the trainer's real 512 view (the 8x8 JPEG blocks at their real scale). The optimizer's
    machinery, on the whole-latent objective whose figure this threshold was measured on."""
    image = photo
    common = dict(target="cat", anchor_dirs=(anchor_dir,), model_dirs=(model_dir,), view_size=512, seed=5,
                  steps=24, self_check=False, objective="anchor")
    with_eot = protect(image, ProtectOptions(eot=True, **common)).measurements
    without = protect(image, ProtectOptions(eot=False, **common)).measurements
    assert abs(with_eot["ssimulacra2"] - without["ssimulacra2"]) < 0.5, "same visibility for both"
    # At SSIMULACRA2 78 the change is smaller than at the old PSNR-33 budget, and so is what
    # EOT buys (0.820 against 0.828 at this seed): it must still help.
    assert with_eot["latent_ratio_jpeg85"] < without["latent_ratio_jpeg85"] - 0.005, (with_eot, without)


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
