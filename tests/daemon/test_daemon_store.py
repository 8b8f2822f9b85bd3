"""The SQLite job store on disk: WAL, crash recovery, a job that keeps crashing the
daemon is given up (its input kept), graceful re-queue, retention."""

from __future__ import annotations

import sqlite3
import time

from shade_daemon.service.store import MAX_CRASHES, JobStore


def _add(store: JobStore, folder=None):
    job_id = store.new_job_id()
    store.job_dir(job_id).mkdir(parents=True)
    (store.job_dir(job_id) / "input.png").write_bytes(b"x")
    return store.add(job_id, source="folder" if folder else "api", filename="a.png", options={"mode": "poison"},
                     input_file="input.png", folder=folder)


def test_wal_and_recovery_after_crash(tmp_path):
    store = JobStore(tmp_path)
    a, b = _add(store), _add(store)
    assert store.claim_next().id == a.id
    store.close()                                              # the process "dies" with a running
    db = sqlite3.connect(tmp_path / "jobs.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    store = JobStore(tmp_path)
    assert store.recover() == 1
    assert store.get(a.id).status == "queued" and store.get(b.id).status == "queued"
    assert store.claim_next().id == a.id                       # keeps its place at the front


def test_job_that_keeps_crashing_is_given_up(tmp_path):
    store = JobStore(tmp_path)
    job = _add(store)
    for _ in range(MAX_CRASHES - 1):
        assert store.claim_next().id == job.id
        assert store.recover() == 1
    assert store.claim_next().id == job.id
    assert store.recover() == 0
    failed = store.get(job.id)
    assert failed.status == "failed" and failed.error_code == "crashed"
    assert (store.job_dir(job.id) / "input.png").exists()       # the input is kept


def test_graceful_requeue_does_not_count_as_crash(tmp_path):
    store = JobStore(tmp_path)
    job = _add(store)
    for _ in range(MAX_CRASHES + 2):
        assert store.claim_next().id == job.id
        store.requeue(job.id)
    assert store.get(job.id).status == "queued" and store.get(job.id).attempts == 0


def test_prune_keeps_unfinished_and_undelivered(tmp_path):
    store = JobStore(tmp_path)
    done = _add(store)
    store.claim_next()
    store.finish_done(done.id, "result.png", "PNG", {"psnr": 40.0})
    undelivered = _add(store, folder={"src": "/x/a.png", "rel": "a.png", "delivered": False})
    store.claim_next()
    store.finish_failed(undelivered.id, "bad_image", "broken")
    waiting = _add(store)
    removed = store.prune(time.time() + 1)
    assert removed == [done.id]
    assert store.get(done.id) is None and not store.job_dir(done.id).exists()
    assert store.get(undelivered.id) is not None and store.get(waiting.id).status == "queued"
    assert store.prune(time.time() - 3600) == []


def test_measurements_are_always_valid_json(tmp_path):
    """NaN or infinite measurements become null: browsers' JSON.parse refuses NaN."""
    import json

    store = JobStore(tmp_path)
    job = store.add(store.new_job_id(), source="api", filename="a.png", options={}, input_file="input.png")
    store.claim_next()
    done = store.finish_done(job.id, "result.png", "PNG", {"ssim": float("nan"), "r": {"x": float("inf")}, "ok": 1.5})
    assert done.measurements == {"ssim": None, "r": {"x": None}, "ok": 1.5}
    json.loads(json.dumps(done.measurements, allow_nan=False))
    store.close()
