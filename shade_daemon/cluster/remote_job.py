"""The daemon's helper for one offloaded job (see offload.py): reads the request (pickled, on
stdin, from the daemon that started it), shades it on the cluster, and answers in JSON lines
on stdout: ``{"progress": [step, total, stage]}`` as it goes, ``{"alive": true}`` while it
waits, then ``{"done": {...}}`` (the file written to the request's result path),
``{"failed": {"code", "message"}}`` or ``{"unavailable": reason}``."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path
from typing import Any

from . import ClusterError, ClusterUnavailable
from .connect import connect
from .worker import shade_streaming

EXIT_UNAVAILABLE = 75
def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    address = argv[0]
    request = pickle.load(sys.stdin.buffer)
    try:
        connect(address)
    except ClusterUnavailable as exc:
        _emit({"unavailable": str(exc)})
        return EXIT_UNAVAILABLE
    except ClusterError as exc:
        _emit({"failed": {"code": "cluster_error", "message": str(exc)}})
        return 1
    import ray

    remote = ray.remote(num_returns="streaming", max_retries=2)(shade_streaming)
    options = request["options"]
    gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 and options.device in ("auto", "cuda") else 0
    try:
        gen = remote.options(num_cpus=1, num_gpus=gpus).remote(request["data"], options)
        while True:
            ready, _ = ray.wait([gen], timeout=2.0)
            if not ready:
                _emit({"alive": True})
                continue
            try:
                event = ray.get(next(gen))
            except StopIteration:
                break
            if "progress" in event:
                _emit(event)
                continue
            out = event["result"]
            if out["ok"]:
                Path(request["result_path"]).write_bytes(out["data"])
                measurements = {**out["measurements"], "shaded_on": f"cluster {address}: {out['worker']}"}
                _emit({"done": {"format": out["format"], "measurements": measurements}})
            else:
                _emit({"failed": {"code": out["code"], "message": out["error"]}})
            return 0
    except Exception as exc:  # noqa: BLE001 - a lost node or cluster: the job waits, queued
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        _emit({"unavailable": f"the cluster lost the job: {reason}"})
        return EXIT_UNAVAILABLE
    _emit({"unavailable": "the cluster ended the job without a result"})
    return EXIT_UNAVAILABLE


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
