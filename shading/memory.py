"""Memory: freed memory handed back to the system, and the peak of one ``protect`` call
on a large image, measured in a fresh process.

A process's peak resident size (``ru_maxrss``) only ever grows, so each measurement runs
in its own child: it loads the encoders by shading a tiny image first (what a daemon that
has shaded before holds), reads its resident size then ("idle"), shades a synthetic
image of the asked size, and reports its peak above that idle size.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import multiprocessing
import sys
import time
from typing import Iterator, Optional

import numpy as np

from .options import ProtectOptions


def _resident_mb() -> Optional[float]:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _peak_mb() -> Optional[float]:
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


def synthetic_png(width: int, height: int, seed: int = 0) -> bytes:
    """A photo-like PNG: a smooth sky over a textured ground."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 32 + 1, width // 32 + 1, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    sky = np.linspace(120, 230, height // 2, dtype=np.float32)[:, None, None] * np.array([0.6, 0.8, 1.0])
    img.paste(Image.fromarray(np.broadcast_to(sky, (height // 2, width, 3)).astype(np.uint8)), (0, 0))
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _child(width: int, height: int, options: ProtectOptions, out) -> None:
    from PIL import Image

    from .protect import protect

    data = synthetic_png(width, height)
    protect(Image.new("RGB", (96, 96), (120, 130, 140)), options)
    idle = _resident_mb() or _peak_mb()
    started = time.perf_counter()
    result = protect(data, options)
    peak = _peak_mb()
    out.send({"width": width, "height": height, "megapixels": round(width * height / 1e6, 1),
              "idle_mb": None if idle is None else round(idle), "peak_mb": None if peak is None else round(peak),
              "above_idle_mb": None if None in (idle, peak) else round(peak - idle),
              "seconds": round(time.perf_counter() - started, 1), "steps": result.measurements["steps"],
              "ssimulacra2": result.measurements["ssimulacra2"]})


def peak_above_idle(width: int, height: int, options: ProtectOptions) -> dict:
    """Run ``protect`` on a ``width`` x ``height`` synthetic image in a child process; the
    figures in MB (``None`` where the platform does not tell)."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(width, height, options, send))
    child.start()
    send.close()
    try:
        report = receive.recv()
    except EOFError:
        child.join()
        raise RuntimeError(f"the measuring process ended without a report (exit code {child.exitcode})") from None
    child.join()
    return report
