"""The native-messaging host, run as a separate process over real pipes the way a
browser runs it: Chrome's framing both ways; the token only for the Shade extension."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from shade_daemon.config import Paths, load_settings
from shade_daemon.extension_ids import CHROME_ORIGIN, FIREFOX_ADDON_ID
from shade_daemon.install import InstallContext, InstallOptions, install
from shade_daemon.install.browsers import BROWSERS, manifest_path
from shade_daemon.token_store import load_token

REPO = Path(__file__).resolve().parents[2]
SHADE_ORIGIN = CHROME_ORIGIN + "/"


def frame(message) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return struct.pack("=I", len(body)) + body


def unframe_all(data: bytes) -> list:
    """Split the host's output into messages, checking each length prefix."""
    out = []
    while data:
        assert len(data) >= 4, "output ends inside a length prefix"
        (length,) = struct.unpack("=I", data[:4])
        body = data[4:4 + length]
        assert len(body) == length, "output ends inside a message"
        out.append(json.loads(body.decode("utf-8")))
        data = data[4 + length:]
    return out


@pytest.fixture
def host_env(env, home) -> dict[str, str]:
    # The file token store: a subprocess cannot share an in-memory keyring with the test.
    return {**env, "SHADE_TOKEN_STORE": "file", "SHADE_PORT": "47999"}


def run_host(args: list[str], stdin: bytes, env: dict[str, str], command: list[str] | None = None):
    proc = subprocess.run((command or [sys.executable, "-m", "shade_daemon.nativehost"]) + args, input=stdin,
                          capture_output=True, env=env, cwd=REPO, timeout=60)
    return proc.returncode, unframe_all(proc.stdout), proc.stderr.decode()


def _token(env: dict[str, str]) -> str:
    paths = Paths.resolve(env)
    return load_token(load_settings(env, paths), paths, create=False)


def test_pairs_the_shade_chrome_extension(host_env):
    code, replies, err = run_host([SHADE_ORIGIN], frame({"type": "ping"}) + frame({"type": "pair"}), host_env)
    assert code == 0, err
    assert replies[0]["ok"] is True and replies[0]["type"] == "pong"
    pair = replies[1]
    token = _token(host_env)  # the host created it on first use, in the configured store
    assert len(token) == 43
    assert pair == {**pair, "ok": True, "url": "http://127.0.0.1:47999", "token": token,
                    "pairing_code": f"shade:47999:{token}", "daemon_running": False}


def test_url_comes_from_daemon_json_when_the_daemon_runs(host_env):
    state = Paths.resolve(host_env).state_dir
    state.mkdir(parents=True)
    (state / "daemon.json").write_text(json.dumps(
        {"url": "http://127.0.0.1:51234", "pid": 1, "version": "0.1.0", "port": 51234}))
    code, replies, err = run_host([SHADE_ORIGIN, "--parent-window=0"], frame({"type": "pair"}), host_env)
    assert code == 0, err
    assert replies[0]["url"] == "http://127.0.0.1:51234" and replies[0]["daemon_running"] is True
    assert replies[0]["pairing_code"].startswith("shade:51234:")


def test_pairs_the_shade_firefox_addon(host_env, tmp_path):
    manifest = str(tmp_path / "org.shade_art.host.json")
    code, replies, err = run_host([manifest, FIREFOX_ADDON_ID], frame({"type": "pair"}), host_env)
    assert code == 0, err
    assert replies[0]["ok"] is True and replies[0]["token"] == _token(host_env)


@pytest.mark.parametrize("args", [
    ["chrome-extension://abcdefghijklmnopabcdefghijklmnop/"],  # another extension
    [CHROME_ORIGIN + "x/"],                                     # a look-alike ID
    ["/path/org.shade_art.host.json", "evil@example.com"],      # another Firefox add-on
    [],                                                         # started by hand: no caller at all
])
def test_refuses_every_other_caller(host_env, args):
    code, replies, err = run_host(args, frame({"type": "pair"}) + frame({"type": "ping"}), host_env)
    assert code == 0, err
    assert len(replies) == 2
    for reply in replies:
        assert reply["ok"] is False and "only answers the Shade extension" in reply["error"]
        assert "token" not in reply
    assert not (Paths.resolve(host_env).config_dir / "api-token").exists(), "a refused caller must not create a token"


def test_configured_chrome_origin_is_also_answered(host_env):
    other = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
    env = {**host_env, "SHADE_ALLOWED_ORIGINS": other}
    code, replies, _ = run_host([other + "/"], frame({"type": "pair"}), env)
    assert replies[0]["ok"] is True


def test_unknown_request_and_bad_frames(host_env):
    code, replies, _ = run_host([SHADE_ORIGIN], frame({"type": "steal"}) + frame(["x"]), host_env)
    assert code == 0 and [r["ok"] for r in replies] == [False, False]
    assert "unknown request type" in replies[0]["error"]

    too_big = struct.pack("=I", 64 * 1024 * 1024) + b"{}"
    code, replies, err = run_host([SHADE_ORIGIN], too_big, host_env)
    assert code == 1 and replies[0]["ok"] is False and "limit" in replies[0]["error"]

    truncated = struct.pack("=I", 100) + b'{"type": "pa'
    code, replies, _ = run_host([SHADE_ORIGIN], truncated, host_env)
    assert code == 1 and "ended" in replies[0]["error"]

    not_json = struct.pack("=I", 3) + b"\xff\xfe\x00"
    code, replies, _ = run_host([SHADE_ORIGIN], not_json, host_env)
    assert code == 1 and "JSON" in replies[0]["error"]


def test_no_keyring_is_reported_to_the_extension(env):
    env = {**env, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    code, replies, _ = run_host([SHADE_ORIGIN], frame({"type": "pair"}), env)
    assert code == 0
    assert replies[0]["ok"] is False and 'token_store = "file"' in replies[0]["error"]


def test_installed_launcher_runs_the_host_like_a_browser_would(home, host_env):
    """Through the manifest written by `shade install`: the browser runs "path" with the
    origin and a bare environment; the launcher supplies SHADE_HOME itself."""
    config = Paths.resolve(host_env).config_file
    config.parent.mkdir(parents=True)
    config.write_text('token_store = "file"\n')
    ctx = InstallContext.for_os("linux", home, host_env)
    install(ctx, InstallOptions(autostart=False, extension=False))
    for key in ("chrome", "firefox"):
        manifest = json.loads(manifest_path(ctx, BROWSERS[key]).read_text())
        args = [SHADE_ORIGIN] if key == "chrome" else [str(manifest_path(ctx, BROWSERS[key])), FIREFOX_ADDON_ID]
        bare = {"PATH": "/usr/bin:/bin"}
        code, replies, err = run_host(args, frame({"type": "pair"}), bare, command=[manifest["path"]])
        assert code == 0, err
        assert replies[0]["ok"] is True and replies[0]["token"] == _token(host_env), key


def test_start_starts_the_daemon_once_and_pairs_with_it(host_env):
    """"Start Shade" on a failed upload: the helper starts ``shade daemon`` in its own session
    (it outlives the helper), waits until it answers, and hands over its address and token;
    asked again, it finds it running and starts nothing."""
    import urllib.request

    from shadetest import stop_recorded_daemon
    from shadetest.extension import free_port

    env = {**host_env, "SHADE_PORT": str(free_port()), "SHADE_DEVICE": "cpu"}
    try:
        code, replies, err = run_host([SHADE_ORIGIN], frame({"type": "start"}), env)
        assert code == 0, err
        reply = replies[0]
        assert reply["ok"] and reply["started"] is True, reply
        assert reply["url"] == f"http://127.0.0.1:{env['SHADE_PORT']}" and reply["token"] == _token(env)
        req = urllib.request.Request(f"{reply['url']}/v1/status", headers={"Authorization": f"Bearer {reply['token']}"})
        with urllib.request.urlopen(req, timeout=10) as resp:      # the helper has exited; the daemon answers
            assert resp.status == 200
        code, replies, err = run_host([SHADE_ORIGIN], frame({"type": "start"}), env)
        assert replies[0]["ok"] and replies[0]["started"] is False and replies[0]["url"] == reply["url"]
    finally:
        stop_recorded_daemon(env)


def test_a_daemon_that_cannot_start_is_reported_with_its_reason(host_env):
    env = {**host_env, "SHADE_PORT": "not-a-port"}
    code, replies, err = run_host([SHADE_ORIGIN], frame({"type": "start"}), env)
    assert code == 0, err
    assert replies[0]["ok"] is False and replies[0]["code"] in ("start_failed", "ConfigError"), replies
    assert "port" in replies[0]["error"].lower()
