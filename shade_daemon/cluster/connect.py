"""Which cluster, and joining it: ``--ray ADDRESS`` / ``SHADE_RAY_ADDRESS``.

``auto`` joins the cluster running on this machine's network (``ray start`` wrote where),
``ray://host:10001`` a remote one through Ray Client, ``host:6379`` a cluster's GCS directly,
and ``local`` starts a private one-machine cluster for this process.
"""

from __future__ import annotations

import logging
import os
from typing import Mapping, Optional

from . import ClusterError, ClusterUnavailable, require_ray

ENV_ADDRESS = "SHADE_RAY_ADDRESS"


def resolve_address(given: Optional[str], env: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The address asked for (the flag over ``SHADE_RAY_ADDRESS``), checked; None: shade locally."""
    env = os.environ if env is None else env
    address = (given if given is not None else env.get(ENV_ADDRESS, "")).strip()
    if not address:
        return None
    if address in ("auto", "local") or address.startswith("ray://"):
        return address
    host, _, port = address.rpartition(":")
    if host and "/" not in host and port.isdigit():
        return address
    raise ClusterError(f"not a Ray address: {address!r}; give auto, local, ray://HOST:10001 or HOST:PORT")


def connect(address: str, *, quiet: bool = True) -> None:
    """Join the cluster at ``address`` (a no-op when this process already has). Raises
    ClusterUnavailable when nobody answers there."""
    ray = require_ray()
    if ray.is_initialized():
        return
    kwargs = {"logging_level": logging.WARNING if quiet else logging.INFO, "log_to_driver": not quiet}
    try:
        if address == "local":
            ray.init(include_dashboard=False, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, TimeoutError) as exc:
        raise ClusterUnavailable(f"no Ray cluster answers at {address}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - Ray raises several kinds for an unreachable or refused address
        text = str(exc)
        if "connect" in text.lower() or "could not find" in text.lower() or "timed out" in text.lower():
            raise ClusterUnavailable(f"no Ray cluster answers at {address}: {text.splitlines()[0]}") from None
        raise ClusterError(f"cannot join the Ray cluster at {address}: {text.splitlines()[0]}") from None


def cluster_resources() -> dict[str, float]:
    """What the joined cluster has in all (CPU, GPU, memory...)."""
    return dict(require_ray().cluster_resources())
