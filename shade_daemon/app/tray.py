"""The tray icon: its picture and tooltip show idle / working (with progress) / paused /
error; the menu has a status line, open Shade (the dashboard), open to-post, open ready,
pause/resume, copy pairing code and quit.

pystray is imported lazily (importing it with no display raises). With no display, or
no usable backend, the daemon runs without a tray and says so once in its log.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from PIL import Image, ImageDraw

log = logging.getLogger("shade.daemon")

COLORS = {"idle": (90, 110, 140), "working": (40, 150, 90), "paused": (220, 160, 30), "error": (200, 50, 50)}


@dataclass(frozen=True)
class TrayState:
    kind: str            # idle | working | paused | error
    progress: float      # 0..1 of the running job
    tooltip: str
    status_line: str


def tray_state(status: dict[str, Any]) -> TrayState:
    """What the tray should show for a /v1/status-shaped dict."""
    queue = int(status.get("queue_length") or 0)
    waiting = f", {queue} waiting" if queue else ""
    cur = status.get("current_job")
    models = status.get("models") or {}
    if models.get("state") == "error":
        err = models.get("error") or "the model could not be loaded"
        line = f"Error: {err}"
        return TrayState("error", 0.0, f"Shade: error. {err}"[:120], line[:100])
    if status.get("paused"):
        line = f"Paused{waiting}"
        return TrayState("paused", float(cur.get("progress", 0)) if cur else 0.0, f"Shade: paused{waiting}", line)
    if cur:
        pct = int(round(100 * float(cur.get("progress") or 0)))
        line = f"Shading {cur.get('filename', '')}: {pct}%{waiting}"
        return TrayState("working", float(cur.get("progress") or 0), f"Shade: shading, {pct}%{waiting}"[:120],
                         line[:100])
    line = "Idle: waiting for images" if not queue else f"Starting{waiting}"
    return TrayState("idle", 0.0, "Shade: idle" if not queue else f"Shade: {queue} waiting", line)


def draw_icon(state: TrayState, size: int = 64) -> Image.Image:
    """A filled disc in the state's colour; while working, a ring shows the progress."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    color = COLORS[state.kind]
    pad = size // 8
    d.ellipse((pad, pad, size - pad, size - pad), fill=color + (255,))
    if state.kind == "working":
        d.arc((2, 2, size - 3, size - 3), -90, -90 + int(360 * max(0.02, state.progress)),
              fill=(255, 255, 255, 255), width=max(3, size // 12))
    elif state.kind == "paused":
        w = size // 10
        d.rectangle((size // 2 - 2 * w, size // 3, size // 2 - w, 2 * size // 3), fill=(255, 255, 255, 255))
        d.rectangle((size // 2 + w, size // 3, size // 2 + 2 * w, 2 * size // 3), fill=(255, 255, 255, 255))
    elif state.kind == "error":
        d.rectangle((size // 2 - 3, size // 4, size // 2 + 3, 3 * size // 5), fill=(255, 255, 255, 255))
        d.rectangle((size // 2 - 3, 2 * size // 3, size // 2 + 3, 2 * size // 3 + 6), fill=(255, 255, 255, 255))
    return img


def display_problem() -> Optional[str]:
    """Why no tray can be shown here, or None when a display looks available."""
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            return "no display (DISPLAY/WAYLAND_DISPLAY unset)"
    if sys.platform == "darwin":
        return "the tray icon is not supported on macOS yet (use `shade status`)"
    return None


def open_path(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if sys.platform == "win32":
        os.startfile(str(path))  # type: ignore[attr-defined]
    else:
        subprocess.Popen(["open" if sys.platform == "darwin" else "xdg-open", str(path)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def copy_to_clipboard(text: str) -> bool:
    candidates = [["pbcopy"], ["clip"], ["wl-copy"], ["xclip", "-selection", "clipboard"], ["xsel", "--clipboard", "--input"]]
    for cmd in candidates:
        if shutil.which(cmd[0]):
            try:
                subprocess.run(cmd, input=text.encode(), check=True, timeout=5,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                return True
            except (OSError, subprocess.SubprocessError):
                continue
    return False


@dataclass
class TrayActions:
    """What the tray can ask of the daemon; every callable is safe from the tray's thread."""

    get_status: Callable[[], dict]
    pause: Callable[[], None]
    resume: Callable[[], None]
    pairing_code: Callable[[], str]
    quit: Callable[[], None]
    to_post: Path
    ready: Path
    open_path: Callable[[Path], None] = open_path
    copy: Callable[[str], bool] = copy_to_clipboard
    open_dashboard: Optional[Callable[[], None]] = None     # a one-time login link in the browser


class TrayController:
    def __init__(self, actions: TrayActions, icon_class: Any = None, poll_seconds: float = 1.0):
        self.actions = actions
        self._icon_class = icon_class
        self._poll = poll_seconds
        self.icon: Any = None
        self.state: TrayState = tray_state({})
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    # menu callbacks (pystray calls them with (icon, item))
    def _status_text(self, item: Any = None) -> str:
        return self.state.status_line

    def _pause_text(self, item: Any = None) -> str:
        return "Resume" if self.state.kind == "paused" else "Pause"

    def toggle_pause(self, icon: Any = None, item: Any = None) -> None:
        (self.actions.resume if self.state.kind == "paused" else self.actions.pause)()
        self.refresh()

    def copy_pairing_code(self, icon: Any = None, item: Any = None) -> None:
        code = self.actions.pairing_code()
        if self.actions.copy(code):
            self._notify("Pairing code copied: paste it into the Shade extension's options.")
        else:
            self._notify(f"Pairing code (no clipboard tool found): {code}")

    def open_dashboard(self, icon: Any = None, item: Any = None) -> None:
        if self.actions.open_dashboard is not None:
            self.actions.open_dashboard()

    def quit(self, icon: Any = None, item: Any = None) -> None:
        self.actions.quit()

    def _notify(self, message: str) -> None:
        try:
            self.icon.notify(message, "Shade")
        except Exception:  # noqa: BLE001 - notifications are optional on some backends
            log.info("%s", message)

    def build_menu(self, pystray: Any) -> Any:
        Item = pystray.MenuItem
        return pystray.Menu(
            Item(self._status_text, None, enabled=False),
            pystray.Menu.SEPARATOR,
            Item("Open Shade", self.open_dashboard, default=True,
                 visible=self.actions.open_dashboard is not None),
            Item("Open to-post folder", lambda icon, item: self.actions.open_path(self.actions.to_post)),
            Item("Open ready folder", lambda icon, item: self.actions.open_path(self.actions.ready)),
            Item(self._pause_text, self.toggle_pause),
            Item("Copy pairing code", self.copy_pairing_code),
            pystray.Menu.SEPARATOR,
            Item("Quit Shade", self.quit),
        )

    def refresh(self) -> bool:
        """Re-read the status; update picture, tooltip and menu when they changed."""
        try:
            new = tray_state(self.actions.get_status())
        except Exception as exc:  # noqa: BLE001
            new = TrayState("error", 0.0, f"Shade: error. {exc}"[:120], f"Error: {exc}"[:100])
        changed = new != self.state
        self.state = new
        if changed and self.icon is not None:
            self.icon.icon = draw_icon(new)
            self.icon.title = new.tooltip
            self.icon.update_menu()
        return changed

    def start(self) -> None:
        import pystray  # lazy: raises without a display

        icon_class = self._icon_class or pystray.Icon
        self.state = tray_state(self.actions.get_status())
        self.icon = icon_class("shade", draw_icon(self.state), self.state.tooltip, self.build_menu(pystray))
        # The icon's own loop runs in its own thread (what pystray's Xorg and Windows
        # backends do for run_detached; GTK's needs its main loop run somewhere too).
        ready = threading.Event()
        failure: list[BaseException] = []

        def setup(icon: Any) -> None:
            icon.visible = True
            ready.set()

        def loop() -> None:
            try:
                self.icon.run(setup)
            except BaseException as exc:  # noqa: BLE001 - reported by start()
                failure.append(exc)
                ready.set()

        threading.Thread(target=loop, name="shade-tray-icon", daemon=True).start()
        if not ready.wait(10) or failure:
            raise RuntimeError(f"the tray icon did not start ({failure[0] if failure else 'no answer in 10 s'})")
        self._thread = threading.Thread(target=self._poll_loop, name="shade-tray", daemon=True)
        self._thread.start()

    def _poll_loop(self) -> None:
        while not self._stop.wait(self._poll):
            self.refresh()

    def stop(self) -> None:
        self._stop.set()
        if self.icon is not None:
            try:
                self.icon.stop()
            except Exception:  # noqa: BLE001
                log.debug("tray stop failed", exc_info=True)


def start_tray(actions: TrayActions) -> Optional[TrayController]:
    """Start the tray, or say once why the daemon runs without it."""
    problem = display_problem()
    if problem:
        log.warning("running without a tray icon: %s", problem)
        return None
    controller = TrayController(actions)
    try:
        controller.start()
    except Exception as exc:  # noqa: BLE001 - ImportError, backend errors: the daemon goes on
        log.warning("running without a tray icon: %s", exc)
        return None
    return controller
