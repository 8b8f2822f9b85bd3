"""Files and folders only this user can read: the one place Shade's 0600/0700 is written.

Everything the daemon keeps (unposted art, the queue, the token, logs naming the user's
files, its state and lock) goes through here, so no copy of the permission policy can
drift. On systems without POSIX permissions the modes are simply not applied.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import BinaryIO

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
_BINARY = getattr(os, "O_BINARY", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def restrict(path: Path, mode: int = PRIVATE_FILE) -> Path:
    """Give an existing file (or, with PRIVATE_DIR, a folder) the private mode."""
    if os.name == "posix":
        os.chmod(path, mode)
    return path


def private_dir(path: Path) -> Path:
    """Make ``path`` (and any missing parents) a folder only this user can enter; an
    existing folder is tightened too, so one made by an older version or by hand is fixed."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    return restrict(path, PRIVATE_DIR)


def open_private(path: Path, *, exclusive: bool = True) -> BinaryIO:
    """A new file opened for writing, created 0600 (never through a symbolic link).
    ``exclusive``: fail when the name exists instead of truncating it."""
    flags = os.O_WRONLY | os.O_CREAT | _BINARY | _NOFOLLOW | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE)
    try:
        if not exclusive:
            restrict(path)          # a truncated file keeps its old mode otherwise
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def write_private(path: Path, data: bytes | str) -> Path:
    """Write ``path`` whole and private: to a hidden temporary file first, then renamed over
    the name, so a reader (or a crash) never sees half of it."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".shade-{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open_private(tmp, exclusive=False) as fh:
            fh.write(raw)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
