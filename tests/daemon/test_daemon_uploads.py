"""Bad uploads get a 4xx with a clear message, and the daemon keeps serving: garbage,
truncated PNG, decompression bomb, 0 bytes, a 100-megapixel header, wrong content
types, over-size bodies, bad options. The content is sniffed, never trusted."""

from __future__ import annotations

import io
import os
import struct
import zlib

import aiohttp
import pytest
from PIL import Image

from shadetest import auth, image_bytes, upload, wait_job

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height RGB pixels but carries (almost) no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) \
        + _chunk(b"IEND", b"")


def png_bomb(side: int = 20000) -> bytes:
    """A real decompression bomb: a 1-bit side x side PNG of zeros, ~50 MB raw, a few KB on disk."""
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (side + 7) // 8)
    comp = zlib.compressobj(9)
    block = row * 500
    idat = b"".join(comp.compress(block) for _ in range(side // 500)) + comp.flush()
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


async def _error(r) -> tuple[int, str, str]:
    body = await r.json()
    return r.status, body["error"]["code"], body["error"]["message"]


async def _still_serving(client, token):
    r = await client.get("/v1/health")
    assert r.status == 200
    r = await upload(client, token, image_bytes())
    assert r.status == 202
    job = await wait_job(client, token, (await r.json())["id"])
    assert job["status"] == "done", job


async def test_bad_images_are_refused_clearly(make_client):
    client, token, _ = await make_client()
    good = image_bytes()
    bomb = png_bomb()
    assert len(bomb) < 200_000
    cases = [
        ("garbage", os.urandom(4096), "image/png", 400, "bad_image", "not an image"),
        ("truncated", good[: len(good) // 2], "image/png", 400, "bad_image", "damaged or incomplete"),
        ("empty", b"", "image/png", 400, "bad_image", "empty"),
        ("bomb", bomb, "image/png", 400, "image_too_large", "megapixels"),
        ("100mp", png_header_only(10_000, 10_000), "image/png", 400, "image_too_large", "100.0 megapixels"),
        ("text-as-png", b"hello, I am a text file\n" * 20, "image/png", 400, "bad_image", "not an image"),
    ]
    for name, data, ctype, status, code, words in cases:
        r = await upload(client, token, data, filename=f"{name}.png", content_type=ctype)
        got = await _error(r)
        assert got[:2] == (status, code), (name, got)
        assert words in got[2], (name, got)
    # A GIF is an image, but not one Shade shades.
    buf = io.BytesIO()
    Image.new("P", (20, 20)).save(buf, format="GIF")
    status, code, message = await _error(await upload(client, token, buf.getvalue(), filename="a.gif"))
    assert (status, code) == (400, "bad_image") and "PNG, JPEG or WebP" in message
    # Nothing of the refused uploads is left behind.
    r = await client.get("/v1/jobs", headers=auth(token))
    assert (await r.json())["jobs"] == []
    await _still_serving(client, token)


async def test_type_is_sniffed_not_trusted(make_client):
    client, token, _ = await make_client()
    # A real JPEG named notes.txt and declared text/plain is accepted as the JPEG it is.
    r = await upload(client, token, image_bytes(fmt="JPEG"), filename="notes.txt", content_type="text/plain")
    assert r.status == 202
    job = await wait_job(client, token, (await r.json())["id"])
    assert job["status"] == "done"
    res = await client.get(job["result_url"], headers=auth(token))
    assert res.headers["Content-Type"] == "image/jpeg"
    assert 'filename="notes.jpg"' in res.headers["Content-Disposition"]
    assert Image.open(io.BytesIO(await res.read())).format == "JPEG"


async def test_wrong_request_content_type(make_client):
    client, token, _ = await make_client()
    r = await client.post("/v1/jobs", json={"image": "aGVsbG8="}, headers=auth(token))
    status, code, message = await _error(r)
    assert (status, code) == (415, "unsupported_media_type") and "multipart/form-data" in message
    r = await client.post("/v1/jobs", data=image_bytes(), headers=auth(token, **{"Content-Type": "image/png"}))
    assert (await _error(r))[:2] == (415, "unsupported_media_type")
    await _still_serving(client, token)


async def test_size_cap(make_client):
    client, token, _ = await make_client(max_upload_mb=1)
    big = os.urandom(3 * 1024 * 1024)
    status, code, message = await _error(await upload(client, token, big))
    assert (status, code) == (413, "upload_too_large") and "1 MB" in message

    # Chunked (no Content-Length): the cap is enforced while streaming.
    boundary = "shadeboundary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="big.png"\r\n'
            f"Content-Type: image/png\r\n\r\n").encode()

    async def body():
        yield head
        for _ in range(3):
            yield os.urandom(1024 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    try:
        r = await client.post("/v1/jobs", data=body(),
                              headers=auth(token, **{"Content-Type": f"multipart/form-data; boundary={boundary}"}))
        assert (await _error(r))[:2] == (413, "upload_too_large")
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
        pass  # the server may close the connection before the client finished sending: also a refusal
    await _still_serving(client, token)


async def test_bad_fields(make_client):
    client, token, _ = await make_client()
    img = image_bytes()
    for fields, code, words in (
        ({"mode": "destroy"}, "bad_options", "mode must be one of"),
        ({"intensity": "max"}, "bad_options", "intensity"),
        ({"quality": "ultra"}, "bad_options", "quality"),
        ({"target": "unicorn"}, "anchor_not_found", "unicorn"),
        ({"target": "../../etc/passwd"}, "bad_options", "not a concept name"),
        ({"mdoe": "poison"}, "bad_request", "unknown part 'mdoe'"),
        ({"mode": "cloak", "style": "nope"}, "style_not_found", "styles available: "),
    ):
        status, got, message = await _error(await upload(client, token, img, **fields))
        assert status == 400 and got == code and words in message, (fields, message)
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("mode", "poison")
    status, code, message = await _error(await client.post("/v1/jobs", data=form, headers=auth(token)))
    assert (status, code) == (400, "bad_request") and "'image'" in message
    await _still_serving(client, token)


async def test_malformed_multipart(make_client):
    client, token, _ = await make_client()
    r = await client.post("/v1/jobs", data=b"this is not multipart at all",
                          headers=auth(token, **{"Content-Type": "multipart/form-data; boundary=zzz"}))
    status, code, message = await _error(r)
    assert status == 400 and code in ("bad_request",), message
    await _still_serving(client, token)
