"""The Host / Origin / token matrix, CORS answers, pairing, and no state-changing GET,
against the real app on a loopback port."""

from __future__ import annotations

import pytest

from shade_daemon.extension_ids import CHROME_ORIGIN
from shadetest import auth

pytestmark = pytest.mark.timeout(120)

FIREFOX = "moz-extension://4f1b8a7e-2c1d-4e8a-9a43-0c7d2c9e5b11"


async def test_host_allow_list(make_client):
    client, token, _ = await make_client()
    port = client.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"LOCALHOST:{port}"):
        r = await client.get("/v1/status", headers=auth(token, Host=host))
        assert r.status == 200, host
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1", f"127.0.0.1:{port + 1}",
                 f"attacker.localhost:{port}", f"127.0.0.1.nip.io:{port}"):
        for path in ("/v1/health", "/v1/status", "/v1/nope"):
            r = await client.get(path, headers=auth(token, Host=host))
            assert r.status == 403, (host, path)
            body = await r.json()
            assert body["error"]["code"] == "bad_host"
    r = await client.post("/v1/pause", headers=auth(token, Host="rebind.example"))
    assert r.status == 403
    status = await (await client.get("/v1/status", headers=auth(token))).json()
    assert status["paused"] is False                      # the refused request changed nothing


async def test_token_matrix(make_client):
    client, token, _ = await make_client()
    r = await client.get("/v1/health")                    # the one public route
    assert r.status == 200 and (await r.json())["ok"] is True
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer " + "x" * 43},
                    {"Authorization": f"Basic {token}"}, {"Authorization": token},
                    {"Authorization": f"Bearer {token[:-1]}"}):
        for method, path in (("GET", "/v1/status"), ("POST", "/v1/pause"), ("GET", "/v1/jobs/abc"),
                             ("GET", "/v1/openapi.json"), ("POST", "/v1/pair")):
            r = await client.request(method, path, headers=headers)
            assert r.status == 401, (headers, path)
            assert (await r.json())["error"]["code"] == "unauthorized"
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = await client.get(f"/v1/status?token={token}")     # never from the query string
    assert r.status == 401
    r = await client.get("/v1/status", headers={"Authorization": f"bearer {token}"})
    assert r.status == 200


async def test_origin_matrix_and_cors(make_client):
    client, token, _ = await make_client(allowed_origins="chrome-extension://configuredextensionidxxxxxxxxxxx")
    # No Origin (CLI, native host): fine. A page's origin: refused even with the token.
    assert (await client.get("/v1/status", headers=auth(token))).status == 200
    for origin in ("https://evil.example", "http://127.0.0.1:8000", "null", FIREFOX,
                   "chrome-extension://someotherextensionidxxxxxxxxxx"):
        for method, path in (("GET", "/v1/status"), ("GET", "/v1/health"), ("POST", "/v1/pause")):
            r = await client.request(method, path, headers=auth(token, Origin=origin))
            assert r.status == 403, (origin, path)
            assert (await r.json())["error"]["code"] == "origin_not_allowed"
            assert "Access-Control-Allow-Origin" not in r.headers
    # Allowed origins: the pinned Chrome one and the configured one; CORS names them exactly.
    for origin in (CHROME_ORIGIN, "chrome-extension://configuredextensionidxxxxxxxxxxx"):
        r = await client.get("/v1/status", headers=auth(token, Origin=origin))
        assert r.status == 200
        assert r.headers["Access-Control-Allow-Origin"] == origin
        assert "Origin" in r.headers["Vary"]
        # Preflight: no token needed, exact origin, the methods and headers we use.
        r = await client.options("/v1/jobs", headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                                      "Access-Control-Request-Headers": "authorization"})
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == origin
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
        assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
    r = await client.options("/v1/jobs", headers={"Origin": "https://evil.example",
                                                  "Access-Control-Request-Method": "POST"})
    assert r.status == 403 and "Access-Control-Allow-Origin" not in r.headers
    # Errors to allowed origins carry CORS too, so the extension can read them.
    r = await client.get("/v1/jobs/nope", headers=auth(token, Origin=CHROME_ORIGIN))
    assert r.status == 404 and r.headers["Access-Control-Allow-Origin"] == CHROME_ORIGIN
    # Never '*'.
    for r in [await client.get("/v1/health", headers={"Origin": CHROME_ORIGIN})]:
        assert r.headers.get("Access-Control-Allow-Origin") == CHROME_ORIGIN


async def test_pairing_records_extension_origin(make_client, settings_paths):
    client, token, app = await make_client()
    r = await client.get("/v1/status", headers=auth(token, Origin=FIREFOX))
    assert r.status == 403
    # Pairing needs the token...
    r = await client.post("/v1/pair", headers={"Origin": FIREFOX})
    assert r.status == 401
    # ... an extension origin ...
    r = await client.post("/v1/pair", headers=auth(token, Origin="https://evil.example"))
    assert r.status == 403
    r = await client.post("/v1/pair", headers=auth(token))
    assert r.status == 400 and (await r.json())["error"]["code"] == "origin_required"
    # ... and then the origin is allowed, exactly.
    r = await client.post("/v1/pair", headers=auth(token, Origin=FIREFOX + "/"))
    assert r.status == 200
    assert await r.json() == {"ok": True, "origin": FIREFOX}
    assert r.headers["Access-Control-Allow-Origin"] == FIREFOX
    r = await client.get("/v1/status", headers=auth(token, Origin=FIREFOX))
    assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == FIREFOX
    r = await client.get("/v1/status", headers=auth(token, Origin="moz-extension://another-uuid"))
    assert r.status == 403
    # Persisted in the data dir: a new daemon on the same data still allows it.
    client2, token2, _ = await make_client()
    assert token2 == token
    r = await client2.get("/v1/status", headers=auth(token, Origin=FIREFOX))
    assert r.status == 200


async def test_no_state_changing_get(make_client):
    client, token, _ = await make_client()
    for path in ("/v1/pause", "/v1/resume", "/v1/pair"):
        r = await client.get(path, headers=auth(token))
        assert r.status == 405, path
        assert (await r.json())["error"]["code"] == "method_not_allowed"
    status = await (await client.get("/v1/status", headers=auth(token))).json()
    assert status["paused"] is False
    r = await client.get("/v1/nothing-here", headers=auth(token))
    assert r.status == 404 and (await r.json())["error"]["code"] == "not_found"


async def test_rotated_token_takes_effect_without_restart(make_client, settings_paths):
    from shade_daemon.http.keys import GUARD
    from shade_daemon.token_store import rotate_token

    client, token, app = await make_client()
    settings, paths = settings_paths()
    new = rotate_token(settings, paths)
    assert (await client.get("/v1/status", headers=auth(token))).status == 200     # not told yet
    # A wrong token never makes the daemon re-read its store: only being told does.
    for _ in range(3):
        assert (await client.get("/v1/status", headers=auth(new))).status == 401
    assert app[GUARD].reload() is True                   # what SIGHUP (or POST /v1/token/reload) does
    assert (await client.get("/v1/status", headers=auth(new))).status == 200
    assert (await client.get("/v1/status", headers=auth(token))).status == 401


async def test_token_reload_route_revokes_the_token_that_called_it(make_client, settings_paths):
    from shade_daemon.token_store import rotate_token

    client, token, _ = await make_client()
    settings, paths = settings_paths()
    new = rotate_token(settings, paths)
    r = await client.post("/v1/token/reload", headers=auth(token))
    assert r.status == 200 and (await r.json())["changed"] is True
    assert (await client.get("/v1/status", headers=auth(token))).status == 401
    assert (await client.get("/v1/status", headers=auth(new))).status == 200


async def test_openapi_lists_every_route(make_client):
    client, token, app = await make_client()
    doc = await (await client.get("/v1/openapi.json", headers=auth(token))).json()
    assert doc["openapi"].startswith("3.")
    routes = {(r.method.lower(), r.resource.canonical) for r in app.router.routes()}
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops if m != "parameters"}
    assert routes == documented
