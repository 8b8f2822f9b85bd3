"""The service's own errors, and how a failure is told to the user.

A ``ServiceError`` carries a stable ``code`` and a message that says what happened and
what to do; it knows nothing of HTTP. The HTTP layer's one table (``http/errors.py``)
maps codes, these and the core's (``shading.ShadeError.code``), to statuses.
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path
from typing import Any, Iterable, Optional

log = logging.getLogger("shade.daemon")


class ServiceError(Exception):
    """A request the service cannot honour, for a reason the user can act on."""

    code = "service_error"

    def __init__(self, message: str, code: Optional[str] = None, retry_after: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.retry_after = retry_after


class NotFound(ServiceError):
    """No such job, entry, audit, anchor or style (``code`` names which)."""

    code = "not_found"


class Conflict(ServiceError):
    """The thing exists in a state that forbids the request (a name taken, a job not done)."""

    code = "conflict"


class Gone(ServiceError):
    """It existed, and its files were pruned."""

    code = "result_gone"


class Busy(ServiceError):
    """The service cannot take more now (the queue is full); retry later."""

    code = "queue_full"


class BadRequest(ServiceError):
    """The request's content is wrong (a missing part, a bad name)."""

    code = "bad_request"


class StorageError(ServiceError):
    """Shade's data folder (or an output folder) cannot be written."""

    code = "storage_error"


class DiskFull(StorageError):
    code = "disk_full"


def storage_error(exc: OSError, where: str) -> StorageError:
    """The user's words for a failed write in ``where`` (a folder as the user knows it)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) or "database or disk is full" in str(exc):
        return DiskFull(f"not enough disk space in {where}; free some space (or point Shade's folders at a disk "
                        "with room), then send the image again")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorageError(f"Shade cannot write in {where} (permission denied or a read-only disk); make the folder "
                            "writable for your user, then shade the image again")
    return StorageError(f"Shade could not write in {where} ({exc.strerror or exc}); check the disk, then try again")


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, DiskFull) or (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) \
        or "database or disk is full" in str(exc)


def display_folder(folder: Path) -> str:
    """A folder as the user knows it, never the absolute server path: ``~/Pictures/Shade/to-post``
    under the home folder, else its last two parts (``Shade/to-post``)."""
    folder = Path(folder)
    try:
        return "~/" + folder.relative_to(Path.home()).as_posix()
    except ValueError:
        return "/".join(folder.parts[-2:])


def redact_paths(message: str, names: Iterable[tuple[Any, str]] = ()) -> str:
    """``message`` without absolute server paths: each known path (longest first) becomes the
    name the user knows it by, and the home folder becomes ``~``."""
    pairs = sorted(((str(p), name) for p, name in names if p), key=lambda pn: len(pn[0]), reverse=True)
    for path, name in pairs:
        message = message.replace(path, name)
    home = str(Path.home())
    if len(home) > 1:
        message = message.replace(home, "~")
    return message


def job_error_fields(exc: BaseException, names: Iterable[tuple[Any, str]] = ()) -> tuple[str, str]:
    """(code, message) stored on a failed job; ``names`` maps the job's server paths to
    the names the user knows (see ``redact_paths``)."""
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        return code, redact_paths(str(exc), names)
    if isinstance(exc, OSError) or "database or disk is full" in str(exc):
        err = storage_error(exc if isinstance(exc, OSError) else OSError(errno.ENOSPC, str(exc)),
                            "Shade's data folder")
        log.warning("job failed on storage: %s", exc)
        return err.code, redact_paths(err.message, names)
    log.exception("job failed with an unexpected error", exc_info=exc)
    return "internal_error", redact_paths(f"unexpected error while shading ({type(exc).__name__}: {exc}); details "
                                          "are in the daemon log", names)
