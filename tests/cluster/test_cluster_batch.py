"""``shade protect --ray``: a batch on a real two-node cluster gives the local run's bytes,
survives a worker node dying, resumes from its manifest, and makes each bad image a row."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="needs Ray: install the extra shade-art[cluster] (part of dev)")

from shadetest import RANDOM_ENCODER, image_bytes, run_shade
from shadetest.raycluster import add_worker, tiny_images

SEED = 1234
CLI_OPTIONS = ["--mode", "poison", "--target", "cat", "--encoder", RANDOM_ENCODER, "--device", "cpu",
               "--seed", str(SEED), "--quality", "fast", "--steps", "2", "--view-size", "64"]


def options(model_dir: Path, **over):
    from shading import ProtectOptions

    fields = dict(mode="poison", target="cat", encoders=(RANDOM_ENCODER,), device="cpu", seed=SEED,
                  model_dirs=(model_dir,), quality="fast", steps=2, view_size=64)
    fields.update(over)
    return ProtectOptions(**fields)


def manifest_rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "shade-manifest.jsonl").read_text().splitlines() if line.strip()]


def done_inputs(rows: list[dict]) -> list[str]:
    return sorted(r["input"] for r in rows if r["status"] == "done")


def test_a_folder_shaded_on_the_cluster_has_the_local_runs_bytes(ray_cluster, plumbing_model_dir, tmp_path):
    images = tiny_images(tmp_path / "in", 12)
    env = {**os.environ, "SHADE_HOME": str(tmp_path / "home"), "SHADE_MODEL_DIR": str(plumbing_model_dir),
           # Each worker node has one CPU, so one thread; CPU float sums depend on the thread
           # count, so the local run uses one thread too ("the same kind of device").
           "OMP_NUM_THREADS": "1"}
    with ThreadPoolExecutor(2) as both:           # at once: the worker nodes do not wait for the local run
        local_run = both.submit(run_shade, ["protect", *images, "--out", tmp_path / "local", *CLI_OPTIONS], env)
        remote = run_shade(["protect", *images, "--out", tmp_path / "ray", "--ray", ray_cluster.address, "--json",
                            *CLI_OPTIONS], env)
        local = local_run.result()
    assert local.returncode == 0, local.stderr
    assert remote.returncode == 0, remote.stderr
    shaded = sorted(p.name for p in (tmp_path / "ray").iterdir() if p.suffix == ".png")
    assert shaded == sorted(p.name for p in (tmp_path / "local").iterdir())
    assert len(shaded) == 12
    for name in shaded:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
        assert (tmp_path / "ray" / name).read_bytes() != (tmp_path / "in" / name).read_bytes()
    rows = manifest_rows(tmp_path / "ray")
    assert done_inputs(rows) == sorted(str(p.resolve()) for p in images)
    assert len({r["worker"].split("/")[0] for r in rows}) == 2, "both worker nodes should have shaded"
    printed = [json.loads(line) for line in remote.stdout.splitlines()]
    assert len(printed) == 12 and all(p["seed"] == SEED for p in printed)


def test_a_worker_node_killed_mid_run_still_completes_each_image_once(ray_cluster, plumbing_model_dir, tmp_path):
    from shade_daemon.cluster.batch import run_batch

    images = tiny_images(tmp_path / "in", 8)
    killed = []

    def kill_first_worker(row: dict) -> None:
        if killed:
            return
        node_prefix = row["worker"].split("/")[0]
        victim = next(n for n in ray_cluster.worker_nodes if n.node_id.startswith(node_prefix))
        ray_cluster.remove_node(victim, allow_graceful=False)
        killed.append(victim)

    try:
        report = run_batch(images, tmp_path / "out", options(plumbing_model_dir), on_row=kill_first_worker)
    finally:
        if killed:
            add_worker(ray_cluster)      # the next tests get two workers again
    assert killed
    assert report.failed == 0 and report.done == 8
    rows = manifest_rows(tmp_path / "out")
    assert done_inputs(rows) == sorted(str(p.resolve()) for p in images)       # each exactly once
    assert len(rows) == 8
    written = sorted(p.name for p in (tmp_path / "out").iterdir() if p.suffix == ".png")
    assert written == sorted(p.name for p in images)                        # no duplicates, no leftovers
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".shade-")]


def test_a_second_run_after_an_interrupted_one_shades_only_what_is_missing(ray_cluster, plumbing_model_dir,
                                                                          tmp_path):
    from shade_daemon.cluster.batch import run_batch

    images = tiny_images(tmp_path / "in", 8)
    seen = []

    def interrupt_after_three(row: dict) -> None:
        seen.append(row)
        if len(seen) == 3:
            raise KeyboardInterrupt      # Ctrl-C in the middle of the batch

    with pytest.raises(KeyboardInterrupt):
        run_batch(images, tmp_path / "out", options(plumbing_model_dir), on_row=interrupt_after_three)
    assert len(done_inputs(manifest_rows(tmp_path / "out"))) == 3

    again = run_batch(images, tmp_path / "out", options(plumbing_model_dir))
    assert (again.skipped, again.done, again.failed) == (3, 5, 0)
    rows = manifest_rows(tmp_path / "out")
    assert done_inputs(rows) == sorted(str(p.resolve()) for p in images)
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.suffix == ".png") == sorted(p.name for p in images)

    third = run_batch(images, tmp_path / "out", options(plumbing_model_dir))
    assert (third.skipped, third.done, third.failed) == (8, 0, 0)


def test_a_corrupt_and_a_too_large_image_are_rows_with_their_errors(ray_cluster, plumbing_model_dir, tmp_path):
    from shade_daemon.cluster.batch import run_batch
    from shading import ShadeError, protect

    good = tiny_images(tmp_path / "in", 3)
    corrupt = tmp_path / "in" / "corrupt.png"
    corrupt.write_bytes(b"this is no picture at all" * 20)
    large = tmp_path / "in" / "large.png"
    large.write_bytes(image_bytes((200, 160)))
    opts = options(plumbing_model_dir, max_pixels=10_000)
    report = run_batch([good[0], corrupt, good[1], large, good[2]], tmp_path / "out", opts)
    assert (report.done, report.failed) == (3, 2)
    rows = {Path(r["input"]).name: r for r in manifest_rows(tmp_path / "out")}
    for bad in (corrupt, large):
        with pytest.raises(ShadeError) as local:
            protect(bad.resolve(), opts)          # the message a local run gives
        assert rows[bad.name]["status"] == "failed"
        assert rows[bad.name]["error"]["message"] == str(local.value)
        assert rows[bad.name]["error"]["code"] == type(local.value).__name__
    assert rows["large.png"]["error"]["code"] == "ImageTooLarge"
    assert {rows[p.name]["status"] for p in good} == {"done"}

    # Fixed and run again: only the two are tried again.
    corrupt.write_bytes(image_bytes((64, 48)))
    again = run_batch([good[0], corrupt, good[1], large, good[2]], tmp_path / "out", opts)
    assert (again.skipped, again.done, again.failed) == (3, 1, 1)
