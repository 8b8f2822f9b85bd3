"""``shade bench --cluster``: images per hour through the batch pipeline with one and with two
worker nodes on this machine, each node pinned to its own core, and the pipeline's cost per
image against shading the same images here with the models already loaded.

The cluster is made here (``ray.cluster_utils.Cluster``: a head without CPUs and two one-CPU
worker nodes); each node's raylet is pinned to one core before it starts any worker, and its
workers inherit that. The local figure runs on one pinned core with one thread, like a worker.
Where the machine has fewer cores than nodes, the figures say so: scaling is then bounded.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import require_ray


def _say(line: str) -> None:
    print(f"shade: {line}", file=sys.stderr, flush=True)


def _pin(pid: int, core: int) -> bool:
    try:
        os.sched_setaffinity(pid, {core})
        return True
    except (AttributeError, OSError):          # not Linux, or the core is not ours
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


def local_seconds(images: list[Path], options: Any) -> float:
    """Mean seconds per image shaded here, models loaded once, one thread on one core (like a worker)."""
    import torch

    from .worker import load_protector

    before = torch.get_num_threads()
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    torch.set_num_threads(1)
    _pin(0, 0)
    try:
        protector = load_protector(options)
        protector.protect(images[0].read_bytes(), options)          # warm: first-call costs are not per image
        started = time.perf_counter()
        for path in images:
            protector.protect(path.read_bytes(), options)
        return (time.perf_counter() - started) / len(images)
    finally:
        torch.set_num_threads(before)
        if affinity is not None:
            os.sched_setaffinity(0, affinity)


def cluster_bench(count: int, size: tuple[int, int], options: Any) -> dict[str, Any]:
    ray = require_ray()
    from ray.cluster_utils import Cluster

    from .batch import Plan, run_batch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    report: dict[str, Any] = {"images": count, "size": f"{size[0]}x{size[1]}", "cores": cores,
                              "options": {"quality": options.quality, "steps": options.steps,
                                          "encoders": list(options.encoders), "view_size": options.view_size}}
    with tempfile.TemporaryDirectory(prefix="shade-bench-cluster-") as tmp:
        images = synthetic_images(Path(tmp), count, size)
        _say("timing the local path...")
        local = local_seconds(images, options)
        report["local_seconds_per_image"] = round(local, 3)
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
        pinned = []
        try:
            for core in range(2):
                node = cluster.add_node(num_cpus=1)
                pinned.append(_pin(_raylet_pid(node), core % cores))
            cluster.wait_for_nodes()
            ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
            report["pinned"] = all(pinned) and cores >= 2
            for workers in (1, 2):
                _say(f"timing the cluster with {workers} worker node(s)...")
                out = Path(tmp) / f"out-{workers}"
                started = time.perf_counter()
                done = run_batch(images, out, options, plan=Plan(max_workers=workers), show_progress=False)
                wall = time.perf_counter() - started
                if done.failed:
                    raise RuntimeError(f"{done.failed} image(s) failed in the bench: "
                                       f"{[r['error'] for r in done.rows if r['status'] != 'done'][:1]}")
                report[f"nodes_{workers}"] = {"seconds": round(wall, 2),
                                             "images_per_hour": round(count * 3600 / wall, 1),
                                             "overhead_seconds_per_image": round(wall / count * workers - local, 3)}
        finally:
            ray.shutdown()
            cluster.shutdown()
    one, two = report["nodes_1"], report["nodes_2"]
    report["scaling_1_to_2"] = round(two["images_per_hour"] / one["images_per_hour"], 2)
    report["overhead_fraction"] = round(one["overhead_seconds_per_image"] / local, 3) if local else None
    return report


def format_report(r: dict[str, Any]) -> str:
    lines = [f"cluster bench: {r['images']} images of {r['size']} ({r['options']['quality']} quality, "
             f"steps {r['options']['steps'] or 'preset'}, encoders {','.join(r['options']['encoders'])}) on "
             f"{r['cores']} core(s){'' if r.get('pinned') else ' (nodes NOT on separate cores: scaling is bounded)'}",
             f"  local, models loaded, 1 thread:   {r['local_seconds_per_image']:.2f} s/image  "
             f"({3600 / r['local_seconds_per_image']:.0f} images/hour)"]
    for n in (1, 2):
        x = r[f"nodes_{n}"]
        lines.append(f"  cluster, {n} worker node(s):      {x['images_per_hour']:.0f} images/hour  ({x['seconds']:.1f} s "
                     f"in all; pipeline cost {x['overhead_seconds_per_image']:+.2f} s/image per worker)")
    lines.append(f"  scaling 1 -> 2 nodes: {r['scaling_1_to_2']:.2f}x;  overhead on 1 node: "
                 f"{100 * (r['overhead_fraction'] or 0):.1f}% of a local image's time (start-up of the actor included)")
    return "\n".join(lines)


def run_cluster_bench(args: argparse.Namespace, options: Any) -> int:
    try:
        w, h = (int(v) for v in str(args.cluster_size).lower().split("x"))
    except ValueError:
        print(f"shade: --cluster-size takes WIDTHxHEIGHT, not {args.cluster_size!r}", file=sys.stderr)
        return 2
    if options.seed is None:
        options = dataclasses.replace(options, seed=0)
    print(f"shade: cluster bench of {args.cluster} image(s), {w}x{h}: starting a local cluster of 2 worker nodes",
          file=sys.stderr)
    report = cluster_bench(int(args.cluster), (w, h), options)
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps({"cluster": report}, indent=2))
    return 0
