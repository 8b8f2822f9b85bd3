"""`shade token --rotate` revokes the old token at once in the running daemon (issue 28: it
used to keep working until a wrong token made the daemon re-read its store), and the
dashboard's sessions die with it."""

from __future__ import annotations

import http.client
import os
from urllib.parse import urlparse

import pytest

from shadetest import loopback_daemon, run_shade


def _login_cookie(daemon) -> str:
    """A dashboard session opened with the current token, as a browser would: link, then login."""
    status, reply = daemon.request("POST", "/v1/dashboard/link")
    assert status == 200, reply
    url = urlparse(reply["url"])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("GET", f"{url.path}?{url.query}")
    res = conn.getresponse()
    assert res.status == 303
    cookie = res.getheader("Set-Cookie").split(";")[0]
    conn.close()
    return cookie


def _with_cookie(daemon, cookie: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    conn.request("GET", "/v1/status", headers={"Cookie": cookie, "Host": f"127.0.0.1:{daemon.port}"})
    status = conn.getresponse().status
    conn.close()
    return status


@pytest.mark.skipif(os.name != "posix", reason="SIGHUP; elsewhere the CLI uses POST /v1/token/reload")
def test_rotate_revokes_the_old_token_at_once_and_ends_sessions(proc_env, tmp_path, daemons) -> None:
    daemon = loopback_daemon(proc_env, tmp_path)
    daemons.append(daemon)
    old = daemon.token
    cookie = _login_cookie(daemon)
    assert _with_cookie(daemon, cookie) == 200
    done = run_shade(["token", "--rotate"], proc_env, timeout=60)
    assert done.returncode == 0, done.stderr
    new = done.stdout.strip().splitlines()[-1]
    assert new and new != old
    assert "refuses the old token" in done.stderr
    # At once: the very next request with the old token, with no wrong token sent before it.
    assert daemon.request("GET", "/v1/status")[0] == 401
    daemon.token = new
    assert daemon.request("GET", "/v1/status")[0] == 200
    assert _with_cookie(daemon, cookie) == 401                      # the session went with the old token
    assert "rotated" in daemon.log()
    assert daemon.stop() == 0
