"""`shade doctor` through the real CLI: each problem is named with its fix, and the
exit status says whether something is broken."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shade_daemon.install import InstallContext, InstallOptions, install

REPO = Path(__file__).resolve().parents[2]


def findings(run_shade, env) -> tuple[int, dict[str, dict]]:
    proc = run_shade(["doctor", "--json"], env)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, {f["title"]: f for f in json.loads(proc.stdout)}


def test_reports_missing_model_and_missing_keyring_with_fixes(run_shade, env, tmp_path):
    empty = tmp_path / "no-models"
    empty.mkdir()
    env = {**env, "SHADE_MODEL_DIR": str(empty), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    proc = run_shade(["doctor"], env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    screen = proc.stdout
    assert "FAIL  models" in screen and "missing: taef2" in screen and "shade models pull taef2" in screen
    assert "FAIL  keyring" in screen and 'token_store = "file"' in screen
    # Every problem line is followed by its fix.
    lines = screen.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("FAIL"):
            assert lines[i + 1].strip().startswith("fix: "), line
    assert len(lines) <= 25, "doctor must fit on one screen"


def test_healthy_parts_are_ok(run_shade, env, home, plumbing_model_dir):
    env = {**env, "SHADE_MODEL_DIR": str(plumbing_model_dir), "SHADE_TOKEN_STORE": "file"}
    ctx = InstallContext.for_os("linux", home, env)
    install(ctx, InstallOptions(extension=False))
    code, found = findings(run_shade, env)
    assert found["models"]["status"] == "ok" and "random-tiny" in found["models"]["detail"]
    assert found["keyring"]["status"] == "ok" and "api-token" in found["keyring"]["detail"]
    assert found["autostart"]["status"] == "ok"
    assert all(found[f"browser {b}"]["status"] == "ok" for b in ("chrome", "chromium", "edge", "brave", "firefox"))
    assert found["device"]["status"] in ("ok", "warn") and found["device"]["detail"]
    # Only the daemon (not started here) is broken.
    assert code == 1 and [t for t, f in found.items() if f["status"] == "fail"] == ["daemon"]


def test_missing_autostart_and_registration_are_reported(run_shade, env):
    _, found = findings(run_shade, env)
    assert found["autostart"]["status"] == "warn" and "shade install" in found["autostart"]["fix"]
    assert found["browser chrome"]["status"] == "warn" and "shade install" in found["browser chrome"]["fix"]


def test_broken_registration_is_a_failure(run_shade, env, home):
    ctx = InstallContext.for_os("linux", home, env)
    install(ctx, InstallOptions(extension=False, autostart=False))
    screen = run_shade(["doctor"], env).stdout
    assert "ok    browsers" in screen and "chrome, chromium, edge, brave, firefox" in screen  # one line when all agree
    (ctx.bin_dir / "shade-native-host").unlink()
    screen = run_shade(["doctor"], env).stdout
    assert screen.count("FAIL  browser ") == 5 and "fix: run `shade install --force`" in screen
    _, found = findings(run_shade, env)
    assert found["browser firefox"]["status"] == "fail" and "missing" in found["browser firefox"]["detail"]
    assert "--force" in found["browser firefox"]["fix"]


class _Health(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == "/v1/health":
            body = json.dumps({"ok": True, "version": "9.9.9"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _write_daemon_json(env, port: int) -> None:
    from shade_daemon.config import Paths

    state = Paths.resolve(env).state_dir
    state.mkdir(parents=True, exist_ok=True)
    (state / "daemon.json").write_text(json.dumps(
        {"url": f"http://127.0.0.1:{port}", "pid": 4242, "version": "9.9.9", "port": port}))


def test_daemon_answering_stale_and_port_taken(run_shade, env, health_server):
    _write_daemon_json(env, health_server)
    _, found = findings(run_shade, env)
    assert found["daemon"]["status"] == "ok" and "9.9.9" in found["daemon"]["detail"]

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    _write_daemon_json(env, dead)
    _, found = findings(run_shade, env)
    assert found["daemon"]["status"] == "fail" and "nothing answers" in found["daemon"]["detail"]
    assert "shade daemon" in found["daemon"]["fix"]

    from shade_daemon.config import Paths

    (Paths.resolve(env).state_dir / "daemon.json").unlink()
    with socket.socket() as other:  # another program holds Shade's port
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        _, found = findings(run_shade, {**env, "SHADE_PORT": str(port)})
    assert found["daemon"]["status"] == "fail" and "another program" in found["daemon"]["detail"]
    assert "port = " in found["daemon"]["fix"]


def test_bad_config_is_reported_and_other_checks_still_run(run_shade, env):
    from shade_daemon.config import Paths

    config = Paths.resolve(env).config_file
    config.parent.mkdir(parents=True)
    config.write_text("port = [not toml\n")
    code, found = findings(run_shade, env)
    assert code == 1 and found["config"]["status"] == "fail" and str(config) in found["config"]["fix"]
    assert {"device", "models", "keyring", "daemon", "folders", "autostart"} <= set(found)
