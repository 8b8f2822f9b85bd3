"""Faults around jobs (issue 28, the audit's findings): the worker survives any exception
around a job, health tells the truth and a dead worker is restarted, a full disk (a real
4 MB tmpfs) answers "not enough disk space" with nothing half-written and the queue moves
on once space is freed, a corrupt store is set aside, audits have their own threads, and
a result that cannot be delivered is reported with the original kept."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from shade_daemon.http.keys import SERVICE
from shadetest import auth, image_bytes, poll_until, upload, wait_job


async def _health(client) -> dict:
    r = await client.get("/v1/health")
    assert r.status == 200
    return await r.json()


# --- the worker survives ------------------------------------------------------------------------
async def test_worker_survives_store_faults_around_a_job(make_client, monkeypatch):
    client, token, app = await make_client()
    service = app[SERVICE]
    store = service.store
    real_claim = store.claim_next
    faults = {"left": 3}

    def failing_claim():
        if faults["left"] > 0:
            faults["left"] -= 1
            raise sqlite3.OperationalError("database or disk is full")
        return real_claim()

    monkeypatch.setattr("shade_daemon.service.worker.RETRY_AFTER_FAULT", 0.05)
    monkeypatch.setattr(store, "claim_next", failing_claim)
    job_id = (await (await upload(client, token, image_bytes())).json())["id"]
    job = await wait_job(client, token, job_id, timeout=60)
    assert job["status"] == "done", job
    assert faults["left"] == 0 and service.worker.alive()
    status = await (await client.get("/v1/status", headers=auth(token))).json()
    assert "disk space" in (status["last_error"] or "")


async def test_a_failure_that_cannot_be_recorded_is_recorded_later(make_client, monkeypatch):
    client, token, app = await make_client()
    service = app[SERVICE]
    store = service.store
    real_fail = store.finish_failed
    refused = {"left": 2}

    def protect_fails(*args, **kwargs):
        raise OSError(28, "No space left on device")

    def flaky_finish_failed(*args, **kwargs):
        if refused["left"] > 0:
            refused["left"] -= 1
            raise sqlite3.OperationalError("database or disk is full")
        return real_fail(*args, **kwargs)

    monkeypatch.setattr("shade_daemon.service.worker.RETRY_AFTER_FAULT", 0.05)
    monkeypatch.setattr(service.core, "protect", protect_fails)
    monkeypatch.setattr(store, "finish_failed", flaky_finish_failed)
    first = (await (await upload(client, token, image_bytes())).json())["id"]
    job = await wait_job(client, token, first, timeout=60)
    assert job["status"] == "failed" and job["error"]["code"] == "disk_full", job
    assert "not enough disk space" in job["error"]["message"]
    monkeypatch.undo()
    second = (await (await upload(client, token, image_bytes())).json())["id"]
    assert (await wait_job(client, token, second, timeout=60))["status"] == "done"
    assert service.worker.alive()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")     # the kill itself
async def test_health_reports_a_dead_worker_and_the_daemon_restarts_it(make_client, monkeypatch):
    client, token, app = await make_client()
    service = app[SERVICE]
    assert (await _health(client))["ok"] is True
    await client.post("/v1/pause", headers=auth(token))
    # Kill the worker thread the way no guard can catch (a BaseException), while the
    # supervisor is held back, so the dead worker can be seen.
    monkeypatch.setattr(service, "supervise", lambda: None)
    real_turn = service.worker._turn

    class Killed(BaseException):
        pass

    def dying_turn():
        raise Killed()

    monkeypatch.setattr(service.worker, "_turn", dying_turn)
    service.worker.resume()
    await poll_until(lambda: not service.worker.alive(), 10, 0.02, "the worker's death")
    health = await _health(client)
    assert health["ok"] is False and "not running" in health["problem"] and health["worker"]["alive"] is False
    monkeypatch.setattr(service.worker, "_turn", real_turn)
    monkeypatch.undo()                                        # the supervisor again
    await poll_until(lambda: service.worker.alive(), 10, 0.05, "the restart")
    health = await _health(client)
    assert health["ok"] is True and health["worker"]["restarts"] == 1
    job_id = (await (await upload(client, token, image_bytes())).json())["id"]
    assert (await wait_job(client, token, job_id, timeout=60))["status"] == "done"


async def test_a_stuck_worker_is_replaced_and_its_job_fails_clearly(make_client, monkeypatch):
    client, token, app = await make_client(worker_stuck_seconds=1)
    service = app[SERVICE]
    release = threading.Event()
    real_protect = service.core.protect

    def hangs(*args, **kwargs):
        release.wait(30)          # no progress at all: the state the audit called stuck
        raise RuntimeError("woke up too late")

    monkeypatch.setattr(service.core, "protect", hangs)
    stuck = (await (await upload(client, token, image_bytes())).json())["id"]
    job = await wait_job(client, token, stuck, timeout=30)
    assert job["status"] == "failed" and job["error"]["code"] == "worker_restarted", job
    assert "restarted" in job["error"]["message"]
    monkeypatch.setattr(service.core, "protect", real_protect)
    release.set()                 # the old thread wakes: what it does now is not recorded
    after = (await (await upload(client, token, image_bytes())).json())["id"]
    assert (await wait_job(client, token, after, timeout=60))["status"] == "done"
    assert (await wait_job(client, token, stuck))["error"]["code"] == "worker_restarted"
    assert (await _health(client))["ok"] is True and service.worker.restarts == 1


# --- a full disk --------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A real 4 MB file system (tmpfs), mounted for this test; skipped where it cannot be."""
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _fill(folder: Path) -> Path:
    """Fill the file system holding ``folder`` to the last byte."""
    filler = folder / "filler.bin"
    for _ in range(3):          # again after a moment: space the daemon frees meanwhile is taken too
        with open(filler, "ab", buffering=0) as fh:
            for block in (65536, 512):
                try:
                    while True:
                        fh.write(b"\0" * block)
                except OSError:
                    pass
        time.sleep(0.1)
    return filler


def _leftovers(data: Path) -> list[Path]:
    found = [p for p in (data / "incoming").iterdir()]
    for jdir in (data / "jobs").iterdir():
        found += [p for p in jdir.iterdir() if p.name.startswith(".shade-") or p.name.startswith("result")]
    return found


async def test_a_full_disk_is_said_plainly_and_the_queue_moves_on_once_freed(make_client, small_disk, monkeypatch):
    monkeypatch.setattr("shade_daemon.service.worker.RETRY_AFTER_FAULT", 0.1)
    client, token, app = await make_client(home=small_disk / "home")
    data = small_disk / "home" / "data"
    service = app[SERVICE]
    ok = (await (await upload(client, token, image_bytes())).json())["id"]
    assert (await wait_job(client, token, ok, timeout=60))["status"] == "done"
    assert (await _health(client))["ok"] is True

    filler = _fill(small_disk)
    jobs_before = set(os.listdir(data / "jobs"))
    r = await upload(client, token, image_bytes((320, 240)))
    body = await r.json()
    assert r.status == 507 and body["error"]["code"] == "disk_full", body
    assert "not enough disk space" in body["error"]["message"] and "free some space" in body["error"]["message"]
    assert set(os.listdir(data / "jobs")) == jobs_before and not list((data / "incoming").iterdir())
    health = await _health(client)
    assert health["ok"] is False and "disk space" in health["problem"] and health["worker"]["alive"] is True

    # Mid-job: the job is held once it runs, the disk fills, the job goes on and fails plainly.
    filler.unlink()
    reached, gate = threading.Event(), threading.Event()
    real_protect = service.core.protect

    def gated(path, options, progress, checkpoint=None):
        def held_once(step, total, stage):
            if stage == "optimize" and not reached.is_set():
                reached.set()
                gate.wait(30)
            progress(step, total, stage)
        return real_protect(path, options, held_once, checkpoint)

    monkeypatch.setattr(service.core, "protect", gated)
    held = (await (await upload(client, token, image_bytes())).json())["id"]
    await poll_until(reached.is_set, 60, 0.02, "the job to be under way")
    filler = _fill(small_disk)
    gate.set()
    await poll_until(lambda: service.worker.last_error and "disk space" in service.worker.last_error, 30, 0.05,
                     "the worker hearing of the full disk")
    assert service.worker.alive()
    assert (await _health(client))["ok"] is False
    filler.unlink()                                           # space again: the failure is recorded, the queue moves
    job = await wait_job(client, token, held, timeout=60)
    assert job["status"] == "failed" and job["error"]["code"] == "disk_full", job
    assert "not enough disk space" in job["error"]["message"]
    assert not [p for p in _leftovers(data) if p.parent.name == held and p.name.startswith(".shade-")]
    after = (await (await upload(client, token, image_bytes())).json())["id"]
    assert (await wait_job(client, token, after, timeout=60))["status"] == "done"
    assert (await _health(client))["ok"] is True and service.worker.alive()


# --- a corrupt store at start-up -------------------------------------------------------------------
async def test_a_corrupt_store_is_set_aside_and_the_daemon_starts(make_client, settings_paths, caplog):
    settings, paths = settings_paths()
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    (paths.data_dir / "jobs.sqlite3").write_bytes(b"this is not a database, and never was" * 200)
    (paths.data_dir / "jobs").mkdir()
    (paths.data_dir / "jobs" / "0123abcd").mkdir()
    with caplog.at_level("ERROR", logger="shade.daemon"):
        client, token, app = await make_client()
    aside = [p for p in paths.data_dir.iterdir() if p.name.startswith("damaged-")]
    assert len(aside) == 1
    assert (aside[0] / "jobs.sqlite3").read_bytes().startswith(b"this is not a database")
    assert (aside[0] / "jobs" / "0123abcd").is_dir()             # the job folders it described, kept with it
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "could not be read" in logged and aside[0].name in logged and "sent again" in logged
    job_id = (await (await upload(client, token, image_bytes())).json())["id"]
    assert (await wait_job(client, token, job_id, timeout=60))["status"] == "done"


# --- audits have their own threads -----------------------------------------------------------------
async def test_audits_never_hold_up_uploads(make_client, monkeypatch):
    client, token, app = await make_client(max_audits=1)
    service = app[SERVICE]
    release = threading.Event()
    started = threading.Event()

    def slow_audit(*args, **kwargs):
        started.set()
        release.wait(30)
        raise RuntimeError("released")

    monkeypatch.setattr(service.core, "audit", slow_audit)
    await client.post("/v1/pause", headers=auth(token))
    import aiohttp

    async def one_audit():
        form = aiohttp.FormData()
        form.add_field("posted", image_bytes(), filename="posted.png", content_type="image/png")
        form.add_field("original", image_bytes(), filename="original.png", content_type="image/png")
        return await client.post("/v1/audits", data=form, headers=auth(token))

    audits = [asyncio.ensure_future(one_audit()) for _ in range(7)]
    await poll_until(started.is_set, 30, 0.02, "the first audit")
    t0 = time.monotonic()
    uploads = await asyncio.gather(*(upload(client, token, image_bytes()) for _ in range(4)))
    assert [r.status for r in uploads] == [202] * 4
    assert time.monotonic() - t0 < 10, "uploads waited for the audits"
    release.set()
    for r in await asyncio.gather(*audits):
        assert r.status == 500            # the stand-in fails; what matters is that uploads did not wait


# --- a result that cannot be delivered ----------------------------------------------------------
async def test_a_read_only_ready_folder_fails_the_job_and_keeps_the_original(make_client, settings_paths):
    from shade_daemon.service.folder import FolderLayout

    settings, _ = settings_paths()
    layout = FolderLayout.beside(settings.watch_folder).ensure()
    if os.geteuid() != 0:
        pytest.skip("mounting a read-only file system needs root (permissions do not stop root)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(layout.ready)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        client, token, app = await make_client(watch=True)
        (layout.to_post / "mine.png").write_bytes(image_bytes())

        async def failed_job():
            jobs = (await (await client.get("/v1/jobs", headers=auth(token))).json())["jobs"]
            return [j for j in jobs if j["status"] == "failed"]

        (job,) = await poll_until(failed_job, 90, 0.1, "the folder job to fail")
        assert job["error"]["code"] == "storage_error", job
        assert "ready folder" in job["error"]["message"] and "original stays in to-post" in job["error"]["message"]
        assert "/" + str(layout.ready).strip("/") not in job["error"]["message"]       # no server path
        status = await (await client.get("/v1/status", headers=auth(token))).json()
        assert "ready folder" in (status["last_error"] or "")
        assert (layout.to_post / "mine.png").read_bytes() == image_bytes()              # kept, untouched
        assert not list(layout.rejected.rglob("*")) and not list(layout.originals.rglob("*"))
        await asyncio.sleep(1.0)                                                           # no loop of new jobs
        jobs = (await (await client.get("/v1/jobs", headers=auth(token))).json())["jobs"]
        assert len(jobs) == 1
    finally:
        subprocess.run(["umount", "-l", str(layout.ready)], capture_output=True)
