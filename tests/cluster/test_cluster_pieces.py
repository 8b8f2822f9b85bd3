"""The cluster package's pieces that need no cluster (and no Ray): the address, the clear
message when Ray is missing, the API keys and the manifest."""

from __future__ import annotations

import json
import sys

import pytest

from shade_daemon.cluster import EXTRA_HINT, ClusterError, require_ray
from shade_daemon.cluster.connect import resolve_address
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
