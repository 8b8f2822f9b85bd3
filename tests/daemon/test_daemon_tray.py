"""Tray logic with pystray's dummy backend (a small recording subclass): picture, tooltip
and menu for idle / working / paused / error, the menu's actions wired to a real app,
and the no-display path."""

from __future__ import annotations

import asyncio
import logging
import os

import pytest

from shade_daemon.app.runtime import tray_actions
from shade_daemon.app.tray import TrayController, display_problem, draw_icon, start_tray, tray_state
from shade_daemon.http.keys import SERVICE
from shadetest import image_bytes, upload, wait_job

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def pystray_dummy(monkeypatch):
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
    import pystray
    from pystray import _base

    class RecordingIcon(_base.Icon):
        """pystray's base icon with the backend calls recorded instead of drawn."""

        def __init__(self, *args, **kwargs):
            self.calls: list[str] = []
            self.notes: list[str] = []
            super().__init__(*args, **kwargs)

        def _show(self): self.calls.append("show")
        def _hide(self): self.calls.append("hide")
        def _update_icon(self): self.calls.append("icon")
        def _update_title(self): self.calls.append("title")
        def _update_menu(self): self.calls.append("menu")
        def _run(self): self._mark_ready()
        def _run_detached(self): self._mark_ready()
        def _stop(self): self.calls.append("stop")
        def _notify(self, message, title=None): self.notes.append(message)
        def _remove_notification(self): pass

    return pystray, RecordingIcon


def test_states_pictures_and_tooltips():
    idle = tray_state({"queue_length": 0, "models": {"state": "ready"}})
    working = tray_state({"queue_length": 2, "current_job": {"filename": "a.png", "progress": 0.5},
                          "models": {"state": "ready"}})
    paused = tray_state({"paused": True, "queue_length": 1, "models": {"state": "ready"}})
    error = tray_state({"models": {"state": "error", "error": "model taef2 not found"}})
    assert (idle.kind, idle.tooltip) == ("idle", "Shade: idle")
    assert working.kind == "working" and "50%" in working.tooltip and "2 waiting" in working.tooltip
    assert working.status_line.startswith("Shading a.png: 50%")
    assert paused.kind == "paused" and "paused" in paused.tooltip and "1 waiting" in paused.tooltip
    assert error.kind == "error" and "taef2 not found" in error.tooltip
    pictures = [draw_icon(s).tobytes() for s in (idle, working, paused, error)]
    assert len(set(pictures)) == 4
    more = tray_state({"current_job": {"filename": "a.png", "progress": 0.9}, "models": {"state": "ready"}})
    assert draw_icon(more).tobytes() != pictures[1]          # the ring shows progress


async def test_menu_drives_the_daemon(make_client, pystray_dummy, tmp_path, monkeypatch):
    pystray, RecordingIcon = pystray_dummy
    client, token, app = await make_client(steps=4000)
    settings = app[SERVICE].settings
    opened, copied, quits = [], [], []
    actions = tray_actions(settings, app, client.port, lambda: quits.append(True))
    actions.open_path = opened.append
    actions.copy = lambda text: copied.append(text) or True
    tray = TrayController(actions, icon_class=RecordingIcon, poll_seconds=3600)
    await asyncio.to_thread(tray.start)
    icon = tray.icon
    assert icon.visible and icon.title == "Shade: idle"

    items = [i for i in icon.menu.items if i is not pystray.Menu.SEPARATOR]
    texts = [i.text for i in items]
    assert texts[1:] == ["Open Shade", "Open to-post folder", "Open ready folder", "Pause", "Copy pairing code",
                         "Quit Shade"]
    assert not items[0].enabled and texts[0].startswith(("Idle", "Starting"))
    by_text = {t: i for t, i in zip(texts, items)}

    # "Open Shade" opens the dashboard through a one-time login link that logs the browser in.
    import webbrowser

    links: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: links.append(url) or True)
    by_text["Open Shade"](icon)
    assert len(links) == 1 and links[0].startswith(f"http://127.0.0.1:{client.port}/app/login?code=")
    assert token not in links[0]
    login = links[0][links[0].index("/app/login"):]
    assert (await client.get(login, allow_redirects=False)).status == 303
    assert (await client.get(login, allow_redirects=False)).status == 403      # once only

    by_text["Open to-post folder"](icon)
    by_text["Open ready folder"](icon)
    assert opened == [actions.to_post, actions.ready] and actions.to_post.name == "to-post"
    by_text["Copy pairing code"](icon)
    assert copied == [f"shade:{client.port}:{token}"] and "copied" in icon.notes[-1]

    # Working: a running job shows in the tooltip and the status line, with progress.
    job_id = (await (await upload(client, token, image_bytes())).json())["id"]
    await wait_job(client, token, job_id, until=lambda j: j["status"] == "running" and j["step"] >= 1)
    await asyncio.to_thread(tray.refresh)
    assert tray.state.kind == "working" and "Shade: shading" in icon.title
    assert items[0].text.startswith("Shading art.png")
    assert {"icon", "title", "menu"} <= set(icon.calls)

    # Pause from the menu pauses the real worker; the item then reads Resume.
    by_text["Pause"](icon)
    assert app[SERVICE].worker.paused and tray.state.kind == "paused"
    assert icon.title.startswith("Shade: paused") and items[4].text == "Resume"
    items[4](icon)
    assert not app[SERVICE].worker.paused and items[4].text == "Pause"

    by_text["Quit Shade"](icon)
    assert quits == [True]
    await client.delete(f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"})
    tray.stop()
    assert "stop" in icon.calls


def test_no_display_runs_without_tray(monkeypatch, caplog, tmp_path):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if os.name != "posix" or not display_problem():
        pytest.skip("only meaningful where a display is looked up through DISPLAY/WAYLAND_DISPLAY")
    from shade_daemon.app.tray import TrayActions

    def boom():
        raise AssertionError("the tray must not touch the daemon without a display")

    actions = TrayActions(get_status=boom, pause=boom, resume=boom, pairing_code=boom, quit=boom,
                          to_post=tmp_path, ready=tmp_path)
    with caplog.at_level(logging.INFO, logger="shade.daemon"):
        assert start_tray(actions) is None
    messages = [r.getMessage() for r in caplog.records if "tray" in r.getMessage()]
    assert messages == ["running without a tray icon: no display (DISPLAY/WAYLAND_DISPLAY unset)"]
