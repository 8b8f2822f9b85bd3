"""Open the to-post folder in the system's file manager, for the dashboard's "Open folder"
button: the daemon runs on the user's own computer, as the user."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .errors import NotFound, ServiceError


def open_in_file_manager(folder: Path) -> None:
    """Open ``folder`` (created if missing, as the watcher would) or say why it cannot be."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not folder.is_dir():
        raise NotFound(f"the to-post folder {folder.name} is not a folder")
    if sys.platform == "win32":
        os.startfile(str(folder))  # type: ignore[attr-defined]  # noqa: S606 - the user's own folder
        return
    opener = "open" if sys.platform == "darwin" else shutil.which("xdg-open")
    if not opener:
        raise ServiceError("this computer has no file manager Shade can ask to open the folder; open it yourself: "
                           f"{folder}", code="no_file_manager")
    subprocess.Popen([opener, str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
