"""Settings changed from the dashboard (issue 28): refused with words by the same loader that
reads the config file at start, the file left as it was; accepted ones written and, where read
per job, used at once. And the files the watched folder set aside, listed with their reasons."""

from __future__ import annotations

from pathlib import PurePath

import pytest

from shade_daemon.http.keys import SERVICE
from shadetest import auth

pytestmark = [pytest.mark.timeout(120)]


async def post_settings(client, token, settings):
    r = await client.post("/v1/config", json={"settings": settings}, headers=auth(token))
    return r.status, await r.json()


async def test_settings_are_checked_like_the_file_then_applied(make_client):
    client, token, app = await make_client()
    paths = app[SERVICE].paths
    config = paths.config_file
    before = config.read_text() if config.exists() else None

    status, body = await post_settings(client, token, {"token_store": "file"})
    assert status == 400 and "cannot be changed from the page" in body["error"]["message"]
    status, body = await post_settings(client, token, {"intensity": "loud"})
    assert status == 400 and "must be one of" in body["error"]["message"]
    status, body = await post_settings(client, token, {"target": "unicorn"})
    assert status == 400 and "unicorn" in body["error"]["message"]
    assert (config.read_text() if config.exists() else None) == before        # nothing half-saved

    status, body = await post_settings(client, token, {"intensity": "high", "result_retention_hours": 48})
    assert status == 200, body
    assert sorted(body["applied"]) == ["intensity", "result_retention_hours"] and body["restart_needed"] == []
    assert 'intensity = "high"' in config.read_text() and "result_retention_hours = 48" in config.read_text()
    shown = (await (await client.get("/v1/status", headers=auth(token))).json())["defaults"]
    assert shown["intensity"] == "high"                                        # used at once
    # A SHADE_* variable (the tests set SHADE_QUALITY) still wins, and the answer says so.
    status, body = await post_settings(client, token, {"quality": "best"})
    assert status == 200 and body["overridden"] == ["quality"]
    status, body = await post_settings(client, token, {"device": "cpu"})
    assert status == 200 and body["restart_needed"] == ["device"]
    rows = {r["name"]: r for r in (await (await client.get("/v1/config", headers=auth(token))).json())["editable"]}
    assert rows["intensity"]["label"] == "Default intensity" and rows["intensity"]["choices"] == ["low", "default", "high"]


async def test_rejected_files_are_listed_with_their_reasons(make_client):
    from shade_daemon.service.folder import FolderLayout, reject_file

    client, token, app = await make_client()
    layout = FolderLayout.beside(app[SERVICE].settings.watch_folder)
    layout.ensure()
    empty = await (await client.get("/v1/rejected", headers=auth(token))).json()
    assert empty == {"rejected": []}
    src = layout.to_post / "notes.png"
    src.write_text("not an image")
    reject_file(layout, src, PurePath("notes.png"), "not an image Shade can read")
    listed = (await (await client.get("/v1/rejected", headers=auth(token))).json())["rejected"]
    assert [(r["name"], r["reason"]) for r in listed] == [("notes.png", "not an image Shade can read")]
