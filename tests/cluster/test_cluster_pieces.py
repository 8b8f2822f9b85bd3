"""The cluster package's pieces that need no cluster (and no Ray): the address, the clear
message when Ray is missing, the API keys, the manifest and the cluster bench's arithmetic."""

from __future__ import annotations

import json
import sys

import pytest

from shade_daemon.cluster import EXTRA_HINT, ClusterError, require_ray
from shade_daemon.cluster.bench import core_sets, pipeline_figures
from shade_daemon.cluster.connect import resolve_address
from shade_daemon.cluster.jobs import JobsFull, JobStore
from shade_daemon.cluster.keys import digest, key_allowed, load_key_digests
from shade_daemon.cluster.manifest import DONE, FAILED, MANIFEST_NAME, Manifest, sha256_bytes


def test_a_missing_ray_is_one_clear_message_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)        # what an install without the extra sees
    with pytest.raises(ClusterError) as exc:
        require_ray()
    assert EXTRA_HINT in str(exc.value) and "shade-art[cluster]" in str(exc.value)


def test_addresses_come_from_the_flag_or_the_environment_and_are_checked():
    assert resolve_address(None, {}) is None
    assert resolve_address(None, {"SHADE_RAY_ADDRESS": "auto"}) == "auto"
    assert resolve_address("ray://head:10001", {"SHADE_RAY_ADDRESS": "auto"}) == "ray://head:10001"
    assert resolve_address("10.0.0.5:6379", {}) == "10.0.0.5:6379"
    assert resolve_address("local", {}) == "local"
    for bad in ("head", "http://head:8265", "head:port"):
        with pytest.raises(ClusterError):
            resolve_address(bad, {})


def test_api_keys_are_required_long_and_compared_by_digest(tmp_path):
    with pytest.raises(ClusterError, match="never serves anonymously"):
        load_key_digests(None, {})
    with pytest.raises(ClusterError, match="shorter than"):
        load_key_digests(None, {"SHADE_API_KEYS": "short"})
    keys = tmp_path / "keys"
    keys.write_text("# the platform's keys\n" + "a" * 20 + "\n\n")
    digests = load_key_digests(keys, {"SHADE_API_KEYS": "b" * 20 + ", " + "c" * 20})
    assert set(digests) == {digest("a" * 20), digest("b" * 20), digest("c" * 20)}
    assert "a" * 20 not in json.dumps(digests)            # only digests travel to the cluster
    assert key_allowed("b" * 20, digests)
    for wrong in (None, "", "b" * 19, "b" * 21, "B" * 20):
        assert not key_allowed(wrong, digests)


def test_the_manifest_skips_only_the_same_file_done_and_survives_a_torn_line(tmp_path):
    src = tmp_path / "art.png"
    src.write_bytes(b"one")
    manifest = Manifest.open(tmp_path / "out")
    manifest.append({"input": str(src.resolve()), "input_sha256": sha256_bytes(b"one"), "status": FAILED})
    assert manifest.done_for(src, sha256_bytes(b"one")) is None           # failed: tried again
    manifest.append({"input": str(src.resolve()), "input_sha256": sha256_bytes(b"one"), "status": DONE})
    with open(tmp_path / "out" / MANIFEST_NAME, "a") as fh:
        fh.write('{"input": "torn by a cr')                                # a crash mid-line
    again = Manifest.open(tmp_path / "out")
    assert len(again.rows) == 2
    assert again.done_for(src, sha256_bytes(b"one")) is not None
    assert again.done_for(src, sha256_bytes(b"changed")) is None           # edited since: shaded again


def test_the_bench_gives_each_node_its_own_cores_and_says_when_it_cannot():
    sets, separate = core_sets([0, 1, 2, 3, 4, 5, 6, 7], 3, 2)
    assert sets == [{0, 1, 2}, {3, 4, 5}] and separate
    sets, separate = core_sets([0, 1], 2, 2)
    assert sets == [{0, 1}, {0, 1}] and not separate


def test_the_bench_splits_the_pipelines_start_from_its_steady_cost_per_image():
    # Two workers, a local image of 10 s: the first two results at 15 s and 16 s (start 5 s),
    # then one every 5.5 s between them, so each worker takes 11 s an image: 1 s over local.
    arrivals = [100 + t for t in (15, 16, 21.5, 27, 32.5, 38)]
    x = pipeline_figures(100.0, arrivals, 2, 10.0)
    assert x["seconds"] == 38 and x["images_per_hour"] == round(6 * 3600 / 38, 1)
    assert x["start_seconds"] == 5.0
    assert x["steady_seconds_per_image"] == pytest.approx(11.0) and x["overhead_seconds_per_image"] == pytest.approx(1.0)


def test_a_job_is_seen_only_with_its_key_and_let_go_after_its_time():
    now = [0.0]
    store = JobStore(max_bytes=1000, ttl_s=60, clock=lambda: now[0])
    job = store.add("owner-a", 100)
    assert store.get(job.id, "owner-a") is job and store.get(job.id, "owner-b") is None
    assert store.get("made-up", "owner-a") is None and len(job.id) >= 20
    store.finish(job, {"ok": True, "data": b"x" * 50, "format": "PNG", "measurements": {"seed": 1}})
    assert job.status == DONE and job.view()["measurements"] == {"seed": 1} and store.held() == 50
    now[0] = 59
    assert store.get(job.id, "owner-a") is job
    now[0] = 61
    assert store.get(job.id, "owner-a") is None


def test_the_jobs_bytes_are_bounded_oldest_finished_first_then_new_jobs_wait():
    now = [0.0]
    store = JobStore(max_bytes=300, ttl_s=3600, clock=lambda: now[0])
    first, second = store.add("k", 100), store.add("k", 100)
    store.finish(first, {"ok": False, "code": "ImageError", "error": "broken"})
    assert first.status == FAILED and first.view()["error"] == {"code": "ImageError", "message": "broken"}
    now[0] = 1
    store.finish(second, {"ok": True, "data": b"y" * 150})
    third = store.add("k", 140)                        # 150 + 140 fit
    assert store.get(second.id, "k") is second
    store.add("k", 100)                                # the finished result goes to make room
    assert store.get(second.id, "k") is None and store.get(third.id, "k") is third
    with pytest.raises(JobsFull):
        store.add("k", 100)                            # unfinished work alone would pass the bound
