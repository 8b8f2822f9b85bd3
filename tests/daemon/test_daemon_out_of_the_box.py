"""A fresh Shade home (no anchors of the user's, no config) shades out of the box: the
built-in anchors and reference styles, cloak and both through the API and the watched
folder's cloak-<style>/ convention, the style library routes, and /v1/status naming what
can work (issue 13)."""

from __future__ import annotations

from pathlib import Path, PurePath

import aiohttp
import pytest

from shade_daemon.service.subfolders import folder_fields
from shadetest import auth, image_bytes, poll_until, upload, wait_job

pytestmark = [pytest.mark.timeout(240)]


@pytest.fixture
def fresh(shade_env, monkeypatch, tmp_path):
    """The user's anchor and style folders are the defaults, and empty."""
    monkeypatch.delenv("SHADE_ANCHOR_DIR", raising=False)
    shade_env.pop("SHADE_ANCHOR_DIR", None)
    return shade_env


async def test_status_lists_builtin_targets_styles_and_modes(make_client, fresh):
    client, token, _ = await make_client()
    status = await (await client.get("/v1/status", headers=auth(token))).json()
    assert len(status["targets"]) >= 8 and "cat" in status["targets"]
    assert {"van-gogh", "munch", "turner", "matisse"} <= set(status["styles"])
    assert status["modes"] == ["poison", "cloak", "both"]
    assert status["defaults"]["target"] == "cat" and status["defaults"]["style"] in status["styles"]
    assert status["renders_missing_targets"] is False


@pytest.mark.parametrize("fields", [{}, {"mode": "cloak"}, {"mode": "both", "target": "coffee", "style": "munch"}])
async def test_a_job_with_only_an_image_finishes_on_a_fresh_home(make_client, fresh, fields):
    client, token, _ = await make_client()
    r = await upload(client, token, image_bytes((80, 64)), **fields)
    assert r.status == 202, await r.text()
    job = await wait_job(client, token, (await r.json())["id"])
    assert job["status"] == "done", job
    if fields.get("mode", "poison") != "poison":
        assert job["options"]["style"] == fields.get("style", "van-gogh")


async def test_style_library_add_use_delete(make_client, fresh):
    client, token, app = await make_client()
    form = aiohttp.FormData()
    form.add_field("name", "My Style")
    form.add_field("image", image_bytes((64, 64), fmt="JPEG"), filename="mine.jpg", content_type="image/jpeg")
    r = await client.post("/v1/styles", data=form, headers=auth(token))
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["name"] == "my style" and body["styles"][0] == {"name": "my style", "builtin": False}
    # the same name again is refused, never overwritten
    form2 = aiohttp.FormData()
    form2.add_field("name", "my style")
    form2.add_field("image", image_bytes((64, 64)), filename="x.png", content_type="image/png")
    r = await client.post("/v1/styles", data=form2, headers=auth(token))
    assert r.status == 409 and (await r.json())["error"]["code"] == "style_exists"
    # not an image: refused
    form3 = aiohttp.FormData()
    form3.add_field("name", "junk")
    form3.add_field("image", b"not an image", filename="x.png", content_type="image/png")
    assert (await client.post("/v1/styles", data=form3, headers=auth(token))).status == 400

    status = await (await client.get("/v1/status", headers=auth(token))).json()
    assert status["styles"][0] == "my style"            # the user's own come first
    r = await upload(client, token, image_bytes((80, 64)), mode="cloak", style="my style")
    job = await wait_job(client, token, (await r.json())["id"])
    assert job["status"] == "done" and job["options"]["style"] == "my style"

    r = await client.delete("/v1/styles/my%20style", headers=auth(token))
    assert r.status == 200 and "my style" not in [s["name"] for s in (await r.json())["styles"]]
    r = await client.delete("/v1/styles/van-gogh", headers=auth(token))
    assert r.status == 404                               # built-in styles stay
    r = await upload(client, token, image_bytes((80, 64)), mode="cloak", style="my style")
    assert r.status == 400 and (await r.json())["error"]["code"] == "style_not_found"


def test_folder_convention():
    f = folder_fields
    assert f(PurePath("a.png"), "poison") == {"mode": "poison"}
    assert f(PurePath("a.png"), "cloak") == {"mode": "cloak"}
    assert f(PurePath("dog/a.png"), "poison") == {"mode": "poison", "target": "dog"}
    assert f(PurePath("dog/a.png"), "cloak") == {"mode": "poison", "target": "dog"}
    assert f(PurePath("dog/a.png"), "both") == {"mode": "both", "target": "dog"}
    assert f(PurePath("cloak-munch/a.png"), "poison") == {"mode": "cloak", "style": "munch"}
    assert f(PurePath("Cloak-van-gogh/x/a.png"), "poison") == {"mode": "cloak", "style": "van-gogh"}
    assert f(PurePath("cat/cloak-munch/a.png"), "poison") == {"mode": "both", "target": "cat", "style": "munch"}
    assert f(PurePath("cloak-/a.png"), "poison") == {"mode": "poison", "target": "cloak-"}


async def test_watched_folder_on_a_fresh_home_and_cloak_subfolders(make_client, fresh):
    root = Path(fresh["SHADE_HOME"]) / "Pictures" / "Shade"
    to_post = root / "to-post"
    for sub in ("", "cloak-munch", "cat/cloak-turner", "cloak-nope"):
        (to_post / sub).mkdir(parents=True, exist_ok=True)
    (to_post / "plain.png").write_bytes(image_bytes((72, 56)))
    (to_post / "cloak-munch" / "c.jpg").write_bytes(image_bytes((72, 56), fmt="JPEG"))
    (to_post / "cat" / "cloak-turner" / "b.png").write_bytes(image_bytes((72, 56)))
    (to_post / "cloak-nope" / "d.png").write_bytes(image_bytes((72, 56)))
    client, token, app = await make_client(watch=True)

    def delivered():
        names = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
        want = {"ready/plain.png", "ready/cloak-munch/c.jpg", "ready/cat/cloak-turner/b.png",
                "rejected/cloak-nope/d.png"}
        return want <= names
    await poll_until(delivered, 180, 0.2, "the folder's results")
    jobs = (await (await client.get("/v1/jobs", headers=auth(token))).json())["jobs"]
    by_name = {j["filename"]: j["options"] for j in jobs}
    assert by_name["plain.png"]["mode"] == "poison" and by_name["plain.png"]["target"] == "cat"
    assert by_name["c.jpg"]["mode"] == "cloak" and by_name["c.jpg"]["style"] == "munch"
    assert by_name["b.png"] == {**by_name["b.png"], "mode": "both", "target": "cat", "style": "turner"}
    reason = (root / "rejected" / "cloak-nope" / "d.png.txt").read_text()
    assert "no reference style 'nope'" in reason and "van-gogh" in reason
