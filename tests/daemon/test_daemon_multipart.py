"""One multipart reader behind every upload route (issue 26, and issue 28's audit: /v1/styles
was the one path it did not cover). Each malformed body gets a 4xx with the usual error body,
at once and within about 2 MiB read, on every route; nothing is queued or kept."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from shadetest import auth, image_bytes

# route -> (its file part, its text fields)
ROUTES = {
    "/v1/jobs": ("image", {}),
    "/v1/anchors": ("image", {"name": "flood-test"}),
    "/v1/styles": ("image", {"name": "flood-test"}),
    "/v1/audits": ("posted", {}),
}
B = b"zzz"


def _file_part(name: str, filename: bytes = b"a.png") -> bytes:
    return (b"--zzz\r\nContent-Disposition: form-data; name=\"" + name.encode() + b"\"; filename=\"" + filename
            + b"\"\r\nContent-Type: image/png\r\n\r\n" + image_bytes() + b"\r\n")


def _fields(fields: dict[str, str]) -> bytes:
    return b"".join(b"--zzz\r\nContent-Disposition: form-data; name=\"" + k.encode() + b"\"\r\n\r\n" + v.encode()
                    + b"\r\n" for k, v in fields.items())


def _cases(file_part: str, fields: dict[str, str]) -> dict[str, tuple[bytes, bytes]]:
    """what -> (Content-Type, body)."""
    whole = _fields(fields) + _file_part(file_part) + b"--zzz--\r\n"
    nested = (_fields(fields) + b"--zzz\r\nContent-Disposition: form-data; name=\"" + file_part.encode()
              + b"\"\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n--inner\r\nContent-Disposition: "
              b"attachment; filename=\"a.png\"\r\n\r\n" + image_bytes() + b"\r\n--inner--\r\n\r\n--zzz--\r\n")
    return {
        "no boundary": (b"multipart/form-data", whole),
        "an overlong boundary": (b"multipart/form-data; boundary=" + b"y" * 300,
                                 whole.replace(b"--zzz", b"--" + b"y" * 300)),
        "an unterminated body": (b"multipart/form-data; boundary=" + B,
                                 _fields(fields) + _file_part(file_part)[:-200]),
        "a nested multipart": (b"multipart/form-data; boundary=" + B, nested),
        "NUL in a part's name": (b"multipart/form-data; boundary=" + B,
                                 _fields(fields) + _file_part(file_part).replace(file_part.encode(),
                                                                                 file_part.encode() + b"\x00x", 1)
                                 + b"--zzz--\r\n"),
        "NUL in a filename": (b"multipart/form-data; boundary=" + B,
                              _fields(fields) + _file_part(file_part, b"a\x00b.png") + b"--zzz--\r\n"),
    }


async def _raw(port: int, path: str, token: str, ctype: bytes, body: bytes) -> tuple[int, dict]:
    head = (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1:" + str(port).encode()
            + b"\r\nAuthorization: Bearer " + token.encode() + b"\r\nContent-Type: " + ctype
            + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 20)
    finally:
        writer.close()
    header, _, payload = data.partition(b"\r\n\r\n")
    return int(header.split(b" ", 2)[1]), json.loads(payload)


@pytest.mark.parametrize("route", sorted(ROUTES))
async def test_malformed_multipart_is_a_4xx_on_every_upload_route(make_client, route):
    client, token, _ = await make_client()
    file_part, fields = ROUTES[route]
    for what, (ctype, body) in _cases(file_part, fields).items():
        t0 = time.monotonic()
        status, reply = await _raw(client.port, route, token, ctype, body)
        assert 400 <= status < 500, (route, what, status, reply)
        assert set(reply) == {"error"} and reply["error"]["code"] and reply["error"]["message"], (what, reply)
        assert time.monotonic() - t0 < 10, (route, what)
    assert (await client.get("/v1/health")).status == 200
    assert (await (await client.get("/v1/jobs", headers=auth(token))).json())["jobs"] == []
    names = (await (await client.get("/v1/styles", headers=auth(token))).json())["styles"]
    assert "flood-test" not in [s["name"] for s in names]


@pytest.mark.parametrize("route", sorted(ROUTES))
async def test_a_flood_of_one_field_is_refused_quickly_within_2_mib(make_client, route, monkeypatch):
    from shade_daemon.http import multipart

    read = [0]
    count = multipart._MeteredBody._count

    async def counting(self, data: bytes) -> bytes:
        out = await count(self, data)
        read[0] = max(read[0], self.consumed)
        return out

    monkeypatch.setattr(multipart._MeteredBody, "_count", counting)
    client, token, _ = await make_client()
    sent = [0]
    repeated = b"--zzz\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n"
    if route == "/v1/jobs":
        repeated = repeated.replace(b"\"name\"", b"\"mode\"")
    elif route == "/v1/audits":
        repeated = repeated.replace(b"\"name\"", b"\"target\"")

    async def flood():
        for _ in range(4000):                     # 8 MB of it, if nobody stops it
            chunk = repeated * 40
            sent[0] += len(chunk)
            yield chunk

    t0 = time.monotonic()
    try:
        r = await client.post(route, data=flood(), headers=auth(token, **{
            "Content-Type": "multipart/form-data; boundary=zzz"}))
        got = (r.status, (await r.json())["error"]["code"])
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
        got = None                                # closed before the client finished: refused too
    assert got is None or got[0] in (400, 413), got
    assert time.monotonic() - t0 < 10
    assert 0 < read[0] <= 2 * 1024 * 1024, f"the daemon read {read[0]} bytes of the flood"
