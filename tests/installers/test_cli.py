"""`shade install` / `shade uninstall` through the real command line, in a temporary
HOME. ``--no-start`` keeps the test away from the machine's real systemd user manager."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="exercises the Linux layout for real")


def test_install_twice_and_uninstall(run_shade, env, home, snapshot):
    (home / "shade-home/Pictures/Shade/to-post").mkdir(parents=True)
    (home / "shade-home/Pictures/Shade/to-post/art.png").write_bytes(b"art")
    before = snapshot(home)

    first = run_shade(["install", "--no-start", "--no-models"], env)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "wrote  systemd user service" in out and "wrote  native-messaging manifest for Firefox" in out
    assert "Load unpacked" in out and "about:debugging" in out and "shade token --pairing-code" in out
    assert "shade models pull taef2" in out  # no models in this HOME: says how to get them
    assert "To undo: `shade uninstall`" in out
    assert (home / ".config/systemd/user/shade.service").is_file()
    ext = home / "shade-home/data/extension/manifest.json"
    assert ext.is_file() and str(ext.parent) in out

    second = run_shade(["install", "--no-start", "--no-models"], env)
    assert second.returncode == 0, second.stderr
    assert " wrote " not in second.stdout and "unchanged  systemd user service" in second.stdout

    gone = run_shade(["uninstall", "--no-stop"], env)
    assert gone.returncode == 0, gone.stderr
    assert "removed  systemd user service" in gone.stdout and "were left alone" in gone.stdout
    assert snapshot(home) == before

    again = run_shade(["uninstall"], env)
    assert again.returncode == 0 and "nothing that `shade install` wrote is here" in again.stdout


def test_dry_run_and_choices(run_shade, env, home, snapshot):
    before = snapshot(home)
    dry = run_shade(["install", "--dry-run", "--no-models", "--browsers", "firefox", "--no-autostart"], env)
    assert dry.returncode == 0, dry.stderr
    assert "would write  native-messaging manifest for Firefox" in dry.stdout
    assert "Chrome" not in dry.stdout.split("Add the Shade extension")[0]
    assert "systemd" not in dry.stdout
    assert snapshot(home) == before

    bad = run_shade(["install", "--browsers", "netscape", "--no-models"], env)
    assert bad.returncode == 2 and "unknown browser(s) netscape" in bad.stderr


def test_model_dir_for_an_offline_install(run_shade, env, home, tmp_path, plumbing_model_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = run_shade(["install", "--no-start", "--model-dir", str(empty)], env)
    assert refused.returncode == 2 and "does not hold taef2" in refused.stderr
    ok = run_shade(["install", "--no-start", "--no-extension", "--model-dir", str(plumbing_model_dir)], env)
    assert ok.returncode == 0, ok.stderr
    config = (home / "shade-home/config/config.toml").read_text()
    assert str(plumbing_model_dir.resolve()) in config and "model_dirs" in config
    assert "Models missing" not in ok.stdout
    # The config is the user's: uninstall leaves it (and says what it removes).
    run_shade(["uninstall", "--no-stop"], env)
    assert (home / "shade-home/config/config.toml").read_text() == config


def test_pull_models_failure_is_explained_and_install_stays(run_shade, env, home):
    """Offline (the hub forced offline), the offered download fails with what to do;
    everything else is installed."""
    env = {**env, "HF_HUB_OFFLINE": "1"}
    proc = run_shade(["install", "--no-start", "--no-extension", "--browsers", "firefox", "--pull-models"], env)
    assert proc.returncode == 1
    assert "Running `shade models pull taef2`" in proc.stdout
    assert "downloading the models failed" in proc.stderr and "--model-dir DIR" in proc.stderr
    assert (home / ".mozilla/native-messaging-hosts/org.shade_art.host.json").is_file()
    assert (home / ".config/systemd/user/shade.service").is_file()
