"""``shade serve``: the Ray Serve upload API on a real two-node cluster refuses requests
without a valid key, answers bad uploads with a 4xx, finishes 50 requests at once, and a
request whose replica is killed is retried or fails cleanly, never hangs; a job posted for
later gives the same file to the key that made it and to no other."""

from __future__ import annotations

import io
import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("ray", reason="needs Ray: install the extra shade-art[cluster] (part of dev)")

from PIL import Image  # noqa: E402

from shadetest import RANDOM_ENCODER, image_bytes  # noqa: E402

KEY = "test-key-" + "k" * 24
OTHER_KEY = "other-key-" + "o" * 24
MAX_UPLOAD = 64 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def api(ray_cluster, plumbing_model_dir):
    from ray import serve

    from shade_daemon.cluster.keys import digest
    from shade_daemon.cluster.serve import ServeConfig, deploy
    from shading import ProtectOptions

    base = ProtectOptions(mode="poison", target="cat", encoders=(RANDOM_ENCODER,), device="cpu", seed=5,
                          model_dirs=(plumbing_model_dir,), quality="fast", steps=2, view_size=64,
                          max_pixels=20_000, self_check=False)
    port = free_port()
    deploy(ServeConfig(key_digests=(digest(KEY), digest(OTHER_KEY)), base_options=base, max_upload_bytes=MAX_UPLOAD,
                       min_replicas=2, max_replicas=2), port=port)
    yield f"http://127.0.0.1:{port}"
    serve.shutdown()


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 120) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def shade(api: str, body: bytes, key: str = KEY, query: str = "", **headers: str) -> tuple[int, dict, bytes]:
    return post(f"{api}/v1/protect{query}", body, {"Authorization": f"Bearer {key}", "Content-Type": "image/png",
                                                   **headers})


def get(url: str, key: str = KEY) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def error_code(body: bytes) -> str:
    return json.loads(body)["error"]["code"]


def test_requests_without_a_key_or_with_a_wrong_one_are_refused(api):
    picture = image_bytes((64, 48))
    status, headers, body = post(f"{api}/v1/protect", picture, {"Content-Type": "image/png"})
    assert status == 401 and error_code(body) == "unauthorized" and headers.get("www-authenticate") == "Bearer"
    for wrong in ("nope", KEY[:-1] + "x", KEY + "x"):
        status, _, body = shade(api, picture, key=wrong)
        assert status == 401 and error_code(body) == "unauthorized"
    status, _, body = post(f"{api}/v1/protect", picture, {"X-API-Key": KEY, "Content-Type": "image/png"})
    assert status == 200, body


def test_a_shaded_image_comes_back_in_its_format_with_its_measurements(api):
    picture = image_bytes((64, 48), fmt="JPEG")
    status, headers, body = shade(api, picture, query="?seed=9&intensity=high", **{"Content-Type": "image/jpeg"})
    assert status == 200, body
    assert headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(body)).size == (64, 48) and body != picture
    measurements = json.loads(headers["x-shade-measurements"])
    assert measurements["seed"] == 9 and measurements["intensity"] == "high"

    boundary = uuid.uuid4().hex
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"seed\"\r\n\r\n9\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"intensity\"\r\n\r\nhigh\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + picture + f"\r\n--{boundary}--\r\n".encode()
    status, _, again = shade(api, form, **{"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 200 and again == body          # the same image, options and seed: the same bytes


@pytest.mark.parametrize("case", ["oversized", "garbage", "empty", "too-many-pixels", "bad-option", "bad-seed",
                                  "no-image-field", "broken-multipart"])
def test_bad_uploads_get_a_4xx_never_a_500(api, case):
    picture = image_bytes((64, 48))
    headers: dict[str, str] = {}
    query = ""
    if case == "oversized":
        body = b"\x89PNG" + b"\0" * (MAX_UPLOAD + 1)
    elif case == "garbage":
        body = b"this is not a picture" * 10
    elif case == "empty":
        body = b""
    elif case == "too-many-pixels":
        body = image_bytes((200, 150))
    elif case == "bad-option":
        body, query = picture, "?intensity=extreme"
    elif case == "bad-seed":
        body, query = picture, "?seed=abc"
    elif case == "no-image-field":
        body = b"--b\r\nContent-Disposition: form-data; name=\"seed\"\r\n\r\n1\r\n--b--\r\n"
        headers["Content-Type"] = "multipart/form-data; boundary=b"
    else:
        body = b"--b\r\nnonsense without an end"
        headers["Content-Type"] = "multipart/form-data; boundary=b"
    status, _, answer = shade(api, body, query=query, **headers)
    assert 400 <= status < 500, (status, answer)
    assert json.loads(answer)["error"]["message"]
    if case == "oversized":
        assert status == 413


def test_fifty_concurrent_requests_all_finish(api):
    pictures = [image_bytes((64 + i % 5, 48)) for i in range(50)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda p: shade(api, p), pictures))
    assert [status for status, _, _ in answers] == [200] * 50
    assert all(Image.open(io.BytesIO(body)).size == Image.open(io.BytesIO(p)).size
               for (_, _, body), p in zip(answers, pictures))


def test_a_replica_killed_mid_request_is_retried_or_fails_cleanly(api):
    import ray

    picture = image_bytes((140, 100))      # a little longer to shade, so the kill lands mid-request
    with ThreadPoolExecutor(max_workers=4) as pool:
        started = time.monotonic()
        futures = [pool.submit(shade, api, picture) for _ in range(4)]
        time.sleep(1.0)
        replicas = [a for a in ray.util.list_named_actors(all_namespaces=True)
                    if "ShadeModel" in a["name"]]
        assert replicas
        ray.kill(ray.get_actor(replicas[0]["name"], namespace=replicas[0]["namespace"]), no_restart=True)
        answers = [f.result(timeout=120) for f in futures]
    assert time.monotonic() - started < 120
    for status, headers, body in answers:
        assert status in (200, 503), (status, body)
        if status == 503:
            assert error_code(body) == "unavailable" and headers.get("retry-after")
    assert any(status == 200 for status, _, _ in answers)
    # and the application recovers: Serve replaces the replica
    status, _, _ = shade(api, image_bytes((64, 48)))
    assert status == 200


def test_a_job_answers_at_once_and_its_result_is_the_same_file_for_its_key_only(api):
    picture = image_bytes((120, 90))
    status, headers, body = post(f"{api}/v1/jobs?seed=4", picture, {"Authorization": f"Bearer {KEY}",
                                                                    "Content-Type": "image/png"})
    assert status == 202, body
    job = json.loads(body)
    assert job["status"] in ("queued", "running") and headers["location"] == f"/v1/jobs/{job['id']}"
    status, headers, body = get(f"{api}{job['result_url']}")
    assert status == 409 and error_code(body) == "not_ready" and headers.get("retry-after")
    for url in (job["status_url"], job["result_url"]):
        assert get(f"{api}{url}", key=OTHER_KEY)[0] == 404           # another key's job is no job
        assert get(f"{api}{url}", key="wrong-" + "w" * 20)[0] == 401
    deadline = time.monotonic() + 120
    while (state := json.loads(get(f"{api}{job['status_url']}")[2]))["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, state
        time.sleep(0.5)
    assert state["status"] == "done" and state["measurements"]["seed"] == 4
    status, headers, shaded = get(f"{api}{job['result_url']}")
    assert status == 200 and headers["content-type"] == "image/png"
    assert shade(api, picture, query="?seed=4")[2] == shaded            # what /v1/protect gives
    assert get(f"{api}/v1/jobs/not-a-job")[0] == 404
    status, _, body = post(f"{api}/v1/jobs", b"not an image", {"Authorization": f"Bearer {KEY}"})
    assert status == 400 and error_code(body) == "bad_image"              # refused before any job exists
