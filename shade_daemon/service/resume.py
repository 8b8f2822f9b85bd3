"""A job's progress across crashes: its optimizer checkpoint, a file in the job's folder,
and the fixed seed that lets a restarted run resume from it.

The core (``shading.optimize.checkpoint``) decides what to save and whether a saved state belongs
to the run; this file only keeps it: written whole or not at all (a hidden temporary file,
then ``os.replace``), mode 0600 like the rest of the job, read back with PyTorch's
``weights_only`` loader (tensors and plain values, no code). The store removes the file
when the job ends. ``torch`` is imported on first use, as ``shading`` is.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from pathlib import Path
from typing import Optional

from ..private import open_private

log = logging.getLogger("shade.daemon")


def job_seed(job_id: str) -> int:
    """The job's seed: fixed for its whole life (every attempt draws the same pattern, so a
    checkpoint of an earlier attempt fits the next one), different from job to job."""
    return int.from_bytes(hashlib.sha256(f"shade-job-seed {job_id}".encode()).digest()[:4], "big") & 0x7FFFFFFF


class FileCheckpoint:
    """``shading.optimize.checkpoint.Checkpoint`` kept in one file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Optional[dict]:
        import torch

        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - a damaged checkpoint is only lost progress
            log.warning("the checkpoint %s could not be read (%s); the job starts from the beginning",
                        self.path.name, exc)
            return None
        return state if isinstance(state, dict) else None

    def save(self, state: dict) -> None:
        import torch

        tmp = self.path.with_name(f".shade-{secrets.token_hex(6)}-{self.path.name}")
        try:
            with open_private(tmp) as f:
                torch.save(state, f)
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
