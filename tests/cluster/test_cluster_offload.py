"""The daemon's ``cluster`` setting: jobs shade on a real cluster with progress on the job's
SSE stream, and a cluster stopped in the middle of a job leaves it queued, not lost."""

from __future__ import annotations

import json
import os
import threading
import urllib.request

import pytest

pytest.importorskip("ray", reason="needs Ray: install the extra shade-art[cluster] (part of dev)")

from shadetest import RANDOM_ENCODER, image_bytes, loopback_daemon  # noqa: E402
from shadetest.raycluster import start_cluster  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    cluster = start_cluster(join=False)
    yield cluster
    cluster.shutdown()          # the last test stops it itself; shutting down again is harmless


@pytest.fixture(scope="module")
def daemon(cluster, plumbing_model_dir, tmp_path_factory):
    home = tmp_path_factory.mktemp("offload-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHADE_")}
    env.update(SHADE_HOME=str(home), SHADE_MODEL_DIR=str(plumbing_model_dir), SHADE_ENCODERS=RANDOM_ENCODER,
               SHADE_DEVICE="cpu", SHADE_QUALITY="fast", SHADE_STEPS="4", SHADE_VIEW_SIZE="64",
               SHADE_TOKEN_STORE="file", SHADE_CLUSTER=cluster.address, OMP_NUM_THREADS="1",
               SHADE_CHANNELS="latent")
    d = loopback_daemon(env, home)
    yield d
    d.stop()


def sse_events(daemon, job_id: str, into: list, done: threading.Event) -> None:
    req = urllib.request.Request(f"{daemon.url}/v1/jobs/{job_id}/events",
                                 headers={"Authorization": f"Bearer {daemon.token}"})
    event = None
    with urllib.request.urlopen(req, timeout=120) as stream:
        for raw in stream:
            line = raw.decode().strip()
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                into.append((event, json.loads(line.split(":", 1)[1])))
    done.set()


def test_jobs_run_on_the_cluster_with_progress(daemon, cluster):
    job_id = daemon.upload(image_bytes((96, 72)))
    events: list = []
    done = threading.Event()
    threading.Thread(target=sse_events, args=(daemon, job_id, events, done), daemon=True).start()
    job = daemon.wait_job(job_id, lambda j: j["status"] in ("done", "failed"), timeout=150)
    assert job["status"] == "done", (job, daemon.log()[-3000:])
    assert done.wait(30)
    assert [e for e, _ in events if e == "progress"], events
    assert events[-1][0] == "state" and events[-1][1]["status"] == "done"
    shaded_on = json.dumps(job)
    assert f"cluster {cluster.address}" in shaded_on          # measured where it ran: on a worker node
    status, result = daemon.request("GET", f"/v1/jobs/{job_id}/result")
    assert status == 200 and isinstance(result, bytes) and result[:4] == b"\x89PNG"
    status, info = daemon.request("GET", "/v1/status")
    assert info["models"].get("cluster", {}).get("state", "ok") == "ok"


def test_a_cluster_stopped_mid_job_leaves_the_job_queued(daemon, cluster):
    job_id = daemon.upload(image_bytes((400, 300)))          # long enough to stop the cluster under it
    daemon.wait_job(job_id, lambda j: j["status"] == "running" and (j.get("progress") or 0) > 0, timeout=120)
    cluster.shutdown()
    job = daemon.wait_job(job_id, lambda j: j["status"] != "running", timeout=90)
    assert job["status"] == "queued", (job, daemon.log()[-3000:])
    status, info = daemon.request("GET", "/v1/status")
    assert info["models"]["cluster"]["state"] == "unreachable"
    assert "cluster" in (info["last_error"] or "")
    # Still queued a while later: waiting for the cluster, never failed.
    job = daemon.wait_job(job_id, lambda j: j["status"] in ("queued", "running", "failed"), timeout=30)
    assert job["status"] in ("queued", "running")


def test_an_unreachable_cluster_lets_the_local_worker_take_over_when_allowed(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from shade_daemon.cluster import ClusterUnavailable, offload

    monkeypatch.setenv("RAY_gcs_rpc_server_reconnect_timeout_s", "2")
    image = tmp_path / "art.png"
    image.write_bytes(image_bytes((64, 48)))
    nobody = f"127.0.0.1:{free_port()}"
    settings = SimpleNamespace(cluster=nobody, cluster_fallback="local")
    from shading import ProtectOptions

    assert offload.protect_offloaded(settings, image, ProtectOptions(target="cat"), lambda *a: None, local=lambda: "shaded here") \
        == "shaded here"
    assert offload.cluster_state["state"] == "unreachable" and nobody in offload.cluster_state["error"]

    settings.cluster_fallback = "wait"
    monkeypatch.setattr(offload, "run_remote", lambda *a, **k: (_ for _ in ()).throw(ClusterUnavailable("away")))
    with pytest.raises(ClusterUnavailable):
        offload.protect_offloaded(settings, image, object(), lambda *a: None, local=lambda: pytest.fail("ran here"))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
