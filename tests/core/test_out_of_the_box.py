"""Issue 13, core and CLI: the built-in anchors and reference styles (licence-clean, small,
recorded in NOTICE), `shade anchors` / `shade styles` listing the user's first, cloak from the
CLI on a fresh home, and JPEG results that keep the original's quality and chroma
subsampling, at most 1.3x the original's bytes, the size ratio in --json."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

import shadetest
from shading.io.imageio import _save_kwargs, jpeg_quality, load_image
from shading.library import (
    BUILTIN_ANCHORS,
    BUILTIN_STYLES,
    anchor_library,
    find_anchor,
    library_concepts,
    library_styles,
    resolve_style,
)

FAST = ["--view-size", "64", "--steps", "2", "--quality", "fast", "--seed", "3"]


def run_shade(args, home: Path, model_dir=None, extra_env=None, timeout=300):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHADE_")}
    env.update(SHADE_HOME=str(home), OMP_NUM_THREADS="1", SHADE_CHANNELS="latent")
    if model_dir is not None:
        env["SHADE_MODEL_DIR"] = str(model_dir)
    env.update(extra_env or {})
    return shadetest.run_shade([str(a) for a in args], env, timeout=timeout)


def test_builtin_assets_are_small_licensed_and_listed():
    notice = (BUILTIN_ANCHORS.parent / "NOTICE").read_text(encoding="utf-8")
    anchors = sorted(BUILTIN_ANCHORS.glob("*.jpg"))
    styles = sorted(BUILTIN_STYLES.glob("*.jpg"))
    assert len(anchors) >= 8 and len(styles) >= 3
    for path in anchors + styles:
        assert path.name in notice, f"{path.name} has no licence record in NOTICE"
        with Image.open(path) as im:
            assert im.format == "JPEG" and min(im.size) <= 512
        assert path.stat().st_size < 300_000
    for path in anchors:
        entry = " ".join(notice.split(path.name, 1)[1].split(".jpg")[0].split())
        assert "CC0" in entry or "public domain" in entry, path.name
    assert "cat" in library_concepts(()) and find_anchor("cat", ()) == BUILTIN_ANCHORS / "cat.jpg"


def test_the_users_own_come_first_and_replace_builtins(tmp_path, cat_array):
    mine = tmp_path / "anchors"
    mine.mkdir()
    Image.fromarray(cat_array).save(mine / "zebra.png")
    Image.fromarray(cat_array).save(mine / "cat.png")
    lib = anchor_library((mine,))
    assert [n for n, _, b in lib if not b] == ["cat", "zebra"] and library_concepts((mine,))[:2] == ["cat", "zebra"]
    assert [n for n, _, _ in lib].count("cat") == 1
    assert find_anchor("cat", (mine,)) == mine / "cat.png"
    styles = tmp_path / "styles"
    styles.mkdir()
    Image.fromarray(cat_array).save(styles / "mine.png")
    assert library_styles((styles,))[0] == "mine" and resolve_style("mine", (styles,)) == styles / "mine.png"


def test_cli_lists_and_cloaks_on_a_fresh_home(tmp_path, plumbing_model_dir, cat_array):
    home = tmp_path / "home"
    res = run_shade(["anchors"], home)
    assert res.returncode == 0, res.stderr
    assert "yours: none yet" in res.stdout and "built-in: astronaut, bricks, cat" in res.stdout
    img = tmp_path / "c.png"
    Image.fromarray(cat_array).save(img)
    res = run_shade(["styles", "add", "tabby", img], home)
    assert res.returncode == 0, res.stderr
    res = run_shade(["styles"], home)
    assert "yours: tabby" in res.stdout and "van-gogh" in res.stdout and "default style: van-gogh" in res.stdout
    src = tmp_path / "art.jpg"
    Image.fromarray(cat_array[:96, :128]).save(src, quality=80)
    for extra in ([], ["--style", "tabby"], ["--style", "munch"]):
        res = run_shade(["protect", src, "--out", tmp_path / "out", "--json", "--mode", "cloak", *extra, *FAST],
                        home, plumbing_model_dir)
        assert res.returncode == 0, res.stderr
        record = json.loads(res.stdout)
        assert record["mode"] == "cloak" and 0 < record["size_ratio"] <= 1.3
        assert record["original_bytes"] == src.stat().st_size and record["bytes"] == Path(record["output"]).stat().st_size
    res = run_shade(["protect", src, "--out", tmp_path / "out", "--mode", "cloak", "--style", "nope", *FAST],
                    home, plumbing_model_dir)
    assert res.returncode == 1 and "no reference style 'nope'" in res.stderr and "van-gogh" in res.stderr
    res = run_shade(["protect", src, "--out", tmp_path / "out", "--json", *FAST], home, plumbing_model_dir)
    assert res.returncode == 0 and json.loads(res.stdout)["target"] == "cat"     # the default target, built in


@pytest.mark.parametrize("quality,subsampling", [(95, 0), (85, 2), (75, 1), (60, 2)])
def test_jpeg_quality_and_subsampling_are_read_and_kept(photo, quality, subsampling):
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "JPEG", quality=quality, subsampling=subsampling)
    loaded = load_image(buf.getvalue())
    assert loaded.info["jpeg_quality"] == quality and loaded.info["jpeg_subsampling"] == subsampling
    kwargs = _save_kwargs("JPEG", loaded.info)
    assert kwargs["quality"] == quality and kwargs["subsampling"] == subsampling
    out = io.BytesIO()
    Image.fromarray(loaded.rgb).save(out, "JPEG", **kwargs)
    again = Image.open(io.BytesIO(out.getvalue()))
    assert jpeg_quality(again.quantization) == quality and JpegImagePlugin.get_sampling(again) == subsampling


def test_jpeg_without_tables_and_other_formats_keep_the_old_defaults():
    assert _save_kwargs("JPEG", {})["quality"] == 95 and _save_kwargs("JPEG", {})["subsampling"] == 0
    assert _save_kwargs("JPEG", {"jpeg_quality": 99})["quality"] == 95       # capped
    assert _save_kwargs("JPEG", {"jpeg_quality": 20})["quality"] == 60       # floored: the pattern must survive
    assert "subsampling" not in _save_kwargs("PNG", {"jpeg_subsampling": 2})


@shadetest.needs_weights
@pytest.mark.weights
@pytest.mark.timeout(1800)
def test_jpeg_results_at_most_1_3x_the_originals_on_the_bench_paintings(model_dir, shared_images):
    from shading import ProtectOptions, protect

    for path in sorted(shared_images.glob("*.jpg")):
        result = protect(path, ProtectOptions(target="cat", quality="fast", steps=4, self_check=False, seed=1,
                                              encoders=("taef2",), model_dirs=(model_dir,)))
        ratio = len(result.data) / path.stat().st_size
        assert ratio <= 1.3, f"{path.name}: {ratio:.3f}x the original's bytes"
        with Image.open(io.BytesIO(result.data)) as out, Image.open(path) as original:
            assert JpegImagePlugin.get_sampling(out) == JpegImagePlugin.get_sampling(original)
        assert np.isfinite(result.measurements["psnr"])
