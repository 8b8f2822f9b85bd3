"""A real multi-node Ray cluster on this machine (``ray.cluster_utils.Cluster``): a head with
no CPUs, so all shading happens on worker nodes of one CPU each. Starting one is slow on two
cores, so the batch and serve tests share one (the offload tests start and stop their own).
The modules skip, saying why, only where Ray (the ``cluster`` extra, part of ``dev``) is not
installed."""

from __future__ import annotations

from typing import Iterator

import pytest

from shadetest.raycluster import start_cluster, stop_cluster


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[object]:
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        stop_cluster(cluster)
