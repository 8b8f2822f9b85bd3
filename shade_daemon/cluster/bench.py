"""``shade bench --cluster``: images per hour through the batch pipeline with one and with two
workers on this machine, and the pipeline's cost per image against shading the same images
here with the models already loaded.

The cluster is made here (``ray.cluster_utils.Cluster``: a head without CPUs, then worker
nodes). On the CPU each node's raylet is pinned to its own set of ``cores_per_node`` cores
before it starts any worker, and its workers inherit that; the local figure runs pinned to one
such set with as many threads. With a GPU, one node holds it, and the second figure is two
workers sharing it. Where the machine has too few cores for separate sets, the report says so:
scaling is then bounded.

The pipeline's cost is split in two: its start (actors up, models loaded, the first image
back), paid once per batch, and its steady cost per image, from the spacing of the results.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from . import require_ray


def _say(line: str) -> None:
    print(f"shade: {line}", file=sys.stderr, flush=True)


def _cores() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def core_sets(cores: Sequence[int], per_node: int, nodes: int) -> tuple[list[set[int]], bool]:
    """``nodes`` sets of ``per_node`` cores from ``cores``, and whether they are really apart
    (when there are too few cores the sets wrap round and share)."""
    per_node = max(1, per_node)
    separate = len(cores) >= per_node * nodes
    sets = [{cores[(n * per_node + i) % len(cores)] for i in range(per_node)} for n in range(nodes)]
    return sets, separate


def _pin(pid: int, cores: set[int]) -> bool:
    try:
        os.sched_setaffinity(pid, cores)
        return True
    except (AttributeError, OSError):          # not Linux, or the cores are not ours
        return False


def _raylet_pid(node: Any) -> int:
    from ray._private import ray_constants

    return node.all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process.pid


def synthetic_images(folder: Path, count: int, size: tuple[int, int]) -> list[Path]:
    """``count`` textured pictures of ``size`` (each a little different)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    paths = []
    for i in range(count):
        base = np.stack([(xx * 255 // max(w - 1, 1) + 17 * i) % 256, (yy * 255 // max(h - 1, 1)) % 256,
                         np.full_like(xx, 128)], axis=-1)
        noise = rng.integers(0, 60, size=(h, w, 3))
        rgb = np.clip(base + noise * (xx[..., None] > w // 2), 0, 255).astype("uint8")
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "PNG")
        path = folder / f"bench-{i:03d}.png"
        path.write_bytes(buf.getvalue())
        paths.append(path)
    return paths


def copied_images(folder: Path, sources: Sequence[Path], count: int) -> list[Path]:
    """``count`` copies of ``sources`` in turn, each under its own name (the batch skips nothing)."""
    paths = []
    for i in range(count):
        source = sources[i % len(sources)]
        path = folder / f"bench-{i:03d}{source.suffix.lower()}"
        path.write_bytes(source.read_bytes())
        paths.append(path)
    return paths


def uses_gpu(options: Any) -> bool:
    import torch

    return options.device == "cuda" or (options.device == "auto" and torch.cuda.is_available())


def _time_locally(images: list[str], options: Any, cores: Optional[set[int]], answer: Any) -> None:
    """In a fresh process, set up as a worker is: pinned to ``cores``, its thread pools sized
    by OMP_NUM_THREADS (which Ray sets for every worker to its CPUs)."""
    from .worker import load_protector

    if cores:
        _pin(0, cores)
    protector = load_protector(options)
    protector.protect(Path(images[0]).read_bytes(), options)      # warm: first-call costs are not per image
    times = []
    for path in images:
        started = time.perf_counter()
        protector.protect(Path(path).read_bytes(), options)
        times.append(time.perf_counter() - started)
    answer.put(statistics.median(times))


def local_seconds(images: list[Path], options: Any, cores: Optional[set[int]], threads: int) -> float:
    """Median seconds per image shaded here, models loaded once, on ``cores`` with ``threads``
    threads: the same image on the same footing as one worker."""
    import multiprocessing

    from .portable import portable_options

    context = multiprocessing.get_context("spawn")
    answer = context.Queue()
    before = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads)      # read by the child as it starts
    try:
        child = context.Process(target=_time_locally, args=([str(p) for p in images], portable_options(options),
                                                            cores, answer))
        child.start()
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"the local timing failed (exit status {child.exitcode}); see its output above")
    return float(answer.get(timeout=5))


def pipeline_figures(started: float, arrivals: Sequence[float], workers: int, local: float) -> dict[str, float]:
    """From the times results arrived: the wall time, the start (first result less one local
    image), and the steady seconds per image per worker (the spacing of the results after each
    worker's first, times the number of workers) and its cost against ``local``."""
    arrivals = sorted(arrivals)
    wall = arrivals[-1] - started
    first = arrivals[0] - started
    steady_span = arrivals[-1] - arrivals[min(workers, len(arrivals)) - 1]
    later = len(arrivals) - min(workers, len(arrivals))
    steady = steady_span / later * workers if later else float("nan")
    return {"seconds": round(wall, 2), "images_per_hour": round(len(arrivals) * 3600 / wall, 1),
            "start_seconds": round(first - local, 2), "steady_seconds_per_image": round(steady, 3),
            "overhead_seconds_per_image": round(steady - local, 3)}


def _time_batch(images: list[Path], out: Path, options: Any, plan: Any, workers: int, local: float) -> dict[str, Any]:
    from .batch import run_batch

    arrivals: list[float] = []
    started = time.perf_counter()
    done = run_batch(images, out, options, plan=plan, show_progress=False,
                     on_row=lambda row: arrivals.append(time.perf_counter()))
    if done.failed:
        raise RuntimeError(f"{done.failed} image(s) failed in the bench: "
                           f"{[r['error'] for r in done.rows if r['status'] != 'done'][:1]}")
    return pipeline_figures(started, arrivals, workers, local)


def cluster_bench(count: int, size: tuple[int, int], options: Any, *, cores_per_node: int = 1,
                  sources: Sequence[Path] = ()) -> dict[str, Any]:
    ray = require_ray()
    from ray.cluster_utils import Cluster

    from .batch import Plan

    gpu = uses_gpu(options)
    cores = _cores()
    sets, separate = core_sets(cores, cores_per_node, 1 if gpu else 2)
    report: dict[str, Any] = {"images": count, "size": "as given" if sources else f"{size[0]}x{size[1]}",
                              "sources": [p.name for p in sources], "cores": len(cores),
                              "cores_per_node": cores_per_node, "gpu": gpu,
                              "options": {"quality": options.quality, "steps": options.steps,
                                          "encoders": list(options.encoders), "view_size": options.view_size}}
    if gpu:
        import torch

        report["gpu_name"] = torch.cuda.get_device_name(0)
    with tempfile.TemporaryDirectory(prefix="shade-bench-cluster-") as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        images = copied_images(folder, sources, count) if sources else synthetic_images(folder, count, size)
        _say("timing the local path...")
        local = local_seconds(images, options, sets[0], cores_per_node)
        report["local_seconds_per_image"] = round(local, 3)
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
        pinned = []
        try:
            if gpu:        # one node holds the GPU; the second figure is two workers sharing it
                node = cluster.add_node(num_cpus=2 * cores_per_node, num_gpus=1)
                pinned.append(_pin(_raylet_pid(node), core_sets(cores, 2 * cores_per_node, 1)[0][0]))
            else:
                for cores_of_node in sets:
                    node = cluster.add_node(num_cpus=cores_per_node)
                    pinned.append(_pin(_raylet_pid(node), cores_of_node))
            cluster.wait_for_nodes()
            rest = set(cores) - set().union(*sets)
            if rest and not gpu:
                _pin(0, rest)              # the driver keeps off the workers' cores where it can
            ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
            report["pinned"] = all(pinned) and separate
            for workers in (1, 2):
                _say(f"timing the cluster with {workers} worker(s)...")
                plan = Plan(cpus_per_worker=cores_per_node, max_workers=workers,
                            gpus_per_worker=(1.0 / workers) if gpu else 0.0)
                report[f"nodes_{workers}"] = _time_batch(images, Path(tmp) / f"out-{workers}", options, plan,
                                                         workers, local)
        finally:
            ray.shutdown()
            cluster.shutdown()
            _pin(0, set(cores))
    one, two = report["nodes_1"], report["nodes_2"]
    report["scaling_1_to_2"] = round(two["images_per_hour"] / one["images_per_hour"], 2)
    # Past the start, which a longer batch spreads thinner: images per second per worker, times workers.
    report["steady_scaling_1_to_2"] = round(2 * one["steady_seconds_per_image"] / two["steady_seconds_per_image"], 2)
    report["overhead_fraction"] = round(one["overhead_seconds_per_image"] / local, 3) if local else None
    return report


def format_report(r: dict[str, Any]) -> str:
    where = (f"1 GPU ({r.get('gpu_name', '?')}), {2 * r['cores_per_node']} core(s) for its node" if r["gpu"] else
             f"{r['cores']} core(s), {r['cores_per_node']} per node"
             f"{'' if r.get('pinned') else ' (nodes NOT on separate cores: scaling is bounded)'}")
    what = ", ".join(r["sources"]) if r["sources"] else f"synthetic {r['size']}"
    o = r["options"]
    lines = [f"cluster bench: {r['images']} images ({what}; {o['quality']} quality, steps {o['steps'] or 'preset'}, "
             f"encoders {','.join(o['encoders'])}) on {where}",
             f"  local, models loaded:        {r['local_seconds_per_image']:.2f} s/image  "
             f"({3600 / r['local_seconds_per_image']:.0f} images/hour)"]
    for n in (1, 2):
        x = r[f"nodes_{n}"]
        label = (f"{n} worker(s) on the GPU" if r["gpu"] else f"{n} worker node(s)").ljust(22)
        lines.append(f"  cluster, {label} {x['images_per_hour']:.0f} images/hour ({x['seconds']:.1f} s in all; "
                     f"start {x['start_seconds']:+.1f} s once, then {x['steady_seconds_per_image']:.2f} s/image "
                     f"per worker, {x['overhead_seconds_per_image']:+.2f} against local)")
    lines.append(f"  scaling 1 -> 2 {'workers' if r['gpu'] else 'nodes'}: {r['scaling_1_to_2']:.2f}x in all, "
                 f"{r['steady_scaling_1_to_2']:.2f}x past the start;  steady "
                 f"overhead on 1 worker: {100 * (r['overhead_fraction'] or 0):.1f}% of a local image's time")
    return "\n".join(lines)


def run_cluster_bench(args: argparse.Namespace, options: Any, sources: Sequence[Path] = ()) -> int:
    try:
        w, h = (int(v) for v in str(args.cluster_size).lower().split("x"))
    except ValueError:
        print(f"shade: --cluster-size takes WIDTHxHEIGHT, not {args.cluster_size!r}", file=sys.stderr)
        return 2
    if args.cluster_cores < 1:
        print("shade: --cluster-cores takes a whole number of cores, at least 1", file=sys.stderr)
        return 2
    if options.seed is None:
        options = dataclasses.replace(options, seed=0)
    what = f"copies of {len(sources)} image(s)" if sources else f"synthetic {w}x{h}"
    _say(f"cluster bench of {args.cluster} image(s) ({what}): starting a local cluster")
    report = cluster_bench(int(args.cluster), (w, h), options, cores_per_node=args.cluster_cores,
                           sources=sources)
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps({"cluster": report}, indent=2))
    return 0
