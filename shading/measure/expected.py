"""The expected downstream effect of a poison shading, as the poisoning experiment measured
it: the share of a generator's samples of the poisoned concept that both judges call the
target, when every training image of that concept was shaded at that intensity.

It is a figure about the method, from ``shade experiment poison``, not a measurement of the
image at hand: the result says so in its own words. The table ships with the package
(``assets/expected_effect.json``) and is rebuilt from an experiment report by
``scripts/expected_effect.py REPORT.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Optional

from ..options import INTENSITIES

TABLE = Path(__file__).resolve().parents[1] / "assets" / "expected_effect.json"
NOTE = "from Shade's poisoning experiment, not measured on this image"


def effect_table(report: Mapping[str, Any]) -> dict[str, Any]:
    """The table for ``assets/expected_effect.json`` from a poisoning experiment's report:
    per intensity (the default objective, p = 100 %), each judge's share called the target,
    whether both judges showed it above the clean control, and the run it came from."""
    by = {c["condition"]: c for c in report["conditions"]}
    rows = {}
    for intensity in report["shade"]["intensities"]:
        c = by.get(f"shade-{intensity}-p100")
        if c is None:
            continue
        probe, pixels = c["target_share"]["mean"], c["target_share_pixels"]["mean"]
        rows[intensity] = {"share": round(min(probe, pixels), 4), "probe": probe, "pixels": pixels,
                           "shown": bool(c["agreement"]["shown"]), "verdict": c["agreement"]["verdict"]}
    return {
        "source": (f"shade experiment poison: {report['poisoned']} shaded toward {report['target']} at quality "
                   f"{report['shade'].get('quality', '?')}, {len(report['seeds'])} seed(s), "
                   f"{report['samples_per_condition']} samples per seed"),
        "label_swap": by["label-swap"]["target_share"]["mean"], "clean": by["clean"]["target_share"]["mean"],
        "intensities": rows,
    }


def expected_effect(mode: str, intensity: str, table: Path = TABLE) -> Optional[dict[str, Any]]:
    """What the experiment says a model trained on images shaded like this learns; None for
    modes and intensities the experiment did not measure (or without a table)."""
    if mode not in ("poison", "both") or not table.is_file():
        return None
    data = json.loads(table.read_text())
    rows = data.get("intensities", {})
    row, at = rows.get(intensity), intensity
    if row is None:
        # An intensity the experiment did not run: while it showed nothing at every intensity
        # it ran, nothing backs a claim of protection here either; the nearest one is reported.
        ladder = list(INTENSITIES)
        if intensity not in ladder or not rows or any(r["shown"] for r in rows.values()):
            return None
        at = min(rows, key=lambda i: abs(ladder.index(i) - ladder.index(intensity)) if i in ladder else 99)
        row = rows[at]
    shown = "shown by both judges" if row["shown"] else "not shown above the clean control"
    where = "" if at == intensity else f" (run at the {at} intensity, not at {intensity})"
    words = (f"in the experiment{where}, {row['share']:.0%} of a model's samples of the poisoned concept came out "
             f"as the target ({shown}; a label swap gives {data['label_swap']:.0%})")
    return {"share_called_target": row["share"], "measured_at": at, "judges": {"probe": row["probe"], "pixels": row["pixels"]},
            "shown": row["shown"], "label_swap": data["label_swap"], "clean": data["clean"],
            "words": words, "source": data["source"], "note": NOTE}
