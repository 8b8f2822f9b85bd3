"""The label channel through ``protect``: on the real taef2 weights and the EfficientNet-Lite
classifiers, shading a real photo with both channels changes what the ensemble sees after
a JPEG-85 round trip of the written file, beyond what re-saving the original does, while
the written file keeps the default intensity's SSIMULACRA2 target."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from shading import INTENSITIES, ProtectOptions, Protector
from shading.labels.efficientnet_lite import LITE_SPECS
from shading.measure.perceptual import score_arrays

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ENSEMBLE = ("efficientnet-lite0", "efficientnet-lite1")


def _needs_labels_extra() -> None:
    for name in (*ENSEMBLE, "efficientnet-lite2"):
        pytest.importorskip(LITE_SPECS[name].package, reason="needs the labels extra: pip install 'shade-art[labels]'")


@pytest.fixture(scope="module")
def small_coffee() -> np.ndarray:
    """scikit-image's coffee (an espresso every Lite names with confidence), 128 x 192."""
    from skimage import data

    return np.asarray(Image.fromarray(data.coffee()).resize((192, 128), Image.Resampling.LANCZOS))


def test_both_channels_change_the_ensembles_label_at_the_default_visibility(model_dir, anchor_dir, small_coffee):
    _needs_labels_extra()
    protector = Protector.from_pretrained(encoders=("taef2",), device="cpu", model_dirs=(model_dir,))
    options = ProtectOptions(target="cat", anchor_dirs=(anchor_dir,), model_dirs=(model_dir,), encoders=("taef2",),
                             view_size=128, quality="fast", steps=8, self_check=False, seed=2,
                             channels=("latent", "labels"), label_models=ENSEMBLE)
    result = protector.protect(Image.fromarray(small_coffee), options)
    written = np.asarray(Image.open(io.BytesIO(result.data)).convert("RGB"))
    assert score_arrays(small_coffee, written) >= INTENSITIES["default"].visibility - 0.5

    m = result.measurements
    assert m["channels"] == ["latent", "labels"]
    white_box = {row["model"]: row for row in m["labels"]["white_box"]}
    assert set(white_box) == set(ENSEMBLE)
    assert [row["model"] for row in m["labels"]["held_out"]] == ["efficientnet-lite2"]
    changed = [name for name, row in white_box.items() if row["changed_above_floor"]]
    assert changed, {name: (row["original_top1"], row["written"]["top1"], row["noise_floor"]["top1"])
                     for name, row in white_box.items()}

