"""What runs on the cluster's workers: one ``BatchShader`` per actor holds the models, loaded
once, and shades the rows Ray Data hands it; ``shade_one`` is the single-image step the batch,
the Serve replicas and the daemon's offload share, so an image shades to the same bytes on
any of them and as ``shade protect`` does locally."""

from __future__ import annotations

import json
import os
import queue
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np

ProgressFn = Optional[Callable[[int, int, str], None]]
_protectors: dict[Any, Any] = {}     # per worker process: the daemon offload's tasks reuse them


def load_protector(options: Any) -> Any:
    """The models ``options`` name, loaded once for every image this process will shade."""
    from shading import Protector

    return Protector.from_pretrained(encoders=options.encoders, device=options.device, model_dirs=options.model_dirs)


def worker_name() -> str:
    """Where this runs (node id prefix and pid), recorded with each result."""
    try:
        import ray

        node = ray.get_runtime_context().get_node_id()[:12]
    except Exception:  # noqa: BLE001 - outside Ray (tests of the pieces)
        node = "local"
    return f"{node}/{os.getpid()}"


def shade_one(protector: Any, data: bytes, options: Any, progress: ProgressFn = None) -> dict[str, Any]:
    """Shade one encoded image; a refusal (the core's ShadeError) or any other failure is a
    result with its error, never an exception that would take the batch down with it."""
    from shading import ShadeError

    try:
        result = protector.protect(data, options, progress=progress)
        encoded = result.data if result.data else result.to_bytes()
        return {"ok": True, "format": result.format, "data": encoded, "measurements": dict(result.measurements)}
    except ShadeError as exc:
        return {"ok": False, "code": type(exc).__name__, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one image's failure is that image's row
        return {"ok": False, "code": "internal", "error": f"{type(exc).__name__}: {exc}"}


def shade_streaming(data: bytes, options: Any) -> Iterator[dict[str, Any]]:
    """On a cluster worker: progress events, then the result. The models stay loaded in the
    worker process for the jobs after this one."""
    key = (tuple(options.encoders), options.device, tuple(map(str, options.model_dirs)))
    events: queue.Queue = queue.Queue()

    def run() -> None:
        try:
            if key not in _protectors:
                _protectors[key] = load_protector(options)
            out = shade_one(_protectors[key], data, options, progress=lambda s, t, st: events.put(
                {"progress": [int(s), int(t), str(st)]}))
        except Exception as exc:  # noqa: BLE001 - loading failed: the job's error, as locally
            out = {"ok": False, "code": type(exc).__name__, "error": str(exc)}
        events.put({"result": {**out, "worker": worker_name()}})

    threading.Thread(target=run, daemon=True).start()
    while True:
        event = events.get()
        yield event
        if "result" in event:
            return


class BatchShader:
    """A Ray Data callable (``map_batches(BatchShader, ...)``): one per actor, many images each."""

    def __init__(self, options: Any) -> None:
        from shading import ShadeError

        self.options = options
        self.where = worker_name()
        self.protector: Any = None
        self.load_error: Optional[dict[str, str]] = None
        try:
            self.protector = load_protector(options)
        except ShadeError as exc:
            # Every image then fails with the message a local run would give (models missing
            # on this worker, a device it lacks), instead of the actor dying over and over.
            self.load_error = {"code": type(exc).__name__, "error": str(exc)}

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        columns: dict[str, list[Any]] = {k: [] for k in ("index", "ok", "format", "data", "measurements", "code",
                                                          "error", "worker")}
        for index, data, path in zip(batch["index"], batch["data"], batch["path"]):
            if self.load_error is not None:
                out: dict[str, Any] = {"ok": False, **self.load_error}
            else:
                try:
                    raw = bytes(data) if len(data) else Path(str(path)).read_bytes()
                except OSError as exc:
                    out = {"ok": False, "code": "ImageError", "error": f"cannot read {path}: {exc.strerror or exc}"}
                else:
                    out = shade_one(self.protector, raw, self.options)
            columns["index"].append(int(index))
            columns["ok"].append(bool(out["ok"]))
            columns["format"].append(out.get("format", ""))
            columns["data"].append(out.get("data", b""))
            columns["measurements"].append(json.dumps(out.get("measurements", {})))
            columns["code"].append(out.get("code", ""))
            columns["error"].append(out.get("error", ""))
            columns["worker"].append(self.where)
        return {k: np.array(v, dtype=object) for k, v in columns.items()}
