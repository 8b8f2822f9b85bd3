"""The watched "to-post" folder (watchdog).

A file dropped in (copied, moved or renamed in, written slowly) becomes a job once it is
complete: no event for ``watch_debounce_seconds``, the same size and mtime on two looks
that far apart, and Pillow decodes it. Undecodable files are retried until they have
been unchanged for ten debounce periods, then go to rejected/ with a reason. The
original stays in to-post/ until its job ends (then Delivery moves it). Only to-post/ is
watched; our outputs live beside it. Files already there at start are processed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Callable, Optional

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from shading import ImageError, inspect_image

from .folder import Delivery, FolderLayout, reject_file
from .jobs import JobService
from .store import Job
from .subfolders import folder_fields

log = logging.getLogger("shade.daemon")

_TEMP_SUFFIXES = (".part", ".crdownload", ".download", ".partial", ".tmp", ".swp", "~")
GIVE_UP_PERIODS = 10
LINK_REASON = ("is a symbolic link; Shade does not follow links in to-post/ (a link can lead anywhere, and "
               "the file it leads to would be moved or shaded in its place): put the image file itself here")


def ignorable(name: str) -> bool:
    """Hidden, editor and download temp files: they become real files by a rename later."""
    low = name.lower()
    return low.startswith((".", "~$")) or low.endswith(_TEMP_SUFFIXES) or low in ("thumbs.db", "desktop.ini")


@dataclass
class _Pending:
    last_event: float
    signature: Optional[tuple[int, int]] = None
    stable_since: Optional[float] = None
    checking: bool = False


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: "FolderWatcher"):
        self.watcher = watcher

    def _note(self, path: str) -> None:
        self.watcher.note_threadsafe(Path(path))

    def on_created(self, event: FileSystemEvent) -> None:
        if not event.is_directory or os.path.islink(event.src_path):   # a link to a folder: rejected
            self._note(event.src_path)

    def on_modified(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._note(event.src_path)

    def on_closed(self, event: FileSystemEvent) -> None:
        self._note(event.src_path)

    def on_moved(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            self.watcher.scan_threadsafe(Path(event.dest_path))   # a whole folder moved in
        else:
            self._note(event.dest_path)


class FolderWatcher:
    def __init__(self, service: JobService, layout: FolderLayout):
        self.service = service
        self.settings = service.settings
        self.layout = layout
        self.delivery = Delivery(layout, service.store)
        self.debounce = max(0.05, float(self.settings.watch_debounce_seconds))
        self._pending: dict[Path, _Pending] = {}
        self._active: set[str] = set()        # sources with a job not yet delivered
        self._active_lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._observer: Optional[Observer] = None
        self._task: Optional[asyncio.Task] = None
        self._checks: set[asyncio.Task] = set()   # keep references so checks are not collected
        self._unsubscribe: Optional[Callable[[], None]] = None

    # --- life cycle ------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.layout.ensure()
        self.delivery.on_delivered = self._delivered
        self.delivery.on_problem = self._problem
        self._unsubscribe = self.service.hub.on_finished(self.delivery.deliver)
        await asyncio.to_thread(self.delivery.deliver_pending)
        for job in self.service.store.folder_jobs(finished=False):
            if job.folder:
                self._active.add(job.folder["src"])
        self._observer = Observer()
        self._observer.schedule(_Handler(self), str(self.layout.to_post), recursive=True)
        self._observer.start()
        self.scan(self.layout.to_post)       # after the observer starts, so nothing slips between
        self._task = asyncio.create_task(self._tick_loop(), name="shade-watcher")
        log.info("watching %s (results in %s)", self.layout.to_post, self.layout.ready)

    async def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            await asyncio.to_thread(self._observer.join, 5)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # --- events (observer thread -> loop) -------------------------------------------------
    def note_threadsafe(self, path: Path) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.note, path)

    def scan_threadsafe(self, folder: Path) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.scan, folder)

    def _rel(self, path: Path) -> Optional[PurePath]:
        try:
            return path.relative_to(self.layout.to_post)
        except ValueError:
            return None

    def note(self, path: Path) -> None:
        rel = self._rel(path)
        if rel is None or not rel.parts or any(ignorable(p) for p in rel.parts):
            return
        with self._active_lock:
            if str(path) in self._active:
                return
        entry = self._pending.get(path)
        if entry is None:
            self._pending[path] = _Pending(last_event=time.monotonic())
        else:
            entry.last_event = time.monotonic()

    def scan(self, folder: Path) -> None:
        """Note every file below ``folder``; symbolic links (to files or folders) are noted,
        to be rejected, and never followed."""
        if folder.is_symlink():
            self.note(folder)
            return
        for root, dirs, names in os.walk(folder, followlinks=False):
            for n in sorted(names + [d for d in dirs if os.path.islink(os.path.join(root, d))]):
                p = Path(root, n)
                if p.is_symlink() or p.is_file():
                    self.note(p)

    def _problem(self, message: str) -> None:
        self.service.worker.last_error = message

    def _delivered(self, job: Job) -> None:
        """(Worker thread.) The job's source is free again; if a file is still there (the
        user replaced it while the job ran, so it was left alone) it gets its own turn."""
        src = job.folder["src"] if job.folder else ""
        with self._active_lock:
            self._active.discard(src)
        if src and Path(src).exists():
            self.note_threadsafe(Path(src))

    # --- completeness checks -----------------------------------------------------------------
    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(min(0.25, self.debounce / 2))
            now = time.monotonic()
            for path, entry in list(self._pending.items()):
                if entry.checking or now - entry.last_event < self.debounce:
                    continue
                try:
                    st = path.lstat()
                except OSError:
                    self._pending.pop(path, None)       # gone (moved away or deleted by the user)
                    continue
                if stat.S_ISLNK(st.st_mode):
                    self._pending.pop(path, None)
                    self._reject_soon(path, LINK_REASON)
                    continue
                if not stat.S_ISREG(st.st_mode):       # a folder, a pipe...: not ours to handle
                    self._pending.pop(path, None)
                    continue
                sig = (st.st_size, st.st_mtime_ns)
                if sig != entry.signature:
                    entry.signature, entry.stable_since, entry.last_event = sig, now, now
                    continue
                entry.checking = True
                task = asyncio.create_task(self._check(path, entry, st.st_size, st.st_mtime_ns))
                self._checks.add(task)
                task.add_done_callback(self._checks.discard)

    def _reject_soon(self, path: Path, reason: str) -> None:
        rel = self._rel(path)
        if rel is None:
            return
        task = asyncio.create_task(asyncio.to_thread(reject_file, self.layout, path, rel, reason))
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _check(self, path: Path, entry: _Pending, size: int, mtime_ns: int) -> None:
        try:
            await self._check_once(path, entry, size, mtime_ns)
        except Exception:  # noqa: BLE001 - one bad file must not stop the watcher
            log.exception("watched folder: could not handle %s; it stays where it is", path)
            self._pending.pop(path, None)

    async def _check_once(self, path: Path, entry: _Pending, size: int, mtime_ns: int) -> None:
        rel = self._rel(path)
        assert rel is not None
        try:
            facts = await asyncio.to_thread(inspect_image, path, self.settings.max_pixels, what=str(rel))
        except ImageError as exc:
            entry.checking = False
            stable_for = time.monotonic() - (entry.stable_since or 0)
            if stable_for >= GIVE_UP_PERIODS * self.debounce:
                self._pending.pop(path, None)
                await asyncio.to_thread(reject_file, self.layout, path, rel, str(exc))
            else:
                entry.last_event = time.monotonic()   # look again after another quiet period
            return
        try:
            st = path.lstat()
        except OSError:
            self._pending.pop(path, None)
            return
        if stat.S_ISLNK(st.st_mode):                  # replaced by a link while we looked
            self._pending.pop(path, None)
            await asyncio.to_thread(reject_file, self.layout, path, rel, LINK_REASON)
            return
        if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
            # Written to while we decoded: what decoded is not what is there now. Wait again.
            entry.signature, entry.stable_since = (st.st_size, st.st_mtime_ns), time.monotonic()
            entry.last_event, entry.checking = time.monotonic(), False
            return
        self._pending.pop(path, None)
        try:
            await self._submit(path, rel, facts, size, mtime_ns)
        except Exception as exc:  # noqa: BLE001 - bad options, unknown target: say why, lose nothing
            reason = str(exc) if getattr(exc, "code", None) else f"could not queue it ({exc})"
            log.warning("not queued: %s: %s", rel, reason)
            await asyncio.to_thread(reject_file, self.layout, path, rel, reason)

    async def _submit(self, path: Path, rel: PurePath, facts, size: int, mtime_ns: int) -> None:
        fields = folder_fields(rel, self.settings.mode)     # to-post/<concept>/, to-post/cloak-<style>/
        target = fields.get("target")
        options = await asyncio.to_thread(self.service.core.job_options, fields, has_anchor=False, has_style=False)
        meta = {"src": str(path), "rel": rel.as_posix(), "target": target, "size": size, "mtime_ns": mtime_ns,
                "ready": None, "moved_to": None, "delivered": False}
        with self._active_lock:
            if str(path) in self._active:
                return
            self._active.add(str(path))
        try:
            await asyncio.to_thread(self.service.create, source="folder", filename=rel.name, image=path,
                                    facts=facts, options=options, folder=meta, copy=True)
        except BaseException:
            with self._active_lock:
                self._active.discard(str(path))
            raise
