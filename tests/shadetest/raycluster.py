"""A real multi-node Ray cluster on this machine for tests/cluster/ (``ray.cluster_utils.Cluster``):
a head with no CPUs, so all shading happens on worker nodes of one CPU each, and small images."""

from __future__ import annotations

from pathlib import Path

from . import image_bytes

NODE_MEMORY = 80 * 2 ** 20      # object store per node: tiny images need little
# Dead nodes are noticed in about two seconds, not the default half minute.
SYSTEM_CONFIG = {"health_check_period_ms": 500, "health_check_failure_threshold": 4,
                 "health_check_initial_delay_ms": 0}


def add_worker(cluster) -> object:
    return cluster.add_node(num_cpus=1, object_store_memory=NODE_MEMORY)


def start_cluster(workers: int = 2, join: bool = True):
    """A head without CPUs and ``workers`` one-CPU nodes, with this process joined as the driver
    (``join``)."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "object_store_memory": NODE_MEMORY, "include_dashboard": False,
        "_system_config": SYSTEM_CONFIG})
    for _ in range(workers):
        add_worker(cluster)
    cluster.wait_for_nodes()
    if join:
        ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    return cluster


def stop_cluster(cluster) -> None:
    import ray

    ray.shutdown()
    cluster.shutdown()


def tiny_images(folder: Path, n: int) -> list[Path]:
    """``n`` small textured pictures (about 64x48), each of its own size so each shades to its own bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"art-{i:02d}.png"
        path.write_bytes(image_bytes((64 + 4 * (i % 4), 48 + 4 * (i // 4))))
        paths.append(path)
    return paths
