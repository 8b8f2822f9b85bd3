"""Issue 14's hardening, each against the real daemon (in-process on a loopback port, or
`shade daemon` as a subprocess) or the real watched folder, with real files and signals:
deliveries that a kill -9 cannot leave half-written, the whole body under the upload cap,
4xx (never 500) for malformed requests, what cannot be shaded refused at upload (and CMYK
converted through its profile), PNGs without IEND not taken as complete, symbolic links
rejected, private file modes, no server paths in answers, a 2 s shutdown, crash counting,
and pairing validation with `shade token --unpair`."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sqlite3
import stat
import struct
import time
import zlib
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from PIL import Image, ImageCms

from shade_daemon.http.keys import SERVICE
from shadetest import (
    auth,
    image_bytes,
    loopback_daemon,
    poll_until,
    run_shade,
    upload,
    wait_job,
    wait_until,
)

pytestmark = [pytest.mark.timeout(300)]


# --- helpers ------------------------------------------------------------------------------------





def folders(env: dict) -> dict[str, Path]:
    root = Path(env["SHADE_HOME"]) / "Pictures" / "Shade"
    return {k: root / k for k in ("to-post", "ready", "originals", "rejected")}


def job_row(env: dict, job_id: str) -> dict:
    db = sqlite3.connect(Path(env["SHADE_HOME"]) / "data" / "jobs.sqlite3")
    db.row_factory = sqlite3.Row
    try:
        return dict(db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())
    finally:
        db.close()


def noise_png(width: int, height: int, seed: int = 0) -> bytes:
    """Incompressible pixels: the PNG is about width x height x 3 bytes."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png16(width: int, height: int, color_type: int) -> bytes:
    """A real 16-bit PNG (color type 0: grey, 2: RGB) with a gradient."""
    channels = 3 if color_type == 2 else 1
    ramp = (np.linspace(0, 65535, width * height * channels) % 65536).astype(">u2").reshape(height, width * channels)
    raw = b"".join(b"\x00" + row.tobytes() for row in ramp)
    ihdr = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


def _s15(v: float) -> bytes:
    return struct.pack(">i", int(round(v * 65536)))


def cmyk_profile() -> bytes:
    """A minimal ICC v2 CMYK printer profile (A2B0, a 2-point lut16 to Lab) whose colours
    differ on purpose from Pillow's plain CMYK formula (red and blue swapped), so a
    conversion through it can be told from one without it."""
    from skimage.color import rgb2lab

    clut = []
    for idx in range(16):
        c, m, y, k = (idx >> 3) & 1, (idx >> 2) & 1, (idx >> 1) & 1, idx & 1
        rgb = [(1 - y) * (1 - k), (1 - m) * (1 - k), (1 - c) * (1 - k)]
        L, a, b = rgb2lab(np.array([[rgb]], dtype=np.float64), illuminant="D50")[0, 0]
        clut += [round(L / 100 * 0xFF00), round((a + 128) * 256), round((b + 128) * 256)]
    clut = [min(max(v, 0), 0xFFFF) for v in clut]
    lut = (b"mft2" + b"\0" * 4 + bytes([4, 3, 2, 0]) + b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
           + struct.pack(">HH", 2, 2) + struct.pack(">8H", *([0, 0xFFFF] * 4))
           + struct.pack(f">{len(clut)}H", *clut) + struct.pack(">6H", *([0, 0xFFFF] * 3)))
    text = b"Shade test CMYK\0"
    desc = (b"desc" + b"\0" * 4 + struct.pack(">I", len(text)) + text + struct.pack(">II", 0, 0)
            + struct.pack(">HB", 0, 0) + b"\0" * 67)
    wtpt = b"XYZ " + b"\0" * 4 + _s15(0.9642) + _s15(1.0) + _s15(0.8249)
    cprt = b"text" + b"\0" * 4 + b"public domain\0"
    tags = [(b"desc", desc), (b"wtpt", wtpt), (b"cprt", cprt), (b"A2B0", lut)]
    offset, table, blob = 128 + 4 + 12 * len(tags), b"", b""
    for sig, data in tags:
        table += sig + struct.pack(">II", offset + len(blob), len(data))
        blob += data + b"\0" * (-len(data) % 4)
    body = struct.pack(">I", len(tags)) + table + blob
    header = (struct.pack(">I", 128 + len(body)) + b"\0" * 4 + struct.pack(">I", 0x02100000) + b"prtrCMYKLab "
              + b"\0" * 12 + b"acsp" + b"\0" * 28 + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + b"\0" * 48)
    assert len(header) == 128
    return header + body


async def _error(r) -> tuple[int, str, str]:
    body = await r.json()
    return r.status, body["error"]["code"], body["error"]["message"]


async def raw_request(port: int, head: bytes, body: bytes = b"") -> tuple[int, dict]:
    """Send bytes as they are (no client library tidying them up); (status, JSON body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    header, _, payload = data.partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in header.lower():
        out, rest = b"", payload
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2:]
        payload = out
    return status, json.loads(payload)


# --- 1. no corrupt result after a crash ---------------------------------------------------------
def test_kill9_the_moment_a_delivery_appears_leaves_no_corrupt_file(proc_env, tmp_path, daemons):
    d = folders(proc_env)
    for p in d.values():
        p.mkdir(parents=True, exist_ok=True)
    data = noise_png(1400, 1000)                # ~4 MB: its copy into ready/ takes a moment
    staging = tmp_path / "big.png"
    staging.write_bytes(data)
    daemon = loopback_daemon(proc_env, tmp_path)
    daemons.append(daemon)
    os.replace(staging, d["to-post"] / "big.png")
    deadline = time.monotonic() + 240
    while not any(os.scandir(d["ready"])):      # kill -9 at the first sight of anything in ready/
        assert time.monotonic() < deadline, "nothing reached ready/"
        assert daemon.proc.poll() is None, daemon.log()
    daemon.proc.kill()
    daemon.proc.wait(10)
    # Whatever the kill interrupted, no file under a real name is half-written.
    for p in d["ready"].iterdir():
        if not p.name.startswith(".") and not p.name.endswith(".weak.txt"):
            with Image.open(p) as im:
                im.load()
    again = loopback_daemon(proc_env, tmp_path)
    daemons.append(again)
    wait_until(lambda: (d["originals"] / "big.png").exists(), 240, 0.1, "the delivery after the restart")
    assert sorted(p.name for p in d["ready"].iterdir() if not p.name.endswith(".weak.txt")) == ["big.png"]
    with Image.open(d["ready"] / "big.png") as im:
        im.load()
        assert im.size == (1400, 1000)
    assert (d["originals"] / "big.png").read_bytes() == data
    assert not [p for p in d["ready"].rglob(".shade-*")], "temporary files left after the restart"
    assert again.stop() == 0


# --- 2. the whole body counts against the cap, parsing yields -----------------------------------
async def test_text_parts_cannot_bypass_the_cap_or_stall_the_loop(make_client):
    client, token, _ = await make_client(max_upload_mb=1)
    boundary = "capboundary"
    ctype = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    text_part = (f'--{boundary}\r\nContent-Disposition: form-data; name="mode"\r\n\r\npoison\r\n').encode()
    image_part = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
                  "Content-Type: image/png\r\n\r\n").encode() + image_bytes() + f"\r\n--{boundary}--\r\n".encode()

    async def chunked(prefix: bytes, count: int):
        for _ in range(count):
            yield prefix * 200
        yield image_part

    async def send(body) -> tuple[tuple, list[float]]:
        """POST ``body`` while /v1/health is probed; (status, code, message) or None where the
        server closed the connection before the client finished sending (also a refusal)."""
        lat: list[float] = []
        stop = asyncio.Event()

        async def probe():
            while not stop.is_set():
                t0 = time.perf_counter()
                assert (await client.get("/v1/health")).status == 200
                lat.append(time.perf_counter() - t0)
                await asyncio.sleep(0.01)

        prober = asyncio.create_task(probe())
        try:
            got = await _error(await client.post("/v1/jobs", data=body, headers=auth(token, **ctype)))
        except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
            got = None
        finally:
            stop.set()
            await prober
        return got, lat

    # Repeated (valid) text parts: 3 MB of them against a 1 MB cap, sent chunked (no Content-Length).
    got, lat = await send(chunked(text_part, 160))
    assert got is None or got[:2] in ((400, "bad_request"), (413, "upload_too_large")), got
    assert lat and sorted(lat)[len(lat) // 2] < 0.25, f"/health p50 {sorted(lat)[len(lat) // 2]:.3f} s"
    # A 4 MB preamble before the first boundary counts too.
    got, lat = await send(chunked(b"x" * 78 + b"\r\n", 250))
    assert got is None or got[:2] == (413, "upload_too_large"), got
    assert lat and sorted(lat)[len(lat) // 2] < 0.25, f"/health p50 {sorted(lat)[len(lat) // 2]:.3f} s"
    # Fields are sent once each.
    form = (text_part * 2) + image_part
    r = await client.post("/v1/jobs", data=form, headers=auth(token, **ctype))
    status, code, message = await _error(r)
    assert (status, code) == (400, "bad_request") and "twice" in message
    assert (await (await client.get("/v1/jobs", headers=auth(token))).json())["jobs"] == []


# --- 3. malformed requests: a 4xx with the usual body, never a 500 ------------------------------
async def test_malformed_requests_get_a_4xx_with_the_error_body(make_client):
    client, token, _ = await make_client()
    port = client.port
    host = f"127.0.0.1:{port}".encode()

    def post(ctype: bytes, body: bytes, authorization: bytes | None = None) -> bytes:
        authorization = authorization or f"Bearer {token}".encode()
        return (b"POST /v1/jobs HTTP/1.1\r\nHost: " + host + b"\r\nAuthorization: " + authorization
                + b"\r\nContent-Type: " + ctype + b"\r\nContent-Length: " + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n")

    b = b"zzz"
    part = b"--zzz\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n" + image_bytes() \
        + b"\r\n--zzz--\r\n"
    long_header = (b"--zzz\r\nContent-Disposition: form-data; name=\"image\"; filename=\"" + b"a" * 9000
                   + b".png\"\r\n\r\n" + image_bytes() + b"\r\n--zzz--\r\n")
    nul_name = (b"--zzz\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a\x00b.png\"\r\n\r\n"
                + image_bytes() + b"\r\n--zzz--\r\n")
    cases = {
        "no boundary": (post(b"multipart/form-data", part), part),
        "part header over 8190 bytes": (post(b"multipart/form-data; boundary=" + b, long_header), long_header),
        "NUL in a filename": (post(b"multipart/form-data; boundary=" + b, nul_name), nul_name),
        "non-ASCII bearer token": (post(b"multipart/form-data; boundary=" + b, part, b"Bearer \xe9\xe9"), part),
    }
    for what, (head, body) in cases.items():
        status, reply = await raw_request(port, head, body)
        assert 400 <= status < 500, (what, status, reply)
        assert set(reply) == {"error"} and reply["error"]["code"] and reply["error"]["message"], (what, reply)
    assert (await client.get("/v1/health")).status == 200
    assert (await (await client.get("/v1/jobs", headers=auth(token))).json())["jobs"] == []


# --- 4. what cannot be shaded is refused at upload; CMYK is converted through its profile -------
async def test_unshadeable_images_are_refused_at_upload_and_cmyk_is_converted(make_client, settings_paths):
    client, token, _ = await make_client()
    _, paths = settings_paths()
    private = str(paths.data_dir.parent)
    tiny = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 10, 10)).save(tiny, "PNG")
    strip = io.BytesIO()
    Image.new("RGB", (10000, 1), (200, 10, 10)).save(strip, "PNG")
    for name, data, words in (("grey16.png", png16(64, 48, 0), "16 bits"), ("rgb16.png", png16(64, 48, 2), "16 bits"),
                              ("dot.png", tiny.getvalue(), "at least 16 pixels"),
                              ("strip.png", strip.getvalue(), "at least 16 pixels")):
        status, code, message = await _error(await upload(client, token, data, filename=name))
        assert (status, code) == (400, "bad_image") and words in message, (name, message)
        assert private not in message
    long = io.BytesIO()
    Image.new("RGB", (2000, 40), (200, 10, 10)).save(long, "PNG")
    status, code, message = await _error(await upload(client, token, long.getvalue(), filename="long.png"))
    assert (status, code) == (400, "bad_image") and "32:1" in message, message
    assert (await (await client.get("/v1/jobs", headers=auth(token))).json())["jobs"] == []

    # CMYK with its ICC profile: shaded, as sRGB converted through that profile.
    profile = cmyk_profile()
    yy, xx = np.mgrid[0:72, 0:96]
    cmyk = Image.fromarray(np.stack([150 + xx, (yy * 2) % 60, (xx * yy) % 40, 0 * xx], -1).astype(np.uint8), "CMYK")
    buf = io.BytesIO()
    cmyk.save(buf, "JPEG", quality=95, icc_profile=profile)
    r = await upload(client, token, buf.getvalue(), filename="print.jpg", content_type="image/jpeg")
    assert r.status == 202, await r.text()
    job = await wait_job(client, token, (await r.json())["id"])
    assert job["status"] == "done", job
    res = await client.get(job["result_url"], headers=auth(token))
    out = Image.open(io.BytesIO(await res.read()))
    assert out.format == "JPEG" and out.mode == "RGB" and out.size == (96, 72)
    assert ImageCms.ImageCmsProfile(io.BytesIO(out.info["icc_profile"])).profile.xcolor_space.strip() == "RGB"
    with Image.open(buf) as src:
        expected = ImageCms.profileToProfile(src, ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                                             ImageCms.createProfile("sRGB"), outputMode="RGB")
        naive = src.convert("RGB")
    mean = np.asarray(out, dtype=np.float64).reshape(-1, 3).mean(0)
    assert np.abs(mean - np.asarray(expected, dtype=np.float64).reshape(-1, 3).mean(0)).max() < 12, mean
    assert np.abs(mean - np.asarray(naive, dtype=np.float64).reshape(-1, 3).mean(0)).max() > 60, mean


# --- 5. bounded memory ---------------------------------------------------------------------------
def _status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {key} in /proc/{pid}/status")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak resident size from /proc (Linux)")
@pytest.mark.timeout(900)             # 12 MP at full size: about a minute on 2 idle cores
def test_a_12_mp_image_is_shaded_within_the_memory_bound(proc_env, tmp_path, daemons):
    """The full-size stages (mask, render, encode, the figures) go in strips: a 12 MP photo
    takes the daemon well under 1.5 GB above idle (it took 2 GB at the smallest settings
    before, 7 GB at the default; `shade bench --memory 50` measures the 50 MP case)."""
    from shading.lab.memory_bench import synthetic_png

    daemon = loopback_daemon({**proc_env, "OMP_NUM_THREADS": "2"}, tmp_path)     # full-size figures: both cores
    daemons.append(daemon)
    warm = daemon.upload(noise_png(200, 150), "warm.png")      # idle = a daemon that has shaded before
    assert daemon.wait_job(warm, lambda j: j["status"] in ("done", "failed"), 120)["status"] == "done"
    idle = _status_mb(daemon.proc.pid, "VmRSS")
    job = daemon.upload(synthetic_png(4242, 2828), "big.png")
    done = daemon.wait_job(job, lambda j: j["status"] in ("done", "failed"), 600)
    assert done["status"] == "done", done
    above = _status_mb(daemon.proc.pid, "VmHWM") - idle
    assert above < 1536, f"peak {above:.0f} MB above idle"
    assert daemon.stop() == 0


# --- 6. a PNG without its IEND is not complete --------------------------------------------------
async def test_png_missing_iend_waits_until_it_is_whole(make_client, shade_env):
    client, token, app = await make_client(watch=True)
    d = folders(shade_env)
    await poll_until(lambda: d["to-post"].is_dir(), 30, 0.05, "folders")
    data = image_bytes((80, 64))
    assert data.endswith(b"IEND\xaeB`\x82")
    target = d["to-post"] / "slow.png"
    with open(target, "wb") as fh:
        fh.write(data[:-12])               # everything but the end marker
        fh.flush()
        await asyncio.sleep(1.2)           # 6 debounce periods: decodes fine, yet is not complete
        assert not app[SERVICE].store.all_jobs(), "a PNG without IEND was taken as complete"
        fh.write(data[-12:])
    await poll_until(lambda: (d["originals"] / "slow.png").exists(), 90, 0.1, "delivery")
    jobs = app[SERVICE].store.all_jobs()
    assert len(jobs) == 1 and jobs[0].status == "done", jobs
    assert (d["originals"] / "slow.png").read_bytes() == data
    assert [p.name for p in d["ready"].iterdir() if not p.name.endswith(".weak.txt")] == ["slow.png"]
    assert not any(d["rejected"].iterdir())


# --- 7. symbolic links in to-post/ are rejected, never followed ---------------------------------
async def test_symlinks_in_to_post_are_rejected_not_followed(make_client, shade_env, tmp_path):
    d = folders(shade_env)
    for p in d.values():
        p.mkdir(parents=True, exist_ok=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    secret = image_bytes((72, 56))
    (outside / "secret.png").write_bytes(secret)
    (outside / "inner.png").write_bytes(secret)
    os.symlink(outside / "secret.png", d["to-post"] / "link.png")           # there at start
    client, token, app = await make_client(watch=True)
    await poll_until(lambda: (d["rejected"] / "link.png.txt").exists(), 60, 0.05, "the link there at start rejected")
    os.symlink(outside, d["to-post"] / "folder-link")                        # made while watching
    (d["to-post"] / "real.png").write_bytes(image_bytes((64, 48)))
    await poll_until(lambda: (d["originals"] / "real.png").exists() and (d["rejected"] / "link.png.txt").exists()
                     and (d["rejected"] / "folder-link.txt").exists(), 90, 0.1, "the links rejected")
    await asyncio.sleep(1.0)
    for name in ("link.png", "folder-link"):
        moved = d["rejected"] / name
        assert moved.is_symlink(), f"{name} should be in rejected/ as the link it is"
        reason = (d["rejected"] / f"{name}.txt").read_text()
        assert "symbolic link" in reason and "does not follow" in reason, reason
    assert (outside / "secret.png").read_bytes() == secret and (outside / "inner.png").read_bytes() == secret
    assert [j.filename for j in app[SERVICE].store.all_jobs()] == ["real.png"]
    assert not (d["originals"] / "real.png").is_symlink()
    assert sorted(p.name for p in d["ready"].iterdir() if not p.name.endswith(".weak.txt")) == ["real.png"]
    assert not any(d["to-post"].iterdir())


# --- private file modes -------------------------------------------------------------------------
@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_private_data_is_0600_and_0700_user_folders_follow_umask(proc_env, tmp_path, daemons):
    old = os.umask(0o022)                     # the usual umask, inherited by the daemon
    try:
        daemon = loopback_daemon(proc_env, tmp_path)
    finally:
        os.umask(old)
    daemons.append(daemon)
    d = folders(proc_env)
    job_id = daemon.upload(image_bytes(), "private.png")
    assert daemon.wait_job(job_id, lambda j: j["status"] == "done")
    (d["to-post"] / "mine.png").write_bytes(image_bytes((64, 48)))
    wait_until(lambda: (d["originals"] / "mine.png").exists(), 120, 0.1, "the folder delivery")
    data = Path(proc_env["SHADE_HOME"]) / "data"

    def mode(p: Path) -> int:
        return stat.S_IMODE(p.stat().st_mode)

    jdir = data / "jobs" / job_id
    for p in (data, data / "jobs", data / "incoming", jdir):
        assert mode(p) == 0o700, (p, oct(mode(p)))
    for p in [data / "jobs.sqlite3", *[q for q in (data / "jobs.sqlite3-wal",) if q.exists()], *jdir.iterdir()]:
        assert mode(p) == 0o600, (p, oct(mode(p)))
    for job in daemon.jobs():
        for p in (data / "jobs" / job["id"]).iterdir():
            assert mode(p) == 0o600, (p, oct(mode(p)))
    # The user's own folders and what is delivered into them follow the umask.
    assert mode(d["ready"] / "mine.png") == 0o644 and mode(d["ready"]) == 0o755
    # Everything else the daemon writes is private, whatever the umask: the log (it names the
    # user's files) and its folder, its state, its lock, and images added to the libraries
    # through the API, in 0700 library folders.
    for kind in ("styles", "anchors"):
        boundary = "shadetestboundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nmine-{kind}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"s.png\"\r\n"
                "Content-Type: image/png\r\n\r\n").encode() + image_bytes() + f"\r\n--{boundary}--\r\n".encode()
        status, reply = daemon.request("POST", f"/v1/{kind}", body,
                                       {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert status == 201, reply
        var = "SHADE_ANCHOR_DIR" if kind == "anchors" else "SHADE_STYLE_DIR"
        folder = Path(proc_env[var].split(os.pathsep)[0]) if proc_env.get(var) else data / kind
        assert mode(folder) == 0o700 and mode(folder / f"mine-{kind}.png") == 0o600, (folder, oct(mode(folder)))
        assert daemon.request("DELETE", f"/v1/{kind}/mine-{kind}")[0] == 200     # the anchor folder is shared
    home = Path(proc_env["SHADE_HOME"])
    for p in (home / "logs", home / "state", home / "config", home / "cache"):
        assert mode(p) == 0o700, (p, oct(mode(p)))
    for p in (home / "logs" / "daemon.log", home / "state" / "daemon.json", data / "daemon.lock"):
        assert mode(p) == 0o600, (p, oct(mode(p)))
    assert daemon.stop() == 0


# --- no absolute server paths in answers --------------------------------------------------------
async def test_status_jobs_and_failures_carry_no_server_paths(make_client, settings_paths, shade_env):
    client, token, app = await make_client(watch=True)
    service = app[SERVICE]
    private = shade_env["SHADE_HOME"]
    service.worker.pause()
    r = await upload(client, token, image_bytes(), filename="gone.png")
    job_id = (await r.json())["id"]
    job = service.store.get(job_id)
    (service.store.job_dir(job_id) / job.input_file).unlink()      # the input vanishes before it runs
    service.worker.resume()
    failed = await wait_job(client, token, job_id)
    assert failed["status"] == "failed", failed
    assert "gone.png" in failed["error"]["message"], failed
    for path in ("/v1/status", "/v1/jobs", f"/v1/jobs/{job_id}"):
        text = await (await client.get(path, headers=auth(token))).text()
        assert private not in text, (path, text)
    status = await (await client.get("/v1/status", headers=auth(token))).json()
    assert status["watched_folders"] == ["Shade/to-post"]


# --- shutdown within 2 s of SIGTERM, the job re-queued ------------------------------------------
def test_sigterm_during_a_stage_without_progress_exits_within_2s(proc_env, tmp_path, daemons):
    daemon = loopback_daemon(proc_env, tmp_path)
    daemons.append(daemon)
    job_id = daemon.upload(noise_png(900, 700, seed=3), "render.png")
    # After the last optimizer step the core renders and checks the result at full size
    # without reporting progress: a stage a stop request cannot interrupt.
    daemon.wait_job(job_id, lambda j: j["status"] == "running" and j["total"] and j["step"] >= j["total"])
    t0 = time.monotonic()
    daemon.proc.send_signal(signal.SIGTERM)
    code = daemon.proc.wait(30)
    took = time.monotonic() - t0
    assert took < 2.0, f"took {took:.1f} s to stop"
    assert code == 0, daemon.log()
    row = job_row(proc_env, job_id)
    assert row["status"] == "queued" and row["attempts"] == 0, row
    again = loopback_daemon(proc_env, tmp_path)
    daemons.append(again)
    assert again.wait_job(job_id, lambda j: j["status"] in ("done", "failed"), 240)["status"] == "done"
    assert again.stop() == 0


# --- crashes count only while the job ran -------------------------------------------------------
def test_a_kill_that_follows_sigterm_is_not_the_jobs_crash(proc_env, tmp_path, daemons):
    slow = dict(proc_env, SHADE_STEPS="100000")
    for _ in range(3):                        # a session manager that does not wait: TERM, then KILL
        daemon = loopback_daemon(slow, tmp_path)
        daemons.append(daemon)
        if _ == 0:
            job_id = daemon.upload(image_bytes(), "patient.png")
        daemon.wait_job(job_id, lambda j: j["status"] == "running" and j["step"] >= 1)
        daemon.proc.send_signal(signal.SIGTERM)
        time.sleep(0.05)
        daemon.proc.kill()
        daemon.proc.wait(10)
    row = job_row(proc_env, job_id)
    assert row["status"] == "queued" and row["attempts"] == 0, row
    final = loopback_daemon(proc_env, tmp_path)
    daemons.append(final)
    job = final.wait_job(job_id, lambda j: j["status"] in ("done", "failed"))
    assert job["status"] == "done", job
    assert final.stop() == 0


# --- pairing: validated origins, and a way to unpair --------------------------------------------
def test_pairing_validates_the_origin_and_shade_token_unpairs(proc_env, tmp_path, daemons):
    daemon = loopback_daemon(proc_env, tmp_path)
    daemons.append(daemon)
    firefox = "moz-extension://4f1b8a7e-2c1d-4e8a-9a43-0c7d2c9e5b11"
    for bad in ('chrome-extension://a"b<c>', "chrome-extension://short", "moz-extension://not-a-uuid",
                "chrome-extension://" + "a" * 32 + "/path"):
        status, reply = daemon.request("POST", "/v1/pair", headers={"Origin": bad})
        assert status == 403 and reply["error"]["code"] == "origin_not_allowed", (bad, reply)
        assert "moz-extension://<UUID>" in reply["error"]["message"]
    out = run_shade(["token", "--paired"], proc_env, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == ""
    status, reply = daemon.request("POST", "/v1/pair", headers={"Origin": firefox})
    assert status == 200 and reply["origin"] == firefox
    assert daemon.request("GET", "/v1/status", headers={"Origin": firefox})[0] == 200
    paired_file = Path(proc_env["SHADE_HOME"]) / "data" / "paired-origins.json"
    assert json.loads(paired_file.read_text())["origins"] == [firefox]
    if os.name == "posix":
        assert stat.S_IMODE(paired_file.stat().st_mode) == 0o600
    out = run_shade(["token", "--paired"], proc_env, timeout=60)
    assert out.stdout.split() == [firefox]
    out = run_shade(["token", "--unpair", firefox], proc_env, timeout=60)
    assert out.returncode == 0 and firefox in out.stdout
    # The running daemon refuses it at once, without a restart.
    status, reply = daemon.request("GET", "/v1/status", headers={"Origin": firefox})
    assert status == 403, reply
    out = run_shade(["token", "--unpair", firefox], proc_env, timeout=60)
    assert out.returncode == 1 and "not paired" in out.stderr
    assert daemon.stop() == 0
