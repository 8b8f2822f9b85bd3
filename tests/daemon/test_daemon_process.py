"""`shade daemon` as a real subprocess: daemon.json, loopback-only, one instance per data
dir, graceful SIGTERM (running job re-queued), kill -9 mid-job then restart (the job
finishes), a clear refusal without a keyring, and the CLI commands around it.

The subprocess cannot see the tests' in-memory keyring, so it uses the documented
explicit file fallback (SHADE_TOKEN_STORE=file) in its temp SHADE_HOME."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from daemon_testlib import ROOT, image_bytes, needs_weights

pytestmark = [pytest.mark.timeout(300), needs_weights]

# The console script of the environment running the tests (normally .venv/bin/shade).
SHADE = Path(sys.executable).parent / ("shade.exe" if sys.platform == "win32" else "shade")
if not SHADE.exists():
    SHADE = ROOT / ".venv" / ("Scripts/shade.exe" if sys.platform == "win32" else "bin/shade")


@pytest.fixture
def proc_env(shade_env) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHADE_")}
    env.update(shade_env)
    env["SHADE_TOKEN_STORE"] = "file"
    env["OMP_NUM_THREADS"] = "1"
    return env


def shade(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(SHADE), *args], env=env, capture_output=True, text=True, timeout=timeout)


class Daemon:
    def __init__(self, env: dict, tmp: Path, *extra: str):
        self.env = env
        self.log = tmp / f"daemon-{uuid.uuid4().hex[:6]}.log"
        self.proc = subprocess.Popen([str(SHADE), "daemon", "--port", "0", "--no-tray", *extra], env=env,
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        self.info_path = Path(env["SHADE_HOME"]) / "state" / "daemon.json"
        deadline = time.monotonic() + 90
        while True:
            try:
                info = json.loads(self.info_path.read_text())
                if info["pid"] == self.proc.pid:
                    break
            except (OSError, ValueError, KeyError):
                pass
            assert self.proc.poll() is None, f"daemon exited early: {self.log.read_text()}"
            assert time.monotonic() < deadline, "no daemon.json"
            time.sleep(0.1)
        self.info = info
        self.url = info["url"]
        token_file = Path(env["SHADE_HOME"]) / "config" / "api-token"
        self.token = token_file.read_text().strip()

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                auth: bool = True):
        h = {"Authorization": f"Bearer {self.token}"} if auth else {}
        h.update(headers or {})
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def upload(self, data: bytes, filename: str = "art.png") -> str:
        boundary = uuid.uuid4().hex
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        status, job = self.request("POST", "/v1/jobs", body,
                                   {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert status == 202, job
        return job["id"]

    def wait_job(self, job_id: str, until, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            status, job = self.request("GET", f"/v1/jobs/{job_id}")
            assert status == 200, job
            if until(job):
                return job
            assert time.monotonic() < deadline, job
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


@pytest.fixture
def daemons():
    started: list[Daemon] = []
    yield started
    for d in started:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(10)


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
    d = Daemon(proc_env, tmp_path)
    daemons.append(d)
    info = d.info
    assert set(info) == {"url", "pid", "version", "port"}
    assert info["url"] == f"http://127.0.0.1:{info['port']}" and info["port"] > 0
    status, health = d.request("GET", "/v1/health", auth=False)
    assert status == 200 and health == {"ok": True, "version": info["version"]}
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
    time.sleep(2.2)
    old, d.token = d.token, new
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
    d = Daemon(slow, tmp_path)
    daemons.append(d)
    job_id = d.upload(image_bytes((96, 80)), "crash.png")
    d.wait_job(job_id, lambda j: j["status"] == "running" and j["step"] >= 1)
    d.proc.kill()                                                   # kill -9
    d.proc.wait(10)
    assert _job_row(proc_env, job_id)["status"] == "running"        # the crash left it mid-way
    assert d.info_path.exists()                                     # a stale daemon.json: the next start replaces it
    d2 = Daemon(proc_env, tmp_path)                                 # normal step count again
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
    d = Daemon(slow, tmp_path)
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
    assert "goes back to the queue" in d.log.read_text() or "put back in the queue" in d.log.read_text()
    d2 = Daemon(proc_env, tmp_path)
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
