"""The one test library (on sys.path through pytest's ``pythonpath``): where the real
weights are, the seeded random encoder that stands in for them, small images, running
``shade`` as a subprocess, a daemon subprocess, polling for a condition, and the HTTP
helpers of the daemon tests.

Two kinds of tests:
- strength and visibility tests need the real taef2 weights (``needs_weights``, or the
  ``model_dir`` fixture): they skip, saying why, where those are absent;
- every other test (API, queue, folder, processes, extension, installers) runs on the
  seeded random-weight encoder ``random-tiny`` (``plumbing_model_dir``) and so runs
  everywhere.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional, TypeVar, Union

import pytest
from keyring.backend import KeyringBackend
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SHARED_MODELS = SHARED / "models"
VENV_BIN = Path(sys.executable).parent
# The console scripts of the environment running the tests (normally .venv/bin).
SHADE = VENV_BIN / ("shade.exe" if sys.platform == "win32" else "shade")
RANDOM_ENCODER = "random-tiny"

T = TypeVar("T")


# --- weights -----------------------------------------------------------------------------------
def real_model_dir() -> Optional[Path]:
    """The folder holding the real taef2 weights: SHADE_MODEL_DIR's first entry with them
    when it is set (so ``SHADE_MODEL_DIR=/nonexistent`` hides them), else ../shared/models;
    None when there are none. The one "do we have weights" check."""
    env = os.environ.get("SHADE_MODEL_DIR", "")
    candidates = [Path(p) for p in env.split(os.pathsep) if p] or [SHARED_MODELS]
    for candidate in candidates:
        if (candidate / "taef2" / "taef2_encoder.pth").is_file():
            return candidate.resolve()
    return None


REAL_MODEL_DIR = real_model_dir()
WEIGHTS_REASON = ("needs the real taef2 weights: SHADE_MODEL_DIR (or, when unset, ../shared/models) holds "
                  "no taef2/taef2_encoder.pth")
needs_weights = pytest.mark.skipif(REAL_MODEL_DIR is None, reason=WEIGHTS_REASON)


def make_random_model_dir(root: Path) -> Path:
    """A model folder holding only the seeded random-weight encoder (``shade models pull
    random-tiny`` writes the same); ``installed`` expands to it."""
    from shading.models.encoders import REGISTRY

    root.mkdir(parents=True, exist_ok=True)
    REGISTRY[RANDOM_ENCODER].fetch(root)
    return root


# --- images ------------------------------------------------------------------------------------
def png_bytes(array) -> bytes:
    """An array (H x W x 3 uint8) as PNG bytes."""
    return encode(Image.fromarray(array), "PNG")


def encode(img: Image.Image, fmt: str = "PNG", **kw: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def image_bytes(size=(96, 72), fmt="PNG", color=None) -> bytes:
    """A small picture with some structure (a gradient, a square and a textured quarter:
    Shade puts its change where texture hides it, so a picture without any would come
    back nearly untouched at the low intensity)."""
    w, h = size
    im = Image.new("RGB", size)
    px = im.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = color or ((x * 255) // max(1, w - 1), (y * 255) // max(1, h - 1), 128)
    for y in range(h // 4, h // 2):
        for x in range(w // 4, w // 2):
            px[x, y] = (250, 250, 20)
    if color is None:
        for y in range(h // 2, h):
            for x in range(w // 2, w):
                v = ((x // 3) * 2654435761 + (y // 3) * 40503) % 251
                px[x, y] = (v, 255 - v, (v * 7) % 256)
    return encode(im, fmt, **({"quality": 95} if fmt == "JPEG" else {}))


# --- waiting -----------------------------------------------------------------------------------
def wait_until(check: Callable[[], T], timeout: float = 60.0, interval: float = 0.05, what: str = "condition") -> T:
    """Poll ``check`` until it returns something true; return that. Fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


async def poll_until(check: Callable[[], Union[T, Awaitable[T]]], timeout: float = 60.0, interval: float = 0.05,
                     what: str = "condition") -> T:
    """``wait_until`` for the event loop: ``check`` may be a coroutine function."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(interval)


# --- processes -------------------------------------------------------------------------------
def run_shade(args: list[str], env: dict[str, str], timeout: float = 300, **kw: Any) -> subprocess.CompletedProcess:
    """``shade ARGS`` through the installed console script, as a separate process."""
    return subprocess.run([str(SHADE), *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=timeout, **kw)


class DaemonProcess:
    """``shade daemon`` as a subprocess in ``env`` (its SHADE_HOME), started at once; waits
    for daemon.json and /v1/health. The token is read from the file store."""

    def __init__(self, env: dict[str, str], *extra: str, log_dir: Optional[Path] = None, start_timeout: float = 90):
        self.env = env
        self.home = Path(env["SHADE_HOME"])
        self.info_path = self.home / "state" / "daemon.json"
        log_dir = log_dir or self.home
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"daemon-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(SHADE), "daemon", *extra], env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=str(self.home.parent))

        def started():
            if self.proc.poll() is not None:
                pytest.fail(f"shade daemon exited with {self.proc.returncode}:\n{self.log()}")
            try:
                info = json.loads(self.info_path.read_text())
            except (OSError, ValueError):
                return None
            return info if info.get("pid") == self.proc.pid else None     # not a stale one

        self.info = wait_until(started, start_timeout, 0.1, "daemon.json")
        self.url = self.info["url"].rstrip("/")
        self.port = int(self.info["port"])
        token_file = self.home / "config" / "api-token"
        self.token = token_file.read_text().strip() if token_file.exists() else ""
        wait_until(lambda: self.request("GET", "/v1/health")[0] == 200, 30, 0.1, "/v1/health")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def request(self, method: str, path: str, body: Optional[bytes] = None, headers: Optional[dict] = None,
                timeout: float = 30, auth: bool = True) -> tuple[int, Any]:
        """(status, parsed JSON or raw bytes); connection errors give (0, None)."""
        h = {"Authorization": f"Bearer {self.token}"} if auth else {}
        req = urllib.request.Request(self.url + path, data=body, method=method, headers={**h, **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                status, raw = res.status, res.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except OSError:
            return 0, None
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            return status, raw

    def upload(self, data: bytes, filename: str = "art.png") -> str:
        boundary = "shadetestboundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{filename}\"\r\n"
                "Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        status, reply = self.request("POST", "/v1/jobs", body,
                                     {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert status == 202, reply
        return reply["id"]

    def jobs(self) -> list[dict]:
        status, reply = self.request("GET", "/v1/jobs")
        assert status == 200, reply
        return reply["jobs"]

    def wait_job(self, job_id: str, until: Callable[[dict], bool], timeout: float = 120) -> dict:
        def check():
            status, job = self.request("GET", f"/v1/jobs/{job_id}")
            return job if status == 200 and until(job) else None

        return wait_until(check, timeout, 0.05, f"job {job_id}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)
        finally:
            self._log.close()


# --- the daemon's HTTP API (in-process, aiohttp's test client) -------------------------------
class MemoryKeyring(KeyringBackend):
    """An explicit in-memory keyring for tests."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> Optional[str]:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop((service, username), None)


def auth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


async def wait_job(client, token: str, job_id: str, timeout: float = 60.0,
                   until: Optional[Callable[[dict], bool]] = None) -> dict:
    until = until or (lambda j: j["status"] in ("done", "failed", "cancelled"))

    async def check():
        r = await client.get(f"/v1/jobs/{job_id}", headers=auth(token))
        assert r.status == 200, await r.text()
        job = await r.json()
        return job if until(job) else None

    return await poll_until(check, timeout, 0.05, f"job {job_id}")


async def upload(client, token: str, data: bytes, filename: str = "art.png", content_type: str = "image/png",
                 headers: Optional[dict] = None, **fields: str):
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("image", data, filename=filename, content_type=content_type)
    for k, v in fields.items():
        form.add_field(k, v)
    return await client.post("/v1/jobs", data=form, headers={**auth(token), **(headers or {})})


# --- outside tools -------------------------------------------------------------------------------
def require_tool(name: str, package: str) -> str:
    """The path of the program ``name``. ./run-tests installs it (``package``); where it is
    still missing the test skips, saying so in ``-rs``, and under CI (CI set) it fails."""
    import shutil

    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt package {package}; ./run-tests installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def powershell_errors(source: bytes) -> list[str]:
    """Syntax errors in a PowerShell script, from the tree-sitter PowerShell grammar (dev
    extra): '<line>:<column>: <text>' for each ERROR or MISSING node; empty when it parses."""
    import tree_sitter
    import tree_sitter_powershell

    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    tree = parser.parse(source)
    errors: list[str] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            line, col = node.start_point
            text = source[node.start_byte:node.end_byte].decode("utf-8", "replace")[:60]
            errors.append(f"{line + 1}:{col + 1}: {'missing ' + node.type if node.is_missing else text!r}")
        elif node.has_error:
            stack.extend(node.children)
    return errors


def stop_recorded_daemon(home_env: dict[str, str], timeout: float = 10.0) -> None:
    """SIGTERM the daemon that ``daemon.json`` under ``home_env``'s Shade home records (one a
    test did not start itself, e.g. through the native helper), and wait until it is gone."""
    import signal

    from shade_daemon.config import Paths
    from shade_daemon.runinfo import read_info

    info = read_info(Paths.resolve(home_env))
    if info is None:
        return
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(info.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(info.pid, signal.SIGKILL)


def loopback_daemon(env: dict, log_dir: Path, *extra: str) -> "DaemonProcess":
    """``shade daemon`` on a free loopback port, without the tray."""
    return DaemonProcess(env, "--port", "0", "--no-tray", *extra, log_dir=log_dir)
