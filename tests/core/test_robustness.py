"""Protection that survives the trip through a platform (issue: robustness)."""

import numpy as np

from shading import ProtectOptions, protect


def test_eot_lowers_the_ratio_after_a_real_jpeg85(model_dir, anchor_dir, photo):
    """At the trainer's real 512 view (the 8x8 JPEG blocks at their real scale)."""
    image = photo
    common = dict(target="cat", anchor_dirs=(anchor_dir,), model_dirs=(model_dir,), view_size=512, seed=5,
                  steps=24, self_check=False)
    with_eot = protect(image, ProtectOptions(eot=True, **common)).measurements
    without = protect(image, ProtectOptions(eot=False, **common)).measurements
    assert abs(with_eot["psnr"] - without["psnr"]) < 0.5, "same budget for both"
    assert with_eot["latent_ratio_jpeg85"] < without["latent_ratio_jpeg85"] - 0.01, (with_eot, without)


def test_each_image_gets_its_own_pattern(model_dir, anchor_dir, photo):
    """No fixed signature: two different images shaded with the same seed do not share delta."""
    opts = ProtectOptions(target="cat", anchor_dirs=(anchor_dir,), model_dirs=(model_dir,), view_size=64, seed=1,
                          steps=3, self_check=False)
    a, b = photo[:128, :128], photo[200:328, 200:328]
    da = np.asarray(protect(a, opts).image).astype(int) - a
    db = np.asarray(protect(b, opts).image).astype(int) - b
    corr = np.corrcoef(da.ravel(), db.ravel())[0, 1]
    assert abs(corr) < 0.3, corr
