"""``shade protect`` tells the one verdict (issue 28): the line a person reads leads with it in
words ("weakly protected: ..."), never "protected" alone for a weak result, and names a next
step that exists; ``--json`` carries it under ``verdict``; ``--stronger`` shades from the
original one intensity up, and says so when there is no step left.

Weak on purpose, by a real setting: 3 optimizer steps at a 64-pixel view cannot meet the
intensities' own bars after JPEG 85 (the core decides; each run checks it did)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import shadetest

WEAK = "weakly protected: a model trained on it would barely notice"
FAST = ["--view-size", "64", "--steps", "3", "--quality", "fast", "--seed", "3", "--target", "cat"]


def shade(args, home: Path, model_dir, anchor_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHADE_")}
    env.update(SHADE_HOME=str(home), OMP_NUM_THREADS="1", SHADE_MODEL_DIR=str(model_dir),
               SHADE_ANCHOR_DIR=str(anchor_dir), SHADE_CHANNELS="latent")
    return shadetest.run_shade(["protect", *args, *FAST], env)


def test_weak_results_say_so_and_stronger_climbs_until_the_top(tmp_path, plumbing_model_dir, anchor_dir):
    src = tmp_path / "woman.png"
    src.write_bytes(shadetest.image_bytes((96, 72)))
    out = tmp_path / "out"
    home = tmp_path / "home"

    res = shade([src, "--out", out, "--json"], home, plumbing_model_dir, anchor_dir)
    assert res.returncode == 0, res.stderr
    record = json.loads(res.stdout)
    assert record["weak"] and record["intensity"] == "default", record
    assert record["verdict"]["level"] == "weak" and record["verdict"]["words"] == WEAK
    assert record["verdict"]["next_intensity"] == "high"

    res = shade([src, "--out", out], home, plumbing_model_dir, anchor_dir)
    line = res.stdout.splitlines()[0]
    assert WEAK in line and "--stronger" in line and "--intensity high" not in line, line
    assert not re.search(r"(?<!weakly )(?<!not )\bprotected", line.replace(WEAK, "")), line
    assert res.stdout.splitlines()[1].lstrip().startswith("details:")       # the numbers come second

    res = shade([src, "--out", out, "--stronger", "--json"], home, plumbing_model_dir, anchor_dir)
    assert res.returncode == 0, res.stderr
    assert "at the high intensity" in res.stderr
    record = json.loads(res.stdout)
    assert record["intensity"] == "high" and record["verdict"]["next_intensity"] is None
    assert src.read_bytes() == shadetest.image_bytes((96, 72))                # the original is never touched

    top = shade([src, "--out", out, "--intensity", "high", "--stronger"], home, plumbing_model_dir, anchor_dir)
    assert top.returncode == 2 and top.stdout == ""
    assert "already the strongest intensity" in top.stderr
    written = sorted(p.name for p in out.iterdir())
    assert written == ["woman-1.png", "woman-2.png", "woman.png"], written     # nothing shaded at the top
