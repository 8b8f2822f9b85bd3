"""The watched to-post folder with real watchdog on temp folders and the real core:
copy in, rename in, slow write, atomic temp+rename, non-image, name clash, concept
subfolders, startup scan; nothing lost, nothing overwritten, no job from our own writes."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from shade_daemon.http.keys import SERVICE
from shadetest import image_bytes, poll_until

pytestmark = [pytest.mark.timeout(180)]


def layout(env: dict) -> dict[str, Path]:
    root = Path(env["SHADE_HOME"]) / "Pictures" / "Shade"
    return {k: root / k for k in ("to-post", "ready", "originals", "rejected")}


def files(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` but the notes that mark weakly protected results."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith(".weak.txt")}


async def wait_for(check, timeout: float = 90.0, what: str = "condition"):
    return await poll_until(check, timeout, 0.1, what)


async def test_startup_scan_clashes_and_concept_folders(make_client, shade_env):
    d = layout(shade_env)
    for p in d.values():
        p.mkdir(parents=True, exist_ok=True)
    a, b = image_bytes((80, 64)), image_bytes((72, 56), fmt="JPEG")
    (d["to-post"] / "a.png").write_bytes(a)
    (d["to-post"] / "coffee").mkdir()
    (d["to-post"] / "coffee" / "b.jpg").write_bytes(b)
    (d["to-post"] / "notes.txt").write_text("not a picture")
    # Files already in the output folders with the same names: never overwritten.
    (d["ready"] / "a.png").write_bytes(b"older result")
    (d["originals"] / "a.png").write_bytes(b"older original")
    (d["rejected"] / "notes.txt").write_bytes(b"older reject")

    client, token, app = await make_client(watch=True)
    await wait_for(lambda: not files(d["to-post"]), what="to-post to empty")
    await wait_for(lambda: "coffee/b.jpg" in files(d["originals"]), what="delivery")

    ready, originals, rejected = files(d["ready"]), files(d["originals"]), files(d["rejected"])
    assert ready["a.png"] == b"older result" and originals["a.png"] == b"older original"
    assert rejected["notes.txt"] == b"older reject"
    assert originals["a-1.png"] == a and originals["coffee/b.jpg"] == b
    with Image.open(d["ready"] / "a-1.png") as im:
        assert im.format == "PNG" and im.size == (80, 64)
    with Image.open(d["ready"] / "coffee" / "b.jpg") as im:
        assert im.format == "JPEG" and im.size == (72, 56)
    assert rejected["notes-1.txt"] == b"not a picture"
    reason = rejected["notes-1.txt.txt"].decode()
    assert "notes.txt" in reason and "not an image" in reason

    jobs = list(app[SERVICE].store.all_jobs())
    by_name = {j.filename: j for j in jobs}
    assert set(by_name) == {"a.png", "b.jpg"}
    assert by_name["b.jpg"].options["target"] == "coffee"        # the subfolder names the target
    assert by_name["a.png"].options["target"] == "cat"           # the configured default
    assert all(j.folder["delivered"] for j in jobs)
    status = await (await client.get("/v1/status", headers={"Authorization": f"Bearer {token}"})).json()
    assert status["watched_folders"] == ["Shade/to-post"]     # as the user knows it, not the server path


async def test_live_drops_nothing_lost(make_client, shade_env, tmp_path):
    client, token, app = await make_client(watch=True)
    d = layout(shade_env)
    await wait_for(lambda: d["to-post"].is_dir() and d["ready"].is_dir(), what="folders")
    sources = {name: image_bytes((64 + 8 * i, 48 + 8 * i), fmt="PNG") for i, name in
               enumerate(["copied.png", "renamed.png", "slow.png", "atomic.png"])}
    sources["photo.jpg"] = image_bytes((64, 64), fmt="JPEG")
    for name, data in sources.items():
        (tmp_path / name).write_bytes(data)

    shutil.copy(tmp_path / "copied.png", d["to-post"] / "copied.png")               # copy in
    os.rename(tmp_path / "renamed.png", d["to-post"] / "renamed.png")                # rename in
    tmp_inside = d["to-post"] / ".atomic.png.part"                                    # temp + rename inside
    tmp_inside.write_bytes(sources["atomic.png"])
    os.replace(tmp_inside, d["to-post"] / "atomic.png")
    (d["to-post"] / "README.md").write_text("# not an image\n")                        # non-image
    (d["to-post"] / "unicorn").mkdir()                                               # unknown concept
    (d["to-post"] / "unicorn" / "u.jpg").write_bytes(sources["photo.jpg"])
    with open(d["to-post"] / "slow.png", "wb") as fh:                                # slow write
        data = sources["slow.png"]
        fh.write(data[: len(data) // 3])
        fh.flush()
        await asyncio.sleep(1.0)
        fh.write(data[len(data) // 3:])

    expected_ready = {"copied.png", "renamed.png", "slow.png", "atomic.png"}
    await wait_for(lambda: expected_ready <= set(files(d["originals"])) and not files(d["to-post"]),
                   what="all originals")
    await wait_for(lambda: {"README.md", "unicorn/u.jpg"} <= set(files(d["rejected"])), what="rejects")
    await asyncio.sleep(1.0)      # give any stray event time to (wrongly) start another job

    ready, originals, rejected = files(d["ready"]), files(d["originals"]), files(d["rejected"])
    assert set(ready) == expected_ready
    for name in expected_ready:
        assert originals[name] == sources[name], name                          # originals kept byte for byte
        with Image.open(d["ready"] / name) as im:
            assert im.format == "PNG"
    assert rejected["unicorn/u.jpg"] == sources["photo.jpg"]
    assert "unicorn" in rejected["unicorn/u.jpg.txt"].decode() and "anchor" in rejected["unicorn/u.jpg.txt"].decode()
    assert rejected["README.md"] == b"# not an image\n"
    assert not files(d["to-post"])                                             # nothing left behind ...
    # ... and nothing lost: every input is in originals or rejected.
    assert len(originals) + len([n for n in rejected if not n.endswith(".txt")]) == 6
    # Our own writes (ready/, originals/, rejected/) started no jobs: exactly one per image.
    jobs = list(app[SERVICE].store.all_jobs())
    assert sorted(j.filename for j in jobs) == sorted(expected_ready)
    assert all(j.status == "done" for j in jobs)
    # A weakly protected result is marked beside it, as Glaze marks INCOMPLETE files.
    for j in jobs:
        note = d["ready"] / f"{j.filename}.weak.txt"
        assert note.exists() == bool(j.measurements["weak"]), j.filename
        if note.exists():
            text = note.read_text()       # the one verdict, and the next step that exists
            assert "weakly protected" in text and "high intensity" in text and j.filename in text
    assert any(j.measurements["weak"] for j in jobs), "3 steps at a 64-pixel view cannot pass the self-check"


async def test_failed_job_goes_to_rejected_with_reason(make_client, shade_env, anchor_dir, tmp_path):
    # The anchor vanishes after the job was queued: the job fails, the original is kept.
    # (A concept with no built-in anchor: a vanished "cat" would fall back to the built-in one.)
    anchors = tmp_path / "anchors"
    anchors.mkdir()
    shutil.copy(anchor_dir / "cat.png", anchors / "dog.png")
    client, token, app = await make_client(watch=True, anchor_dir=anchors)
    d = layout(shade_env)
    app[SERVICE].worker.pause()
    await wait_for(lambda: d["to-post"].is_dir(), what="folders")
    data = image_bytes()
    (d["to-post"] / "dog").mkdir()
    (d["to-post"] / "dog" / "x.png").write_bytes(data)
    await wait_for(lambda: list(app[SERVICE].store.all_jobs()), what="the job")
    (anchors / "dog.png").unlink()
    app[SERVICE].worker.resume()
    await wait_for(lambda: "dog/x.png.txt" in files(d["rejected"]), what="the reject")
    assert files(d["rejected"])["dog/x.png"] == data
    assert not files(d["ready"]) and not files(d["to-post"])


async def test_file_replaced_while_its_job_waits(make_client, shade_env):
    client, token, app = await make_client(watch=True)
    d = layout(shade_env)
    service = app[SERVICE]
    service.worker.pause()
    await wait_for(lambda: d["to-post"].is_dir(), what="folders")
    first, second = image_bytes((64, 48)), image_bytes((80, 56), color=(10, 200, 30))
    (d["to-post"] / "x.png").write_bytes(first)
    await wait_for(lambda: list(service.store.all_jobs()), what="the first job")
    tmp = d["to-post"].parent / "x.tmp"
    tmp.write_bytes(second)
    os.replace(tmp, d["to-post"] / "x.png")              # the user saves a new version meanwhile
    service.worker.resume()
    await wait_for(lambda: len(files(d["ready"])) == 2 and not files(d["to-post"]), what="both versions")
    originals = files(d["originals"])
    assert sorted(originals.values()) == sorted([first, second])   # both versions kept
    sizes = set()
    for name in files(d["ready"]):
        with Image.open(d["ready"] / name) as im:
            sizes.add(im.size)
    assert sizes == {(64, 48), (80, 56)}
    assert len(list(service.store.all_jobs())) == 2
