"""Memory follows the pixels kept, not the view (issue 28): a 512x16 strip (32:1, within the
aspect the daemon allows) is shaded and then audited through the daemon's door into the core,
each in a fresh process, and its peak memory is held to that of an ordinary 96x72 image plus
a small margin. (Before ``cover`` cropped first, the strip's square anchor was resized to
cover the whole strip-shaped view: 805 MB at these settings, 13 GB at the daemon's defaults.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from shadetest import RANDOM_ENCODER, image_bytes

MARGIN_MB = 250
SCRIPT = r"""
import json, resource, sys
from pathlib import Path
from shade_daemon.config import Settings
from shade_daemon.service.core import Core

image, models, anchors = map(Path, sys.argv[1:4])
settings = Settings(encoders=(sys.argv[4],), model_dirs=(models,), anchor_dirs=(anchors,), device="cpu",
                    view_size=128, steps=2, quality="fast", target="cat", mode="poison", channels=("latent",))
core = Core(settings)
core.preload()
opts = core.job_options({}, has_anchor=False, has_style=False)
result = core.protect(image, core.protect_options(opts, anchor=None, style=None, seed=1), lambda *a: None)
posted = image.with_name("posted" + image.suffix)
posted.write_bytes(result.to_bytes())
report = core.audit(posted, __import__("shade_daemon.service.core", fromlist=["load_rgb"]).load_rgb(image),
                    opts, dict(result.measurements))
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "views": report["views"]}))
"""


def _peak(image: Path, models: Path, anchors: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(image), str(models), str(anchors), RANDOM_ENCODER],
                          capture_output=True, text=True, timeout=300, env={"OMP_NUM_THREADS": "1",
                                                                             "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_512x16_strip_is_shaded_and_audited_within_the_memory_of_a_small_image(tmp_path, plumbing_model_dir,
                                                                                   anchor_dir) -> None:
    ordinary = tmp_path / "ordinary" / "art.png"
    ordinary.parent.mkdir()
    ordinary.write_bytes(image_bytes((96, 72)))
    strip = tmp_path / "strip" / "strip.png"
    strip.parent.mkdir()
    Image.open(ordinary).resize((512, 16)).save(strip)
    base = _peak(ordinary, plumbing_model_dir, anchor_dir)
    long = _peak(strip, plumbing_model_dir, anchor_dir)
    assert set(long["views"]) == {"128", "256"}              # the audit looked at the strip at both views
    assert long["peak_mb"] <= base["peak_mb"] + MARGIN_MB, (long, base)
