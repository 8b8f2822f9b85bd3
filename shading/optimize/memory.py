"""Memory: freed memory handed back to the system, large blocks on pages of their own
while the optimizer runs, and the process's resident and peak sizes."""

from __future__ import annotations

import contextlib
import ctypes
import sys
from typing import Iterator, Optional


def resident_mb() -> Optional[float]:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_mb() -> Optional[float]:
    try:
        import resource
    except ImportError:          # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024     # bytes on macOS, KB elsewhere


def release_free_memory() -> None:
    """Hand the heap's free pages back to the system (glibc keeps them otherwise: after the
    optimizer's graphs are freed the process would stay as large as they made it, and the
    full-size stages would come on top). Does nothing where there is no glibc."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


# glibc's malloc settings (mallopt's parameter numbers)
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 32 << 20        # where glibc's own sliding threshold stops


@contextlib.contextmanager
def large_blocks_mapped(threshold: int = 8 << 20) -> Iterator[None]:
    """Within the block, allocations of ``threshold`` bytes or more get pages of their own
    that go back to the system when freed. The optimizer's working-size tensors (~19 MB
    each for a 1.5 MP working image) otherwise land in the heap, whose fragments kept the
    peak of a 50 MP run ~0.5 GB higher. Smaller images' tensors stay under the threshold
    and see no change. Does nothing where there is no glibc."""
    libc = _glibc()
    if libc is None:
        yield
        return
    libc.mallopt(_M_MMAP_THRESHOLD, threshold)
    try:
        yield
    finally:
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except (OSError, AttributeError):
        return None
