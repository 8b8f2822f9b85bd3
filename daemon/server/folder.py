"""The watched folder's layout and its file moves. Nothing here deletes or overwrites a
user's file: every copy and move lands on a free name (``name-1.png``, ``name-2.png``...).

    <Shade>/to-post/          watched; subfolders named after a target concept use it
    <Shade>/ready/            shaded results (same name, same format)
    <Shade>/originals/        the originals, moved here once their result is ready
    <Shade>/rejected/         non-images and failures, each with a NAME.txt saying why
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Callable, Optional

from .store import DONE, Job, JobStore

log = logging.getLogger("shade.daemon")


@dataclass(frozen=True)
class FolderLayout:
    to_post: Path
    ready: Path
    originals: Path
    rejected: Path

    @classmethod
    def beside(cls, watch_folder: Path) -> "FolderLayout":
        watch_folder = watch_folder.expanduser().absolute()
        root = watch_folder.parent
        return cls(watch_folder, root / "ready", root / "originals", root / "rejected")

    def ensure(self) -> "FolderLayout":
        for p in (self.to_post, self.ready, self.originals, self.rejected):
            p.mkdir(parents=True, exist_ok=True)
        return self

    def outputs(self) -> tuple[Path, ...]:
        return (self.ready, self.originals, self.rejected)


def _candidates(dest_dir: Path, name: str):
    p = PurePath(name)
    yield dest_dir / name
    n = 1
    while True:
        yield dest_dir / f"{p.stem}-{n}{p.suffix}"
        n += 1


def move_no_clobber(src: Path, dest_dir: Path, name: str) -> Path:
    """Move ``src`` into ``dest_dir`` under ``name`` or the first free suffixed name."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    for dest in _candidates(dest_dir, name):
        try:
            os.link(src, dest)           # fails if dest exists: no overwrite, no race
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES, errno.EMLINK):
                raise
            if dest.exists():            # no hard links here (other disk, FAT...): check, then move
                continue
            shutil.move(str(src), str(dest))
            return dest
        os.unlink(src)
        return dest
    raise AssertionError("unreachable")


def copy_no_clobber(src: Path, dest_dir: Path, name: str) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    for dest in _candidates(dest_dir, name):
        try:
            with open(src, "rb") as fin, open(dest, "xb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
        except FileExistsError:
            continue
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        return dest
    raise AssertionError("unreachable")


def write_reason(dest_dir: Path, moved_name: str, reason: str) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    for path in _candidates(dest_dir, f"{moved_name}.txt"):
        try:
            with open(path, "x", encoding="utf-8") as fh:
                fh.write(reason.rstrip() + "\n")
            return path
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def reject_file(layout: FolderLayout, src: Path, rel: PurePath, reason: str) -> Optional[Path]:
    """Move a file out of to-post into rejected/ (keeping its subfolder) with NAME.txt saying why."""
    if not src.exists():
        return None
    dest = move_no_clobber(src, layout.rejected / rel.parent, rel.name)
    write_reason(dest.parent, dest.name, f"{rel}: {reason}")
    log.info("rejected %s: %s", rel, reason)
    return dest


def _same_file(path: Path, meta: dict[str, Any]) -> bool:
    try:
        st = path.stat()
    except OSError:
        return False
    return st.st_size == meta.get("size") and st.st_mtime_ns == meta.get("mtime_ns")


class Delivery:
    """Finishes folder jobs: result to ready/, original to originals/ (or rejected/ with a
    reason when the job failed). Each step is recorded on the job, so a crash midway
    resumes without repeating it."""

    def __init__(self, layout: FolderLayout, store: JobStore):
        self.layout = layout
        self.store = store
        self._lock = threading.Lock()
        self.on_delivered: Optional[Callable[[Job], None]] = None

    def deliver(self, job: Job) -> None:
        if job.source != "folder" or not job.folder or job.folder.get("delivered") or not job.finished:
            return
        with self._lock:
            meta = dict(job.folder)
            rel = PurePath(meta["rel"])
            src = Path(meta["src"])
            if job.status == DONE:
                if not meta.get("ready"):
                    result = self.store.path_of(job, job.result_file)
                    dest = copy_no_clobber(result, self.layout.ready / rel.parent, rel.name)
                    meta["ready"] = str(dest)
                    self.store.update_folder(job.id, meta)
                    log.info("ready: %s", dest)
                    m = job.measurements or {}
                    if m.get("weak"):   # like Glaze's INCOMPLETE mark: say so beside the result
                        write_reason(dest.parent, f"{dest.name}.weak",
                                     f"{rel}: protection fell short of the '{m.get('intensity')}' intensity's "
                                     f"threshold after a JPEG-85 round trip (latent ratio "
                                     f"{m.get('latent_ratio_jpeg85')}); shade it again with intensity high")
                if meta.get("moved_to") is None:
                    if _same_file(src, meta):
                        moved = move_no_clobber(src, self.layout.originals / rel.parent, rel.name)
                    else:
                        # The file changed (or went) while the job ran: what was shaded is the copy
                        # in the job folder; keep that as the original, leave the new file alone.
                        moved = copy_no_clobber(self.store.path_of(job, job.input_file),
                                                self.layout.originals / rel.parent, rel.name)
                    meta["moved_to"] = str(moved)
            elif meta.get("moved_to") is None:
                why = job.error_message or job.status
                moved = reject_file(self.layout, src, rel, f"not shaded ({job.error_code or job.status}): {why}") \
                    if _same_file(src, meta) else None
                meta["moved_to"] = str(moved) if moved else ""
            meta["delivered"] = True
            self.store.update_folder(job.id, meta)
        if self.on_delivered:
            self.on_delivered(job)

    def deliver_pending(self) -> None:
        """At start: finish folder jobs that ended while nobody delivered them."""
        for job in self.store.folder_jobs(finished=True):
            if job.folder and not job.folder.get("delivered"):
                try:
                    self.deliver(job)
                except Exception:  # noqa: BLE001
                    log.exception("could not deliver folder job %s", job.id)
