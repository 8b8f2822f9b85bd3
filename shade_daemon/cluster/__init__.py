"""Shade on a Ray cluster: batch shading (``shade protect --ray``), a platform's upload API
(``shade serve --ray``) and the daemon's offload (the ``cluster`` setting).

Ray is the optional extra ``shade-art[cluster]``: nothing here imports it at module level,
so the personal install never needs it, and a missing Ray is one clear message
(``require_ray``) rather than an ImportError deep in a stack.
"""

from __future__ import annotations

from types import ModuleType

EXTRA_HINT = "pip install 'shade-art[cluster]'"


class ClusterError(RuntimeError):
    """Ray is missing, the cluster cannot be reached, or it cannot do the work; the message says what to do."""


class ClusterUnavailable(ClusterError):
    """The cluster did not answer: work waits (the daemon keeps its job queued) rather than failing."""


def require_ray() -> ModuleType:
    """The ``ray`` module, or ClusterError naming the extra that provides it."""
    try:
        import ray
    except ImportError as exc:
        raise ClusterError(f"shading on a cluster needs Ray, which is not installed ({exc}); install the extra: "
                           f"{EXTRA_HINT}") from None
    return ray


__all__ = ["ClusterError", "ClusterUnavailable", "EXTRA_HINT", "require_ray"]
