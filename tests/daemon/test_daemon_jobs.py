"""Jobs through the real app and the real shading core: results, SSE progress, cancel,
pause/resume, 50 concurrent uploads with a responsive loop, retention."""

from __future__ import annotations

import asyncio
import io
import json
import statistics
import time

import aiohttp
import pytest
from PIL import Image

from shade_daemon.http.keys import SERVICE
from shadetest import auth, image_bytes, poll_until, upload, wait_job

pytestmark = [pytest.mark.timeout(240)]


async def read_sse(resp) -> list[tuple[str, dict]]:
    events, event, data = [], None, []
    async for raw in resp.content:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                events.append((event or "message", json.loads("\n".join(data))))
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    return events


async def test_job_result_and_measurements(make_client):
    client, token, _ = await make_client()
    src = image_bytes((100, 76))
    r = await upload(client, token, src, filename="My Art (final).png", target="cat", intensity="low")
    assert r.status == 202
    body = await r.json()
    assert body["status"] == "queued" and r.headers["Location"] == f"/v1/jobs/{body['id']}"
    job = await wait_job(client, token, body["id"])
    assert job["status"] == "done", job
    assert job["progress"] == 1.0 and job["error"] is None
    assert job["options"] == {"mode": "poison", "target": "cat", "intensity": "low", "quality": "fast"}
    m = job["measurements"]
    assert m["width"] == 100 and m["height"] == 76 and "psnr" in m
    res = await client.get(job["result_url"], headers=auth(token))
    assert res.status == 200
    assert res.headers["Content-Type"] == "image/png"
    cd = res.headers["Content-Disposition"]
    assert cd.startswith("attachment; ") and 'filename="My Art (final).png"' in cd
    assert "filename*=UTF-8''My%20Art%20%28final%29.png" in cd
    out = Image.open(io.BytesIO(await res.read()))
    assert out.format == "PNG" and out.size == (100, 76)
    assert out.tobytes() != Image.open(io.BytesIO(src)).convert(out.mode).tobytes()   # it was shaded
    # The result is read-only: GET again gives the same bytes; the job list shows it.
    jobs = (await (await client.get("/v1/jobs", headers=auth(token))).json())["jobs"]
    assert [j["id"] for j in jobs] == [body["id"]]


async def test_uploaded_anchor_and_jpeg(make_client, anchor_dir):
    client, token, _ = await make_client()
    form = aiohttp.FormData()
    form.add_field("image", image_bytes(fmt="JPEG"), filename="photo.jpeg", content_type="image/jpeg")
    form.add_field("anchor", (anchor_dir / "coffee.png").read_bytes(), filename="a.png")
    form.add_field("mode", "poison")
    r = await client.post("/v1/jobs", data=form, headers=auth(token))
    assert r.status == 202, await r.text()
    job = await wait_job(client, token, (await r.json())["id"])
    assert job["status"] == "done", job
    res = await client.get(job["result_url"], headers=auth(token))
    assert res.headers["Content-Type"] == "image/jpeg"
    assert 'filename="photo.jpeg"' in res.headers["Content-Disposition"]


async def test_sse_progress_then_final_state(make_client):
    client, token, app = await make_client(steps=6)
    assert (await client.post("/v1/pause", headers=auth(token))).status == 200
    job_id = (await (await upload(client, token, image_bytes())).json())["id"]
    resp = await client.get(f"/v1/jobs/{job_id}/events", headers=auth(token))
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
    reader = asyncio.create_task(read_sse(resp))
    hub = app[SERVICE].hub
    await poll_until(lambda: hub.listening(job_id), what="the stream to subscribe")
    assert (await client.post("/v1/resume", headers=auth(token))).status == 200
    events = await asyncio.wait_for(reader, 60)
    kinds = [e for e, _ in events]
    assert kinds[0] == "state" and events[0][1]["status"] == "queued"
    assert events[-1][0] == "state" and events[-1][1]["status"] == "done"
    assert events[-1][1]["result_url"] == f"/v1/jobs/{job_id}/result"
    progress = [d for e, d in events if e == "progress"]
    assert len(progress) >= 3
    steps = [(d["stage"], d["step"]) for d in progress if d["stage"] == "optimize"]
    assert [s for _, s in steps] == sorted(s for _, s in steps) and steps, progress
    assert all(0 <= d["progress"] <= 1 for d in progress)
    assert "running" in [d["status"] for e, d in events if e == "state"]
    # A finished job's stream gives its final state at once and ends.
    resp = await client.get(f"/v1/jobs/{job_id}/events", headers=auth(token))
    again = await asyncio.wait_for(read_sse(resp), 10)
    assert [(e, d["status"]) for e, d in again] == [("state", "done")]


async def test_cancel_queued_and_running(make_client):
    client, token, app = await make_client(steps=4000)
    await client.post("/v1/pause", headers=auth(token))
    queued = (await (await upload(client, token, image_bytes())).json())["id"]
    job = await (await client.get(f"/v1/jobs/{queued}", headers=auth(token))).json()
    assert job["status"] == "queued" and job["queue_position"] == 1
    r = await client.delete(f"/v1/jobs/{queued}", headers=auth(token))
    assert r.status == 200 and (await r.json())["status"] == "cancelled"
    r = await client.get(f"/v1/jobs/{queued}/result", headers=auth(token))
    assert r.status == 409 and (await r.json())["error"]["code"] == "job_not_done"
    # Running: a long job, cancelled mid-way, stops at its next step.
    running = (await (await upload(client, token, image_bytes())).json())["id"]
    await client.post("/v1/resume", headers=auth(token))
    await wait_job(client, token, running, until=lambda j: j["status"] == "running" and j["step"] >= 1)
    t0 = time.monotonic()
    r = await client.delete(f"/v1/jobs/{running}", headers=auth(token))
    assert r.status == 200, await r.text()
    job = await r.json()
    assert job["status"] == "cancelled" and job["error"]["code"] == "cancelled"
    assert time.monotonic() - t0 < 5
    # Cancelling again is harmless; an unknown job is a 404.
    assert (await client.delete(f"/v1/jobs/{running}", headers=auth(token))).status == 200
    r = await client.delete("/v1/jobs/0123456789abcdef", headers=auth(token))
    assert r.status == 404 and (await r.json())["error"]["code"] == "job_not_found"
    assert app[SERVICE].worker.current() is None


async def test_pause_holds_running_job(make_client):
    client, token, app = await make_client(steps=4000)
    job_id = (await (await upload(client, token, image_bytes())).json())["id"]
    await wait_job(client, token, job_id, until=lambda j: j["status"] == "running" and j["step"] >= 2)
    assert (await (await client.post("/v1/pause", headers=auth(token))).json())["paused"] is True
    # The step in flight finishes, then the job holds.
    await poll_until(lambda: app[SERVICE].worker.holding == job_id, 30, 0.02, "the job to hold")
    first = await (await client.get(f"/v1/jobs/{job_id}", headers=auth(token))).json()
    await asyncio.sleep(1.0)
    later = await (await client.get(f"/v1/jobs/{job_id}", headers=auth(token))).json()
    assert later["status"] == "running" and later["step"] == first["step"]      # held, not lost
    status = await (await client.get("/v1/status", headers=auth(token))).json()
    assert status["paused"] is True and status["current_job"]["id"] == job_id
    await client.post("/v1/resume", headers=auth(token))
    await wait_job(client, token, job_id, until=lambda j: j["step"] > later["step"])
    r = await client.delete(f"/v1/jobs/{job_id}", headers=auth(token))
    assert (await r.json())["status"] == "cancelled"


async def test_status(make_client):
    client, token, app = await make_client()
    async def loaded():
        status = await (await client.get("/v1/status", headers=auth(token))).json()
        return status if status["models"]["state"] != "loading" else None

    status = await poll_until(loaded, what="the model to load")
    assert status["models"]["state"] == "ready", status
    assert status["device"] == "cpu" and status["models"]["encoders"] == ["random-tiny"]
    from shading.options import INTENSITIES, MODES, QUALITIES
    assert status["choices"] == {"mode": list(MODES), "intensity": list(INTENSITIES), "quality": list(QUALITIES)}
    assert status["queue_length"] == 0 and status["current_job"] is None and status["paused"] is False
    assert {"cat", "coffee"} <= set(status["targets"])
    assert status["watched_folders"] == []
    assert status["defaults"]["quality"] == "fast"
    health = await (await client.get("/v1/health")).json()
    # Public (no token): liveness, version and the worker's health, nothing about the user's files.
    assert set(health) == {"ok", "version", "problem", "worker"}
    assert health["ok"] is True and health["problem"] is None and health["worker"]["alive"] is True


async def test_fifty_concurrent_uploads_and_responsive_loop(make_client):
    client, token, _ = await make_client(steps=2)
    latencies: list[float] = []
    done = asyncio.Event()

    async def probe():
        while not done.is_set():
            t0 = time.perf_counter()
            r = await client.get("/v1/health")
            assert r.status == 200
            latencies.append(time.perf_counter() - t0)
            await asyncio.sleep(0.05)

    prober = asyncio.create_task(probe())
    sizes = [(64 + i % 7 * 8, 48 + i % 5 * 8) for i in range(50)]
    responses = await asyncio.gather(*(upload(client, token, image_bytes(s), filename=f"img{i}.png")
                                       for i, s in enumerate(sizes)))
    assert [r.status for r in responses] == [202] * 50
    ids = [(await r.json())["id"] for r in responses]
    assert len(set(ids)) == 50
    jobs = [await wait_job(client, token, i, timeout=180) for i in ids]
    done.set()
    await prober
    assert [j["status"] for j in jobs] == ["done"] * 50
    for job, size in zip(jobs, sizes):
        r = await client.get(job["result_url"], headers=auth(token))
        assert Image.open(io.BytesIO(await r.read())).size == size
    assert len(latencies) > 10
    assert statistics.median(latencies) < 0.25 and max(latencies) < 2.0, latencies


async def test_results_are_pruned_after_retention(make_client):
    client, token, app = await make_client(result_retention_hours=0.0003)   # about 1 s
    job_id = (await (await upload(client, token, image_bytes())).json())["id"]
    job = await wait_job(client, token, job_id)
    assert job["status"] == "done"
    job_dir = app[SERVICE].store.job_dir(job_id)
    assert job_dir.is_dir()
    async def pruned():
        return (await client.get(f"/v1/jobs/{job_id}", headers=auth(token))).status == 404

    await poll_until(pruned, 10, 0.2, "the result to be pruned")
    assert not job_dir.exists()


async def test_missing_model_is_reported_and_jobs_fail_clearly(make_client, tmp_path):
    empty = tmp_path / "no-models"
    empty.mkdir()
    client, token, _ = await make_client(model_dir=empty)
    job_id = (await (await upload(client, token, image_bytes())).json())["id"]
    job = await wait_job(client, token, job_id)
    assert job["status"] == "failed" and job["error"]["code"] == "model_not_found", job
    assert job["error"]["message"]
    status = await (await client.get("/v1/status", headers=auth(token))).json()
    assert status["models"]["state"] == "error" and status["models"]["error"]
    r = await client.get(f"/v1/jobs/{job_id}/result", headers=auth(token))
    body = await r.json()
    assert r.status == 409 and body["error"]["code"] == "job_not_done" and "failed" in body["error"]["message"]
    assert (await client.get("/v1/health")).status == 200


async def test_unusable_device_is_its_own_error(make_client):
    """A configured device the machine cannot use: refused at upload with a 503 (the daemon's
    setup, not the request, and no bug: never a 500) saying which setting to change."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: --device cuda is usable here")
    client, token, _ = await make_client(device="cuda")

    async def model_failed():
        status = await (await client.get("/v1/status", headers=auth(token))).json()
        return status["models"]["state"] == "error"

    await poll_until(model_failed, 60, 0.05, "the model load to fail")
    r = await upload(client, token, image_bytes())
    body = await r.json()
    assert r.status == 503 and body["error"]["code"] == "device_unavailable", body
    message = body["error"]["message"]
    assert "device" in message and '"cpu"' in message and "SHADE_DEVICE" in message, message
    status = await (await client.get("/v1/status", headers=auth(token))).json()
    assert status["models"]["state"] == "error" and "CUDA" in status["models"]["error"]
    assert (await (await client.get("/v1/jobs", headers=auth(token))).json())["jobs"] == []
