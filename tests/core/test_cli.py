"""``shade protect``, ``shade models``, ``shade anchors`` and ``shade bench`` as a user runs them.

The plumbing runs on the seeded random encoder (``plumbing_model_dir``), so these run
without the real weights."""

import json
import os
from pathlib import Path

import pytest
from PIL import Image

import shadetest

FAST = ["--view-size", "64", "--steps", "2", "--quality", "fast", "--seed", "3"]


def run_shade(args, home: Path, model_dir=None, anchor_dir=None, extra_env=None, timeout=300):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHADE_")}
    env["SHADE_HOME"] = str(home)
    env["OMP_NUM_THREADS"] = "1"
    env["SHADE_CHANNELS"] = "latent"
    if model_dir is not None:
        env["SHADE_MODEL_DIR"] = str(model_dir)
    if anchor_dir is not None:
        env["SHADE_ANCHOR_DIR"] = str(anchor_dir)
    env.update(extra_env or {})
    return shadetest.run_shade(args, env, timeout=timeout)


@pytest.fixture
def inputs(tmp_path, cat_array):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(cat_array[:128, :160]).save(folder / "good.png")
    Image.fromarray(cat_array[:96, :96]).save(folder / "photo.jpg", quality=90)
    (folder / "notes.png").write_text("this is not an image")
    data = (folder / "good.png").read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 3])
    Image.new("RGB", (300, 300)).save(folder / "big.png")
    return folder


def test_protect_json_and_every_bad_input(tmp_path, inputs, plumbing_model_dir, anchor_dir):
    model_dir = plumbing_model_dir
    out = tmp_path / "out"
    names = ["good.png", "missing.png", "notes.png", "truncated.png", "big.png", "photo.jpg"]
    before = {p.name: p.read_bytes() for p in inputs.iterdir()}
    res = run_shade(["protect", *[inputs / n for n in names], "--out", out, "--json", "--target", "cat", *FAST],
                    tmp_path / "home", model_dir, anchor_dir, {"SHADE_MAX_PIXELS": "50000"})
    assert res.returncode == 1
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert [Path(r["input"]).name for r in records] == ["good.png", "photo.jpg"]
    for r in records:
        for key in ("input", "output", "mode", "target", "width", "height", "encoders", "steps", "seconds", "psnr",
                    "ssim", "linf_255", "latent_ratio", "latent_ratio_jpeg85", "ssimulacra2", "smooth_textured_ratio",
                    "lowpass_smooth_255", "rms_255", "bytes", "encoder_passes", "self_check", "weak", "seed"):
            assert key in r, key
        assert r["ssimulacra2"] >= r["visibility_target"] and r["encoder_passes"] == r["steps"]
        assert r["mode"] == "poison" and r["target"] == "cat" and r["encoders"] == ["random-tiny"]
        shaded = Image.open(r["output"])
        assert shaded.size == (r["width"], r["height"])
    assert Image.open(out / "photo.jpg").format == "JPEG"
    errors = [line for line in res.stderr.splitlines() if line.startswith("shade:")]
    assert len(errors) == 4, res.stderr
    assert "no such file" in errors[0] and "not an image" in errors[1]
    assert "truncated" in errors[2] and "megapixels" in errors[3]
    assert {p.name: p.read_bytes() for p in inputs.iterdir()} == before, "inputs are never touched"
    # A second run never overwrites: the new result gets a suffix.
    res2 = run_shade(["protect", inputs / "good.png", "--out", out, "--target", "cat", *FAST],
                     tmp_path / "home", model_dir, anchor_dir)
    assert res2.returncode == 0 and (out / "good-1.png").exists()


def test_missing_model_and_missing_anchor_are_one_clear_line(tmp_path, inputs, plumbing_model_dir, anchor_dir):
    model_dir = plumbing_model_dir
    empty = tmp_path / "no-models"
    empty.mkdir()
    res = run_shade(["protect", inputs / "good.png", "--out", tmp_path / "o", "--target", "cat", *FAST],
                    tmp_path / "home", empty, anchor_dir)
    assert res.returncode == 1 and "shade models pull taef2" in res.stderr
    res = run_shade(["protect", inputs / "good.png", "--out", tmp_path / "o", "--target", "dog", *FAST],
                    tmp_path / "home", model_dir, anchor_dir)
    assert res.returncode == 1
    assert "no anchor image for target 'dog'" in res.stderr and "cat" in res.stderr
    res = run_shade(["protect", inputs / "good.png", "--out", tmp_path / "o", "--anchor", inputs / "notes.png",
                     *FAST], tmp_path / "home", model_dir, anchor_dir)
    assert res.returncode == 1 and "anchor image cannot be used" in res.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_models_and_anchors_commands(tmp_path, cat_array):
    home = tmp_path / "home"
    model_dir = tmp_path / "models"
    res = run_shade(["models", "pull", "random-tiny"], home, model_dir, extra_env={"SHADE_MODEL_DIR": str(model_dir)})
    assert res.returncode == 0 and (model_dir / "random-tiny" / "random.json").is_file(), res.stderr
    res = run_shade(["models"], home, model_dir)
    assert res.returncode == 0
    line = next(ln for ln in res.stdout.splitlines() if ln.strip().startswith("random-tiny"))
    assert "installed" in line and str(model_dir) in line and "test" in line
    assert "missing    shade models pull taef2" in res.stdout and "missing    shade models pull taesd" in res.stdout
    res = run_shade(["models", "pull", "no-such-model"], home, model_dir)
    assert res.returncode == 1 and "unknown model 'no-such-model'" in res.stderr and "taef2" in res.stderr
    empty = tmp_path / "none"
    empty.mkdir()
    res = run_shade(["models"], home, empty)
    assert res.returncode == 1 and "shade models pull taef2" in res.stderr

    Image.fromarray(cat_array).save(tmp_path / "kitty.gif")
    res = run_shade(["anchors", "add", "Cat", tmp_path / "kitty.gif"], home)
    assert res.returncode == 0, res.stderr
    assert (home / "data" / "anchors" / "cat.png").exists()
    listing = run_shade(["anchors"], home).stdout
    assert "yours: cat\n" in listing and "built-in: astronaut" in listing   # yours first, then the built-in ones
    res = run_shade(["anchors", "add", "cat", tmp_path / "kitty.gif"], home)
    assert res.returncode == 1 and "never overwrites" in res.stderr


def test_bench_prints_the_table_and_writes_json(tmp_path, plumbing_model_dir, photo, anchor_dir):
    model_dir = plumbing_model_dir
    img = tmp_path / "imgs"
    img.mkdir()
    Image.fromarray(photo[::4, ::4].copy()).save(img / "astronaut.png")
    report, plot, sheet = tmp_path / "bench.json", tmp_path / "frontier.png", tmp_path / "sheet.png"
    res = run_shade(["bench", img, "--json", report, "--reference-steps", "3", "--reference-eps", "2", "6",
                     "--intensities", "low", "--plot", plot, "--sheet", sheet, "--anchor", anchor_dir / "cat.png",
                     *FAST], tmp_path / "home", model_dir)
    assert res.returncode == 0, res.stderr
    assert "MEDIAN" in res.stdout and "shade / reference" in res.stdout and "jpeg85" in res.stdout
    assert "SSIMU2" in res.stdout and "equal SSIMULACRA2" in res.stdout
    data = json.loads(report.read_text())
    assert [(r["method"], r["setting"]) for r in data["rows"]] == [
        ("shade", "default"), ("shade", "low"), ("reference", "2"), ("reference", "6")]
    assert data["rows"][2]["steps"] == 3 and data["device"] == "cpu"
    for row in data["rows"]:
        assert set(row["ratios"]) == {"view512", "jpeg95", "jpeg85", "jpeg75", "down0.5", "noise0.05",
                                      "view1024", "jpeg85@1024"}
        assert all(0 < v < 2 for v in row["ratios"].values())
        assert 0 < row["energy"]["ssimulacra2"] <= 100 and row["size_ratio"] > 0
    low, default = data["rows"][1]["energy"]["ssimulacra2"], data["rows"][0]["energy"]["ssimulacra2"]
    assert low >= 85 > default >= 78, (low, default)
    # a wider eps shows more: the reference's two runs bracket visibility as they should
    assert data["rows"][2]["energy"]["ssimulacra2"] > data["rows"][3]["energy"]["ssimulacra2"]
    assert set(data["reference_at_equal_visibility"]) == {"astronaut.png"}
    assert data["encoder_step_ms_512"] > 0
    for picture in (plot, sheet):
        with Image.open(picture) as im:
            assert im.format == "PNG" and im.width > 300


def test_bench_speed_reports_passes_precisions_cpu_kind_and_the_reference(tmp_path, plumbing_model_dir, photo,
                                                                       anchor_dir):
    img = tmp_path / "astronaut.png"
    Image.fromarray(photo[::4, ::4].copy()).save(img)
    report = tmp_path / "speed.json"
    res = run_shade(["bench", "--speed", img, "--json", report, "--reference-steps", "500", "--sweep-steps", "1", "3",
                     "--anchor", anchor_dir / "cat.png", *FAST], tmp_path / "home", plumbing_model_dir)
    assert res.returncode == 0, res.stderr
    assert "MEDIAN" in res.stdout and "bfloat16" in res.stdout and "faster" in res.stdout
    assert "ratio against passes" in res.stdout
    data = json.loads(report.read_text())
    assert data["cpu_kind"] in ("bf16-native", "no-bf16") and data["device"] == "cpu"
    (row,) = data["rows"]
    # a pass is counted for each encoder pass followed back: fast takes one a step
    assert row["steps"] >= 1 and row["encoder_passes"] == row["steps"]
    assert 0 < row["ssimulacra2"] <= 100 and 0 < row["latent_ratio"] < 2
    assert row["reference_step_ms"] > 0
    assert row["reference_seconds"] == pytest.approx(row["reference_step_ms"] * 500 / 1000, rel=0.01)
    assert row["speedup"] == pytest.approx(row["reference_seconds"] / row["seconds"], rel=0.05)
    assert data["encoder_pass_ms_512_float32"] > 0 and data["encoder_pass_ms_512_bfloat16"] > 0
    assert 0 < row["jpeg85_1024"] < 2
    # the sweep: the same image again at each step count asked, fast's one pass a step
    assert [(r["asked_steps"], r["steps"], r["encoder_passes"]) for r in data["sweep"]] == [(1, 1, 1), (3, 3, 3)]
    assert set(data["sweep_medians"]) == {"1", "3"}
    assert data["sweep_medians"]["3"]["encoder_passes"] == 3


def test_bench_refuses_a_step_sweep_it_cannot_run(tmp_path, plumbing_model_dir, photo):
    img = tmp_path / "astronaut.png"
    Image.fromarray(photo[::4, ::4].copy()).save(img)
    for argv, said in ((["--speed", "--sweep-steps", "0"], "1 or more"), (["--sweep-steps", "4"], "with --speed")):
        res = run_shade(["bench", img, *argv, "--target", "cat"], tmp_path / "home", plumbing_model_dir)
        assert res.returncode == 2 and said in res.stderr, res.stderr


@pytest.mark.parametrize("argv, eot, precision", [
    ([], None, "auto"),
    (["--robust"], True, "auto"),
    (["--no-robust", "--precision", "float32"], False, "float32"),
])
def test_robust_and_precision_flags_reach_the_options(tmp_path, argv, eot, precision):
    from shade_daemon.cli import build_parser
    from shade_daemon.commands.common import options_from
    from shade_daemon.config import load_settings

    args = build_parser().parse_args(["protect", "x.png", "--out", str(tmp_path), *argv])
    options = options_from(args, load_settings(env={"SHADE_HOME": str(tmp_path / "home")}))
    assert options.eot is eot and options.precision == precision
    expected = {None: 0.5, True: 0.5, False: 0.0}[eot]    # the default quality mixes in a transformed pass
    assert options.eot_weight == expected


@pytest.mark.parametrize("argv, whole, tiled", [
    ([], (512,), (1024,)),
    (["--no-large-view"], (512,), ()),
    (["--quality", "fast"], (512,), ()),
    (["--quality", "fast", "--large-view"], (512,), (1024,)),
    (["--quality", "best"], (512, 1024), ()),
    (["--quality", "best", "--no-large-view"], (512,), ()),
])
def test_large_view_flag_picks_the_trainer_views(tmp_path, argv, whole, tiled):
    from shade_daemon.cli import build_parser
    from shade_daemon.commands.common import options_from
    from shade_daemon.config import load_settings

    args = build_parser().parse_args(["protect", "x.png", "--out", str(tmp_path), *argv])
    options = options_from(args, load_settings(env={"SHADE_HOME": str(tmp_path / "home")}))
    assert (options.whole_views, options.tiled_views) == (whole, tiled)
