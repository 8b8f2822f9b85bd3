"""``shade protect ... --preview PNG``: the dashboard's preview as one sheet, on the seeded
random encoder (its decoder rebuilt by hand from the documented seed)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

import shadetest
from shadetest.dashboard import decoded_view, random_pair

pytestmark = pytest.mark.timeout(300)

LABEL, GAP = 18, 8          # the sheet's label rows and gaps (shading/measure/preview.py)


def test_protect_preview_writes_the_sheet(tmp_path, cat_array, plumbing_model_dir, anchor_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    original = np.ascontiguousarray(cat_array[:128, :160])
    Image.fromarray(original).save(folder / "cat.png")
    Image.fromarray(np.ascontiguousarray(cat_array[100:196, 100:196])).save(folder / "crop.png")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHADE_")}
    env.update(SHADE_HOME=str(tmp_path / "home"), SHADE_MODEL_DIR=str(plumbing_model_dir),
               SHADE_ANCHOR_DIR=str(anchor_dir), OMP_NUM_THREADS="1", SHADE_CHANNELS="latent")
    res = shadetest.run_shade(["protect", folder / "cat.png", folder / "crop.png", "--out", tmp_path / "out",
                               "--json", "--target", "cat", "--view-size", "64", "--steps", "2", "--quality", "fast",
                               "--preview", tmp_path / "sheets" / "preview.png"], env)
    assert res.returncode == 0, res.stderr
    records = {json.loads(line)["input"].rsplit("/", 1)[1]: json.loads(line) for line in res.stdout.splitlines()}
    assert records["cat.png"]["preview"] == str(tmp_path / "sheets" / "preview-cat.png")
    assert (tmp_path / "sheets" / "preview-crop.png").is_file()

    sheet = np.asarray(Image.open(tmp_path / "sheets" / "preview-cat.png").convert("RGB"))
    shaded = np.asarray(Image.open(records["cat.png"]["output"]).convert("RGB"))
    h, w = original.shape[:2]
    top = 2 * LABEL                                     # the title, then the first row's label
    assert np.array_equal(sheet[top:top + h, :w], original)
    assert np.array_equal(sheet[top:top + h, w + GAP:2 * w + GAP], shaded)
    diff = np.clip(128 + 8 * (shaded.astype(int) - original.astype(int)), 0, 255).astype(np.uint8)
    assert np.array_equal(sheet[top:top + h, 2 * (w + GAP):3 * w + 2 * GAP], diff)
    # Second row: what the model sees, the decoder's output brought to the row's height.
    encoder, decoder = random_pair(plumbing_model_dir)
    model_top = top + h + GAP + LABEL
    x = 0
    for rgb in (original, shaded):
        seen = Image.fromarray(decoded_view(rgb, encoder, decoder, 64))
        seen = np.asarray(seen.resize((round(seen.width * h / seen.height), h), Image.Resampling.LANCZOS))
        tile = sheet[model_top:model_top + h, x:x + seen.shape[1]].astype(int)
        assert np.abs(tile - seen.astype(int)).max() <= 2
        x += seen.shape[1] + GAP
