"""The preview's "what a tagger sees": each label model's top labels for the original against
the shaded file's after JPEG 85, from the labels channel's report (in the words the dashboard
shows, and on the sheet)."""

from __future__ import annotations

import numpy as np

from shading.measure.preview import Preview, sheet, tagger_lines, tagger_view, verdict


def _row(model: str, before: str, after: str, floor: str) -> dict:
    return {"model": model, "original_top1": before, "original_prob": 0.9,
            "original_top": [[before, 0.9], ["cup", 0.05]],
            "written": {"top1": after, "top1_prob": 0.4, "changed": after != before, "drop": 0.95,
                        "top": [[after, 0.4], [before, 0.1]]},
            "noise_floor": {"top1": floor, "top1_prob": 0.85, "changed": floor != before, "drop": 0.05, "top": []},
            "changed_above_floor": after != before and after != floor}


def test_the_tagger_view_reads_the_labels_report():
    measurements = {"latent_ratio_jpeg85": 0.8, "ssimulacra2": 79.0,
                    "labels": {"white_box": [_row("efficientnet-lite0", "espresso", "loupe", "espresso")],
                               "held_out": [_row("efficientnet-lite2", "espresso", "espresso", "espresso")]}}
    view = tagger_view(measurements)
    assert [(v["model"], v["held_out"], v["changed"]) for v in view] == [
        ("efficientnet-lite0", False, True), ("efficientnet-lite2", True, False)]
    assert view[0]["original"][0] == ["espresso", 0.9] and view[0]["shaded"][0] == ["loupe", 0.4]
    lines = tagger_lines(view)
    assert lines[0].startswith("efficientnet-lite0: espresso 90%, cup 5% -> loupe 40%")
    assert "(held out)" in lines[1] and "unchanged" in lines[1]
    words = verdict(measurements)
    assert words["labels"] == view
    assert tagger_view({"latent_ratio_jpeg85": 0.8}) == [] and verdict({})["labels"] == []

    rgb = np.full((32, 48, 3), 128, np.uint8)
    plain = Preview(rgb, rgb, rgb, rgb, rgb, "taef2", verdict({"latent_ratio_jpeg85": 0.8}))
    tagged = Preview(rgb, rgb, rgb, rgb, rgb, "taef2", words)
    assert sheet(tagged).height > sheet(plain).height      # the tagger's lines are on the sheet
