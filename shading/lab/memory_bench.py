"""The peak memory of one ``protect`` call on a large image, measured in a fresh process.

A process's peak resident size (``ru_maxrss``) only ever grows, so each measurement runs
in its own child: it loads the encoders by shading a tiny image first (what a daemon that
has shaded before holds), reads its resident size then ("idle"), shades a synthetic
image of the asked size, and reports its peak above that idle size.
"""

from __future__ import annotations

import io
import multiprocessing
import time

import numpy as np

from ..optimize.memory import peak_mb, resident_mb
from ..options import ProtectOptions


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

    from ..protector import protect

    data = synthetic_png(width, height)
    protect(Image.new("RGB", (96, 96), (120, 130, 140)), options)
    idle = resident_mb() or peak_mb()
    started = time.perf_counter()
    result = protect(data, options)
    peak = peak_mb()
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
