"""``shade protect SRC... --out DIR --ray ADDRESS``: a Ray Data pipeline over the images, an
actor pool of ``BatchShader`` (models loaded once per actor), and this process writing each
result as it arrives: atomically, never over an existing file, with a manifest row.

The images' bytes travel through Ray's object store (in windows, so a large archive is never
all in memory at once), unless ``shared_fs`` says every worker sees the same paths: then the
workers read the files themselves. Results always come back here, where the output folder is.
"""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from . import ClusterError, require_ray
from .connect import cluster_resources, connect
from .manifest import DONE, FAILED, Manifest, sha256_bytes
from .portable import portable_options
from .worker import BatchShader

WINDOW_BYTES = 512 * 2 ** 20      # images in flight through the object store at once (bytes mode)
WINDOW_IMAGES = 256


@dataclass
class Plan:
    """How the pool is sized and how hard a lost worker is retried."""

    cpus_per_worker: float = 1.0
    gpus_per_worker: Optional[float] = None     # None: one GPU each where the cluster has GPUs and the device allows
    max_workers: Optional[int] = None           # None: as many as the cluster's resources hold
    retries: int = 3                            # times an image is tried again after its worker died
    shared_fs: bool = False


@dataclass
class BatchReport:
    done: int = 0
    failed: int = 0
    skipped: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)


def write_free(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` atomically on the first free one of ``name``, ``name-1``... (the local
    command's naming; a name taken meanwhile is passed over, never written over)."""
    from shading import ImageError, write_new_file

    from ..service.naming import candidates

    for path in candidates(folder, name):
        if path.exists():
            continue
        try:
            return write_new_file(path, data)
        except ImageError:
            if not path.exists():
                raise               # not a taken name: a real write failure
    raise AssertionError("unreachable: candidates never end")


def pool_size(plan: Plan, resources: dict[str, float], gpus: float) -> int:
    if plan.max_workers:
        return max(1, plan.max_workers)
    if gpus:
        return max(1, int(resources.get("GPU", 0) // gpus))
    return max(1, int(resources.get("CPU", 1) // max(plan.cpus_per_worker, 0.01)))


def _gpus(plan: Plan, options: Any, resources: dict[str, float]) -> float:
    if plan.gpus_per_worker is not None:
        return plan.gpus_per_worker
    return 1.0 if resources.get("GPU", 0) >= 1 and options.device in ("auto", "cuda") else 0.0


class _Input:
    __slots__ = ("source", "digest", "size")

    def __init__(self, source: Path, digest: str, size: int):
        self.source, self.digest, self.size = source, digest, size


def run_batch(sources: Sequence[Path], out_dir: Path, options: Any, *, address: Optional[str] = None,
              plan: Optional[Plan] = None, show_progress: bool = True,
              on_row: Optional[Callable[[dict[str, Any]], None]] = None) -> BatchReport:
    """Shade ``sources`` into ``out_dir`` on the cluster at ``address`` (None: the one this
    process has joined). Returns what was done, refused and skipped; every image has its row
    in ``out_dir``'s manifest."""
    ray = require_ray()
    plan = plan or Plan()
    if address:
        connect(address)
    elif not ray.is_initialized():
        raise ClusterError("no Ray cluster joined: give --ray ADDRESS or SHADE_RAY_ADDRESS")
    options = portable_options(options)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest.open(out_dir)
    report = BatchReport()

    def record(row: dict[str, Any]) -> None:
        row = manifest.append(row)
        report.rows.append(row)
        if row["status"] == DONE:
            report.done += 1
        else:
            report.failed += 1
        if on_row is not None:
            on_row(row)

    todo: list[_Input] = []
    for source in map(Path, sources):
        try:
            data = source.read_bytes()
        except OSError as exc:
            record(_failed(source, "", "ImageError", f"cannot read {source}: {exc.strerror or exc}", "driver"))
            continue
        digest = sha256_bytes(data)
        if manifest.done_for(source, digest) is not None:
            report.skipped += 1
            continue
        todo.append(_Input(source, digest, len(data)))       # the bytes are read again, a window at a time
    if not todo:
        return report

    resources = cluster_resources()
    gpus = _gpus(plan, options, resources)
    size = pool_size(plan, resources, gpus)
    bar = _progress_bar(len(todo), show_progress)
    try:
        for window in _windows(todo, plan.shared_fs):
            _run_window(ray, window, options, plan, gpus, size, out_dir, record, bar)
    finally:
        bar.close()
    return report


def _windows(todo: list[_Input], shared_fs: bool):
    if shared_fs:
        yield todo
        return
    window: list[_Input] = []
    held = 0
    for item in todo:
        if window and (held + item.size > WINDOW_BYTES or len(window) >= WINDOW_IMAGES):
            yield window
            window, held = [], 0
        window.append(item)
        held += item.size
    if window:
        yield window


def _run_window(ray: Any, window: list[_Input], options: Any, plan: Plan, gpus: float, size: int, out_dir: Path,
                record: Callable[[dict[str, Any]], None], bar: Any) -> None:
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False        # our bar counts images; Ray's dashboard shows the rest
    items = []
    for i, item in enumerate(window):
        if plan.shared_fs:
            items.append({"index": i, "data": b"", "path": str(item.source.resolve())})
            continue
        try:
            data = item.source.read_bytes()
        except OSError as exc:
            record(_failed(item.source, item.digest, "ImageError",
                           f"cannot read {item.source}: {exc.strerror or exc}", "driver"))
            bar.update(1)
            continue
        item.digest = sha256_bytes(data)        # what is shaded is what the manifest names
        items.append({"index": i, "data": data, "path": ""})
    if not items:
        return
    # One block per image, so each image is its own task: spread over the pool, and its result
    # comes back (and is written) as soon as it is done, not with its neighbours.
    with warnings.catch_warnings():
        # The actors' retry limit has no named parameter yet (Ray 2.60 warns that the
        # remote-args form goes in 2.64; the extra's range stops before it).
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
        ds = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            BatchShader, fn_constructor_kwargs={"options": options}, batch_size=1, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=min(size, len(window))),
            num_cpus=plan.cpus_per_worker, num_gpus=gpus,
            # A dead worker's actor comes back where there is room, and its image is tried again
            # up to ``retries`` times; past that the pipeline stops and the rest are rows below.
            max_restarts=-1, max_task_retries=plan.retries)
    pending = {item["index"] for item in items}
    del items                   # the dataset holds them now
    try:
        for row in ds.iter_rows():
            index = int(row["index"])
            if index not in pending:
                continue            # a retried task that finished twice: the first result stands
            pending.discard(index)
            record(_result_row(window[index], row, out_dir))
            bar.update(1)
    except Exception as exc:  # noqa: BLE001 - Ray raises many kinds when workers are lost for good
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        for index in sorted(pending):
            item = window[index]
            record(_failed(item.source, item.digest, "worker_lost",
                           f"the cluster could not finish it (a worker was lost more than {plan.retries} times, or "
                           f"the cluster went away): {reason}; run the same command again to retry", ""))
            bar.update(1)


def _result_row(item: _Input, row: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    from shading import ShadeError, output_name

    if not row["ok"]:
        return _failed(item.source, item.digest, row["code"], local_message(item.source, row["error"]), row["worker"])
    data = bytes(row["data"])
    try:
        written = write_free(out_dir, output_name(item.source.name, row["format"]), data)
    except (ShadeError, OSError) as exc:
        return _failed(item.source, item.digest, "write_failed", str(exc), row["worker"])
    return {"input": str(item.source.resolve()), "input_sha256": item.digest, "output": str(written.resolve()),
            "output_sha256": sha256_bytes(data), "status": DONE, "worker": row["worker"],
            "measurements": json.loads(row["measurements"])}


def local_message(source: Path, message: str) -> str:
    """The core names an image it got as bytes ``image``; say the file's name, as a local run does."""
    return f"{source}{message[len('image'):]}" if message.startswith("image: ") else message


def _failed(source: Path, digest: str, code: str, message: str, worker: str) -> dict[str, Any]:
    return {"input": str(Path(source).resolve()), "input_sha256": digest, "output": None, "output_sha256": None,
            "status": FAILED, "error": {"code": code, "message": message}, "worker": worker}


def _progress_bar(total: int, show: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="img", desc="shading", file=sys.stderr, disable=not (show and sys.stderr.isatty()),
                smoothing=0.1)
