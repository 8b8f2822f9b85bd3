"""Helpers shared by the daemon tests: images, auth headers, uploads, waiting for jobs."""

from __future__ import annotations

import asyncio
import io
import os
import time
from pathlib import Path
from typing import Callable

import pytest
from keyring.backend import KeyringBackend
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SHARED_MODELS = ROOT.parent / "shared" / "models"
MODEL_DIR = Path(os.environ.get("SHADE_MODEL_DIR") or SHARED_MODELS)

needs_weights = pytest.mark.skipif(not MODEL_DIR.is_dir(),
                                   reason=f"model weights not found at {MODEL_DIR} (../shared is absent)")


class MemoryKeyring(KeyringBackend):
    """An explicit in-memory keyring for tests."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop((service, username), None)


def image_bytes(size=(96, 72), fmt="PNG", color=None) -> bytes:
    """A small picture with some structure (a gradient and a square)."""
    w, h = size
    im = Image.new("RGB", size)
    px = im.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = color or ((x * 255) // max(1, w - 1), (y * 255) // max(1, h - 1), 128)
    for y in range(h // 4, h // 2):
        for x in range(w // 4, w // 2):
            px[x, y] = (250, 250, 20)
    buf = io.BytesIO()
    im.save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


def auth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


async def wait_job(client, token: str, job_id: str, timeout: float = 60.0,
                   until: Callable[[dict], bool] | None = None) -> dict:
    until = until or (lambda j: j["status"] in ("done", "failed", "cancelled"))
    deadline = time.monotonic() + timeout
    while True:
        r = await client.get(f"/v1/jobs/{job_id}", headers=auth(token))
        assert r.status == 200, await r.text()
        job = await r.json()
        if until(job):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']} after {timeout}s"
        await asyncio.sleep(0.05)


async def upload(client, token: str, data: bytes, filename: str = "art.png", content_type: str = "image/png",
                 headers: dict | None = None, **fields: str):
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("image", data, filename=filename, content_type=content_type)
    for k, v in fields.items():
        form.add_field(k, v)
    return await client.post("/v1/jobs", data=form, headers={**auth(token), **(headers or {})})
