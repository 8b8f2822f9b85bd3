"""Issue 14's progress across crashes: a running job's optimizer state is checkpointed in
its folder (shade_daemon.service.resume), a kill -9 and a restart resume it from there,
and the checkpoint goes when the job ends (done, failed, cancelled). Against the real
daemon subprocess on loopback with real files and signals, and the store on disk."""

from __future__ import annotations

import logging
import os
import pickle
import sqlite3
import stat
import urllib.request
from pathlib import Path

import pytest
import torch

from shade_daemon.service.resume import FileCheckpoint, job_seed
from shade_daemon.service.store import CHECKPOINT_FILE, MAX_CRASHES, JobStore
from shadetest import auth, image_bytes, loopback_daemon, poll_until, upload, wait_until

pytestmark = [pytest.mark.timeout(300)]

STEPS = 240             # enough that the kill lands mid-way on any machine
AT_LEAST = 8            # the kill waits for a checkpoint at this step or later





def _checkpoint(env: dict, job_id: str) -> Path:
    return Path(env["SHADE_HOME"]) / "data" / "jobs" / job_id / CHECKPOINT_FILE


def _saved_step(path: Path) -> int:
    """The step of the state in ``path``; -1 while there is none."""
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["shader"]["steps_done"])
    except FileNotFoundError:
        return -1


def _attempts(env: dict, job_id: str) -> int:
    db = sqlite3.connect(Path(env["SHADE_HOME"]) / "data" / "jobs.sqlite3")
    try:
        return int(db.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()[0])
    finally:
        db.close()


def test_kill9_then_restart_resumes_from_the_checkpoint(proc_env, tmp_path, daemons):
    env = dict(proc_env, SHADE_STEPS=str(STEPS))
    d = loopback_daemon(env, tmp_path)
    daemons.append(d)
    job_id = d.upload(image_bytes((96, 80)), "long.png")
    path = _checkpoint(env, job_id)
    wait_until(lambda: _saved_step(path) >= AT_LEAST, 120, 0.02, "a checkpoint")
    d.proc.kill()                                                   # kill -9
    d.proc.wait(10)
    killed_at = _saved_step(path)                                   # what the crash left
    assert AT_LEAST <= killed_at < STEPS and killed_at % 4 == 0, killed_at
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    d2 = loopback_daemon(env, tmp_path)
    daemons.append(d2)
    job = d2.wait_job(job_id, lambda j: j["status"] in ("done", "failed", "cancelled"), 240)
    assert job["status"] == "done", job
    m = job["measurements"]
    assert m["resumed_from_step"] == killed_at, m                   # not from step 0
    assert m["steps"] == STEPS and m["seed"] == job_seed(job_id)
    assert _attempts(env, job_id) == 2
    assert "resuming the optimization at step" in d2.log()
    req = urllib.request.Request(d2.url + job["result_url"], headers={"Authorization": f"Bearer {d2.token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.headers["Content-Type"] == "image/png" and r.read().startswith(b"\x89PNG")
    assert not path.exists()                                        # the job ended: its checkpoint went
    assert not [p.name for p in path.parent.iterdir() if p.name.startswith(".shade-")]
    assert d2.stop() == 0


async def test_a_cancelled_running_job_leaves_no_checkpoint(make_client, settings_paths):
    client, token, app = await make_client(steps=4000)
    job_id = (await (await upload(client, token, image_bytes())).json())["id"]
    _, paths = settings_paths()
    path = paths.data_dir / "jobs" / job_id / CHECKPOINT_FILE
    await poll_until(lambda: _saved_step(path) >= 4, 120, what="a checkpoint")
    r = await client.delete(f"/v1/jobs/{job_id}", headers=auth(token))
    assert r.status == 200 and (await r.json())["status"] == "cancelled"
    assert not path.exists()


# --- the store: the checkpoint lives as long as the job is unfinished ----------------------------
def _add(store: JobStore) -> str:
    job_id = store.new_job_id()
    store.job_dir(job_id).mkdir(parents=True)
    (store.job_dir(job_id) / "input.png").write_bytes(b"x")
    store.add(job_id, source="api", filename="a.png", options={"mode": "poison"}, input_file="input.png")
    return job_id


def _with_checkpoint(store: JobStore, job_id: str) -> Path:
    FileCheckpoint(store.checkpoint_path(job_id)).save({"shader": {"steps_done": 4}})
    return store.checkpoint_path(job_id)


def test_the_store_removes_the_checkpoint_when_the_job_ends(tmp_path):
    store = JobStore(tmp_path)
    # Kept while the job may run again: a crash (recovered) and a graceful re-queue.
    kept = _add(store)
    store.claim_next()
    path = _with_checkpoint(store, kept)
    assert store.recover() == 1 and path.exists()
    store.claim_next()
    store.requeue(kept)
    assert path.exists()
    store.finish_done(kept, "result.png", "PNG", {})
    assert not path.exists()
    # Cancelled while queued again after a crash; failed.
    cancelled = _add(store)
    path = _with_checkpoint(store, cancelled)
    assert store.cancel_if_queued(cancelled) and not path.exists()
    failed = _add(store)
    store.claim_next()
    path = _with_checkpoint(store, failed)
    store.finish_failed(failed, "boom", "it failed")
    assert not path.exists()
    # Given up after MAX_CRASHES crashes.
    crashing = _add(store)
    for _ in range(MAX_CRASHES):
        assert store.claim_next().id == crashing
        path = _with_checkpoint(store, crashing)
        store.recover()
    assert store.get(crashing).status == "failed" and not path.exists()
    # Left by a crash between the end of a job and the file's removal: gone at the next start.
    stale = _with_checkpoint(store, kept)
    assert store.clean_leftovers() >= 1 and not stale.exists()


def test_file_checkpoint_is_private_whole_and_never_runs_code(tmp_path, caplog):
    path = tmp_path / CHECKPOINT_FILE
    cp = FileCheckpoint(path)
    assert cp.load() is None
    state = {"format": 1, "fingerprint": "abc", "shader": {"u": torch.arange(6.0).reshape(1, 1, 2, 3),
                                                           "generator": torch.Generator().get_state(),
                                                           "scale": 0.01, "away": None, "scales": [[1.5]]}}
    old = os.umask(0)
    try:
        cp.save(state)
        cp.save(state)                                           # replaces, leaves no temporary file
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_FILE]
    back = cp.load()
    assert torch.equal(back["shader"]["u"], state["shader"]["u"]) and back["shader"]["scales"] == [[1.5]]
    # A damaged file, or one holding code to run, is no state (and the code does not run).
    for bad in (b"\x00garbage", pickle.dumps(_Boom(tmp_path / "boom"), protocol=2)):
        path.write_bytes(bad)
        with caplog.at_level(logging.WARNING, logger="shade.daemon"):
            assert cp.load() is None
    assert not (tmp_path / "boom").exists()
    assert "could not be read" in caplog.text
    cp.remove()
    assert not path.exists()


class _Boom:
    """Unpickled by a trusting loader, it creates a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_job_seed_is_fixed_per_job_and_differs_between_jobs():
    assert job_seed("0123abcd") == job_seed("0123abcd")
    seeds = {job_seed(f"{i:032x}") for i in range(50)}
    assert len(seeds) == 50 and all(0 <= s < 2 ** 31 for s in seeds)
