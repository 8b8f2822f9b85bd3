"""`shade daemon` as a real subprocess: daemon.json, loopback-only, one instance per data
dir, graceful SIGTERM (running job re-queued), kill -9 mid-job then restart (the job
finishes), a clear refusal without a keyring, and the CLI commands around it.

The subprocess cannot see the tests' in-memory keyring, so it uses the documented
explicit file fallback (SHADE_TOKEN_STORE=file) in its temp SHADE_HOME."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from shadetest import image_bytes, loopback_daemon, run_shade

pytestmark = [pytest.mark.timeout(300)]



def shade(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return run_shade(list(args), env, timeout=timeout)





def _non_loopback_ip() -> str | None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.255.255.255", 1))
        ip = s.getsockname()[0]
        return None if ip.startswith("127.") else ip
    except OSError:
        return None
    finally:
        s.close()


def test_lifecycle_single_instance_and_cli(proc_env, tmp_path, daemons):
    d = loopback_daemon(proc_env, tmp_path)
    daemons.append(d)
    info = d.info
    assert set(info) == {"url", "pid", "version", "port"}
    assert info["url"] == f"http://127.0.0.1:{info['port']}" and info["port"] > 0
    status, health = d.request("GET", "/v1/health", auth=False)
    assert status == 200 and health == {"ok": True, "version": info["version"], "problem": None,
                                         "worker": {"alive": True, "restarts": 0}}
    # Bound to loopback only.
    ip = _non_loopback_ip()
    if ip:
        with pytest.raises(OSError):
            socket.create_connection((ip, info["port"]), timeout=2).close()
    # A second daemon on the same data refuses and says why.
    second = shade(proc_env, "daemon", "--port", "0", "--no-tray")
    assert second.returncode != 0
    assert "already running" in second.stderr and str(info["pid"]) in second.stderr
    # CLI around it.
    out = shade(proc_env, "status")
    assert out.returncode == 0 and d.url in out.stdout and "0 waiting" in out.stdout
    out = shade(proc_env, "status", "--json")
    assert json.loads(out.stdout)["paused"] is False
    out = shade(proc_env, "token")
    assert out.returncode == 0 and out.stdout.strip() == d.token
    out = shade(proc_env, "token", "--pairing-code")
    assert out.stdout.strip() == f"shade:{info['port']}:{d.token}"
    out = shade(proc_env, "config")
    assert out.returncode == 0
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("view_size"))
    assert "64" in line and "environment SHADE_VIEW_SIZE" in line
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("port"))
    assert "47821" in line and "[default]" in line
    cfg = json.loads(shade(proc_env, "config", "--json").stdout)
    assert cfg["settings"]["token_store"] == {"value": "file", "source": "environment SHADE_TOKEN_STORE"}
    # Rotation: the running daemon accepts the new token (and refuses the old one).
    new = shade(proc_env, "token", "--rotate").stdout.strip()
    assert len(new) == 43 and new != d.token
    old, d.token = d.token, new          # SHADE_TOKEN_RELOAD_SECONDS=0: re-read on the first mismatch
    assert d.request("GET", "/v1/status")[0] == 200
    d.token = old
    assert d.request("GET", "/v1/status")[0] == 401
    # Graceful stop: exit 0, daemon.json removed; `shade status` then says so.
    assert d.stop() == 0
    assert not d.info_path.exists()
    out = shade(proc_env, "status")
    assert out.returncode == 1 and "not running" in out.stderr and "shade daemon" in out.stderr


def _job_row(env: dict, job_id: str) -> dict:
    db = sqlite3.connect(Path(env["SHADE_HOME"]) / "data" / "jobs.sqlite3")
    db.row_factory = sqlite3.Row
    try:
        return dict(db.execute("SELECT status, attempts FROM jobs WHERE id = ?", (job_id,)).fetchone())
    finally:
        db.close()


def test_kill9_mid_job_then_restart_finishes(proc_env, tmp_path, daemons):
    slow = dict(proc_env, SHADE_STEPS="100000")
    d = loopback_daemon(slow, tmp_path)
    daemons.append(d)
    job_id = d.upload(image_bytes((96, 80)), "crash.png")
    d.wait_job(job_id, lambda j: j["status"] == "running" and j["step"] >= 1)
    d.proc.kill()                                                   # kill -9
    d.proc.wait(10)
    assert _job_row(proc_env, job_id)["status"] == "running"        # the crash left it mid-way
    assert d.info_path.exists()                                     # a stale daemon.json: the next start replaces it
    d2 = loopback_daemon(proc_env, tmp_path)                                 # normal step count again
    daemons.append(d2)
    job = d2.wait_job(job_id, lambda j: j["status"] in ("done", "failed", "cancelled"))
    assert job["status"] == "done", job
    assert _job_row(proc_env, job_id)["attempts"] == 2
    req = urllib.request.Request(d2.url + job["result_url"], headers={"Authorization": f"Bearer {d2.token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.headers["Content-Type"] == "image/png" and r.read().startswith(b"\x89PNG")
    assert d2.stop() == 0


def test_sigterm_requeues_running_job(proc_env, tmp_path, daemons):
    slow = dict(proc_env, SHADE_STEPS="100000")
    d = loopback_daemon(slow, tmp_path)
    daemons.append(d)
    running = d.upload(image_bytes(), "running.png")
    waiting = d.upload(image_bytes(), "waiting.png")
    d.wait_job(running, lambda j: j["status"] == "running" and j["step"] >= 1)
    t0 = time.monotonic()
    assert d.stop(signal.SIGTERM) == 0
    assert time.monotonic() - t0 < 30
    assert not d.info_path.exists()
    assert _job_row(proc_env, running)["status"] == "queued"        # back in the queue, not lost
    assert _job_row(proc_env, waiting)["status"] == "queued"
    assert "goes back to the queue" in d.log() or "put back in the queue" in d.log()
    d2 = loopback_daemon(proc_env, tmp_path)
    daemons.append(d2)
    for job_id in (running, waiting):
        assert d2.wait_job(job_id, lambda j: j["status"] in ("done", "failed"))["status"] == "done"
    assert d2.stop(signal.SIGINT) == 0


def test_refuses_to_start_without_keyring(proc_env):
    env = dict(proc_env, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    env.pop("SHADE_TOKEN_STORE")
    out = shade(env, "daemon", "--port", "0", "--no-tray", timeout=60)
    assert out.returncode == 1
    assert "No usable OS keyring" in out.stderr and 'token_store = "file"' in out.stderr
    home = Path(env["SHADE_HOME"])
    assert not (home / "config" / "api-token").exists() and not (home / "state" / "daemon.json").exists()
    out = shade(env, "token")
    assert out.returncode == 1 and "SHADE_TOKEN_STORE=file" in out.stderr


def test_port_in_use_is_a_clear_error(proc_env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = shade(proc_env, "daemon", "--port", str(port), "--no-tray", "--no-watch", timeout=60)
    assert out.returncode == 1 and f"port {port}" in out.stderr and "already in use" in out.stderr
