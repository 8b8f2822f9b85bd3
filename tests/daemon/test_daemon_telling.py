"""What a job record says to people (issue 28): stages in words, a time estimate from the time
per step measured on this machine, the queue position, and the one verdict of a done job."""

from __future__ import annotations

import time

from shade_daemon.service.telling import StepClock, eta_words, job_words, stage_words


def test_stages_and_waits_in_words():
    assert stage_words("load", 0, 26) == "loading the model"
    assert stage_words("optimize", 12, 26) == "shading 12 of 26"
    assert stage_words("check", 26, 26) == "checking after recompression"
    assert job_words("queued", "", 0, 0, None, 1, None)["words"] == "waiting: next in line"
    assert job_words("queued", "", 0, 0, None, 3, None)["words"] == "waiting: 2 ahead in the queue"
    assert eta_words(None) is None and eta_words(3) == "about 5 s left" and eta_words(150) == "about 2 min left"


def test_the_estimate_comes_from_the_measured_time_per_step():
    clock = StepClock()
    assert clock.tick("a", 0, 10, "load") is None                  # nothing timed yet: no guess
    assert clock.tick("a", 1, 10, "optimize") is None
    time.sleep(0.05)
    left = clock.tick("a", 2, 10, "optimize")
    assert left is not None and 8 * 0.04 <= left <= 8 * 0.5        # 8 steps left at the measured pace
    # The next job starts with this machine's pace: an estimate while its model loads.
    assert clock.tick("b", 0, 10, "load") is not None


def test_a_done_job_says_its_verdict_and_a_job_without_figures_claims_nothing():
    weak = {"intensity": "default", "latent_ratio_jpeg85": 0.95, "weak": True}
    said = job_words("done", "save", 10, 10, None, None, weak)
    assert said["words"].startswith("weakly protected") and said["verdict"]["next_intensity"] == "high"
    assert job_words("done", "save", 10, 10, None, None, {})["verdict"] is None
    assert job_words("failed", "optimize", 3, 10, 4.0, None, None)["eta_seconds"] is None


def test_a_queued_job_waits_for_the_running_one_those_ahead_and_itself():
    clock = StepClock()
    assert clock.wait(2, 30.0) is None                              # no job finished yet: no guess
    clock.job_done(40.0)
    assert clock.wait(0, 10.0) == 50.0                              # next in line: the rest, then itself
    assert clock.wait(2, None) == 120.0                             # two ahead, nothing running
    clock.job_done(80.0)                                            # follows the latest jobs
    assert 40.0 < clock.seconds_per_job < 80.0
    said = job_words("queued", "", 0, 0, 150.0, 3, None)
    assert said["eta_words"] == "about 2 min left" and said["words"] == "waiting: 2 ahead in the queue"


async def test_a_queued_job_gets_an_estimate_once_a_job_has_finished_here(make_client):
    from shadetest import auth, image_bytes, upload, wait_job

    client, token, app = await make_client()
    first = (await (await upload(client, token, image_bytes())).json())["id"]
    await wait_job(client, token, first, until=lambda j: j["status"] == "done")
    await client.post("/v1/pause", headers=auth(token))
    ids = [(await (await upload(client, token, image_bytes())).json())["id"] for _ in range(2)]
    jobs = [await (await client.get(f"/v1/jobs/{i}", headers=auth(token))).json() for i in ids]
    assert [j["queue_position"] for j in jobs] == [1, 2]
    assert all(j["eta_seconds"] and j["eta_words"].startswith("about ") for j in jobs), jobs
    assert jobs[1]["eta_seconds"] > jobs[0]["eta_seconds"]
