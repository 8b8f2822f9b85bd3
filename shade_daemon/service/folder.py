"""The watched folder's layout and its file moves. Nothing here deletes or overwrites a
user's file: every copy and move lands on a free name (``name-1.png``, ``name-2.png``...).

    <Shade>/to-post/          watched; subfolders named after a target concept use it
    <Shade>/ready/            shaded results (same name, same format)
    <Shade>/originals/        the originals, moved here once their result is ready
    <Shade>/rejected/         non-images and failures, each with a NAME.txt saying why
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Callable, Optional

from .errors import display_folder, storage_error
from .naming import candidates, link_no_clobber, place_new, rename_no_clobber, same_inode
from .store import DONE, Job, JobStore
from .telling import verdict_view

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


TEMP_PREFIX = ".shade-"      # our temporary files in the output folders (hidden; removed at start)


def _write_temp(dest_dir: Path, key: str, fill: Callable[[Any], None]) -> Path:
    """A complete, synced temporary file in ``dest_dir`` (created with the user's umask)."""
    tmp = dest_dir / f"{TEMP_PREFIX}{key}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def move_no_clobber(src: Path, dest_dir: Path, name: str) -> Path:
    """Move ``src`` into ``dest_dir`` under ``name`` or the first free suffixed name. Done
    again after a crash, it finds the name it had already linked."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = link_no_clobber(src, dest_dir, name)
    if dest is None:
        if src.is_symlink():
            dest = rename_no_clobber(src, dest_dir, name)
            return dest
        tmp = copy_to_temp(src, dest_dir, uuid.uuid4().hex)
        dest = rename_no_clobber(tmp, dest_dir, name)
    os.unlink(src)
    return dest


def copy_to_temp(src: Path, dest_dir: Path, key: str) -> Path:
    """The first half of a delivery: ``src`` copied whole into a hidden temporary file beside
    where it goes; ``publish`` gives it its name."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as fin:
        return _write_temp(dest_dir, key, lambda fh: shutil.copyfileobj(fin, fh, 1 << 20))


def publish(tmp: Path, dest_dir: Path, name: str) -> Path:
    """Give a complete temporary file its final name (no overwrite). The temporary file is
    kept (a hard link) until the caller has recorded the name, then ``tmp.unlink()``: a crash
    between the two finds the same name again instead of making ``name-1``."""
    return place_new(tmp, dest_dir, name)


def find_published(tmp: Path, dest_dir: Path, name: str) -> Optional[Path]:
    """The name an earlier ``publish`` of ``tmp`` gave it, if a crash came before it was recorded."""
    if not tmp.exists():
        return None
    for dest in candidates(dest_dir, name):
        if not os.path.lexists(dest):
            return None
        if same_inode(tmp, dest):
            return dest


def write_reason(dest_dir: Path, moved_name: str, reason: str) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    data = (reason.rstrip() + "\n").encode("utf-8")
    tmp = _write_temp(dest_dir, uuid.uuid4().hex, lambda fh: fh.write(data))
    try:
        return publish(tmp, dest_dir, f"{moved_name}.txt")
    finally:
        tmp.unlink(missing_ok=True)


def remove_temporaries(folders: tuple[Path, ...]) -> int:
    """Remove our temporary files left in the output folders by a crash."""
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for root, dirs, names in os.walk(folder):
            for n in names:
                if n.startswith(TEMP_PREFIX) and n.endswith(".part"):
                    Path(root, n).unlink(missing_ok=True)
                    removed += 1
    return removed


def reject_file(layout: FolderLayout, src: Path, rel: PurePath, reason: str) -> Optional[Path]:
    """Move a file (or a link, never its target) out of to-post into rejected/ (keeping its
    subfolder) with NAME.txt saying why."""
    if not os.path.lexists(src):
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
        self.on_problem: Optional[Callable[[str], None]] = None      # status.last_error

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
                    try:
                        dest = self._copy_recorded(job, meta, "ready", result, self.layout.ready / rel.parent,
                                                   rel.name)
                    except OSError as exc:
                        self._undeliverable(job, meta, rel, exc)
                        return
                    log.info("ready: %s", dest)
                    m = job.measurements or {}
                    judged = verdict_view(m)
                    if m.get("weak"):   # like Glaze's INCOMPLETE mark: say so beside the result
                        write_reason(dest.parent, f"{dest.name}.weak",
                                     f"{rel}: {judged['words'] if judged else 'weakly protected'}. "
                                     f"{judged['advice'] if judged else ''}"
                                     + (" In Shade's dashboard, the queue's \"Shade again, stronger\" does it."
                                        if judged and judged["next_intensity"] else "")
                                     + f" (latent ratio after JPEG 85: {m.get('latent_ratio_jpeg85')})")
                if meta.get("moved_to") is None:
                    if _same_file(src, meta):
                        moved = move_no_clobber(src, self.layout.originals / rel.parent, rel.name)
                    else:
                        # The file changed (or went) while the job ran: what was shaded is the copy
                        # in the job folder; keep that as the original, leave the new file alone.
                        moved = self._copy_recorded(job, meta, "moved_to", self.store.path_of(job, job.input_file),
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

    def _undeliverable(self, job: Job, meta: dict[str, Any], rel: PurePath, exc: OSError) -> None:
        """The result cannot be written to ready/: the job fails with the reason, the original
        stays in to-post/ (untouched, and not shaded again in a loop: its source stays taken
        until the daemon restarts, which takes it up again), and status.last_error says so."""
        where = f"the ready folder ({display_folder(self.layout.ready)})"
        err = storage_error(exc, where)
        message = f"{rel}: shaded, but {err.message[0].lower()}{err.message[1:]}; the original stays in to-post"
        log.error("job %s: the result cannot be written to %s: %s", job.id, self.layout.ready, exc)
        meta.update(delivered=True, moved_to="", kept=True)
        self.store.update_folder(job.id, meta)       # before the failure is published: no rejection follows
        if self.on_problem:
            self.on_problem(message)
        self.store.fail_after_done(job.id, err.code, message)

    def _copy_recorded(self, job: Job, meta: dict[str, Any], key: str, src: Path, dest_dir: Path, name: str) -> Path:
        """Copy ``src`` to a free name through a temporary file named after the job, record the
        name on the job, then drop the temporary file: killed at any point, the next try finds
        the same name (or starts the copy over), never a half-written file under the name."""
        tmp_key = f"{job.id}-{key}"
        tmp = dest_dir / f"{TEMP_PREFIX}{tmp_key}.part"
        dest = find_published(tmp, dest_dir, name) or publish(copy_to_temp(src, dest_dir, tmp_key), dest_dir, name)
        meta[key] = str(dest)
        self.store.update_folder(job.id, meta)
        tmp.unlink(missing_ok=True)
        return dest

    def deliver_pending(self) -> None:
        """At start: finish folder jobs that ended while nobody delivered them, then remove the
        temporary files a crash left in the output folders."""
        for job in self.store.folder_jobs(finished=True):
            if job.folder and not job.folder.get("delivered"):
                try:
                    self.deliver(job)
                except Exception:  # noqa: BLE001
                    log.exception("could not deliver folder job %s", job.id)
        with self._lock:                  # no delivery is halfway while this runs
            removed = remove_temporaries(self.layout.outputs())
        if removed:
            log.info("removed %d temporary file(s) an earlier crash left in the output folders", removed)
