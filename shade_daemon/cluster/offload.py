"""The personal daemon's ``cluster`` setting: its jobs shade on a Ray cluster instead of here.

The queue, progress (SSE), the folder and the extension do not change: the daemon's worker
still runs one job at a time and saves its result; only the shading is elsewhere. Each job
is sent by a short-lived helper process (``python -m shade_daemon.cluster.remote_job``), so
Ray lives outside the daemon: a cluster that goes away takes the helper with it, never the
daemon. When the cluster cannot be reached (before or during a job) the job goes back to the
queue and waits, and the status says so; with ``cluster_fallback = "local"`` it is shaded
here instead.
"""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from . import ClusterError, ClusterUnavailable
from .portable import portable_options

log = logging.getLogger("shade.daemon")

STALL_SECONDS = 60.0       # no word from the helper for this long: the cluster is taken as gone
WAIT_SECONDS = 10.0        # how long a job waits, queued, before the cluster is tried again
EXIT_UNAVAILABLE = 75      # the helper's exit status for "no cluster answers" (EX_TEMPFAIL)

# What the daemon's status shows about the cluster: {"address", "state", "error"}.
cluster_state: dict[str, Any] = {}


def protect_offloaded(settings: Any, input_path: Path, options: Any, progress: Callable[[int, int, str], None],
                      local: Callable[[], Any]) -> Any:
    """Shade on ``settings.cluster``; ``local()`` shades here when it is unreachable and the
    ``cluster_fallback`` setting allows it, else ClusterUnavailable (the job waits, queued)."""
    try:
        result = run_remote(settings.cluster, Path(input_path), options, progress)
    except ClusterUnavailable as exc:
        cluster_state.update(address=settings.cluster, state="unreachable", error=str(exc))
        if settings.cluster_fallback == "local":
            log.warning("cluster %s unreachable (%s); shading this job here", settings.cluster, exc)
            return local()
        raise
    cluster_state.update(address=settings.cluster, state="ok", error=None)
    return result


def job_waits(worker: Any, job: Any, exc: ClusterUnavailable) -> None:
    """The daemon worker's answer to an unreachable cluster: the job back in the queue (not
    failed, not lost), the reason in the status, and a pause before the next try."""
    worker.store.requeue(job.id)
    cluster_state.setdefault("state", "unreachable")
    cluster_state.setdefault("error", str(exc))
    worker.model_state["cluster"] = cluster_state      # the live record: it says "ok" once a job gets through
    worker.last_error = f"the cluster is unreachable; jobs wait in the queue: {exc}"
    log.warning("job %s stays queued: %s", job.id, exc)
    with worker._cond:
        if not worker._stopping:
            worker._cond.wait(timeout=WAIT_SECONDS)


def _last_words(log_file: Path) -> str:
    """The helper's last error line (Ray's own words on why it gave up), if any."""
    try:
        lines = [ln for ln in log_file.read_text(errors="replace").splitlines() if " E " in ln or "Error" in ln]
    except OSError:
        return ""
    return f": {lines[-1].split('] ', 1)[-1][:300]}" if lines else ""


def _helper_env() -> dict[str, str]:
    env = dict(os.environ)
    # A helper whose cluster went away gives up in seconds, not Ray's default minute.
    env.setdefault("RAY_gcs_rpc_server_reconnect_timeout_s", "5")
    return env


def run_remote(address: str, input_path: Path, options: Any, progress: Callable[[int, int, str], None],
               stall_seconds: Optional[float] = None) -> Any:
    """Shade ``input_path`` on the cluster at ``address`` through the helper process; the
    core's ShadeError for a refused image, ClusterUnavailable when the cluster is not there."""
    import shading

    stall = STALL_SECONDS if stall_seconds is None else stall_seconds
    workdir = Path(tempfile.mkdtemp(prefix="shade-offload-"))
    request = {"data": input_path.read_bytes(), "options": portable_options(options),
               "result_path": str(workdir / "result")}
    with open(workdir / "log", "wb") as log_file:        # the child keeps its own copy
        proc = subprocess.Popen([sys.executable, "-m", "shade_daemon.cluster.remote_job", address],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file, env=_helper_env())
    last_word = [time.monotonic()]
    in_callback = threading.Event()     # a paused job waits in the progress callback: that is no stall
    stop = threading.Event()

    def watchdog() -> None:
        while not stop.wait(1.0):
            if not in_callback.is_set() and time.monotonic() - last_word[0] > stall:
                proc.kill()
                return

    guard = threading.Thread(target=watchdog, name="shade-offload-watchdog", daemon=True)
    guard.start()
    outcome: dict[str, Any] = {}
    try:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            pickle.dump(request, proc.stdin)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        for line in proc.stdout:
            last_word[0] = time.monotonic()
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "progress" in message:
                in_callback.set()
                try:
                    progress(*message["progress"])      # may raise Cancelled: the finally ends the helper
                finally:
                    in_callback.clear()
                    last_word[0] = time.monotonic()
            else:
                outcome = message
        proc.wait()
        if "done" in outcome:
            data = (workdir / "result").read_bytes()
            from PIL import Image

            image = Image.open(io.BytesIO(data))
            image.load()
            return shading.ProtectResult(image, outcome["done"]["format"], outcome["done"]["measurements"], {}, data)
        if "failed" in outcome:
            failure = outcome["failed"]
            kind = getattr(shading, str(failure.get("code")), None)
            if isinstance(kind, type) and issubclass(kind, shading.ShadeError):
                raise kind(failure["message"])
            raise ClusterError(failure["message"])
        reason = outcome.get("unavailable") or (f"no answer from the cluster at {address} (the helper ended with "
                                                f"status {proc.returncode}{_last_words(workdir / 'log')})")
        raise ClusterUnavailable(reason)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
