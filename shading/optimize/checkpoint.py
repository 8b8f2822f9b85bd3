"""Resuming an optimization after a crash: the checkpoint protocol ``protect`` accepts.

A caller that can keep a few megabytes somewhere (the daemon: a file in the job's folder)
passes a ``Checkpoint``. ``protect`` saves the optimizer's state into it every
``SAVE_EVERY`` steps and at the end of the optimization, and on its next call for the same
job resumes from what ``load()`` returns instead of step 0. Every state carries a
fingerprint of the problem it belongs to (the input's pixels, the anchor's and style's
pixels, the encoders, the settings, the views, the step count and the seed); a state whose
fingerprint differs, or that is malformed, is ignored with a log line, never trusted.
Resuming needs a fixed seed (``ProtectOptions.seed``): without one every call draws a new
seed, so no earlier state can match.

The self-check's extra steps are not checkpointed: a run interrupted there resumes from
the end of the main optimization and does the self-check again, so the result is the
one an uninterrupted run gives.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol, Sequence, runtime_checkable

import numpy as np
import torch

if TYPE_CHECKING:
    from .attack import Shader

log = logging.getLogger("shading")

SAVE_EVERY = 4          # optimizer steps between saves: little to redo, little written
FORMAT = 1              # the layout of a saved state; another layout is ignored


@runtime_checkable
class Checkpoint(Protocol):
    """Where ``protect`` keeps the optimizer's state of one job between attempts."""

    def load(self) -> Optional[dict]:
        """The state last saved, or None (nothing saved, or unreadable)."""

    def save(self, state: dict) -> None:
        """Replace the saved state with ``state`` (tensors, numbers, strings, lists)."""


class MemoryCheckpoint:
    """A ``Checkpoint`` in memory (tests, or a caller that retries in-process)."""

    def __init__(self) -> None:
        self.state: Optional[dict] = None
        self.saves = 0

    def load(self) -> Optional[dict]:
        return self.state

    def save(self, state: dict) -> None:
        self.state = state
        self.saves += 1


def _feed(h: Any, part: Any) -> None:
    if isinstance(part, torch.Tensor):
        part = part.detach().cpu().numpy()
    if isinstance(part, np.ndarray):
        h.update(f"array {part.dtype.str} {part.shape}:".encode())
        h.update(np.ascontiguousarray(part).tobytes())
    elif isinstance(part, (list, tuple)):
        h.update(f"seq {len(part)}:".encode())
        for p in part:
            _feed(h, p)
    else:
        h.update(f"{type(part).__name__} {part!r};".encode())


def fingerprint(*parts: Any) -> str:
    """A SHA-256 over ``parts``: arrays and tensors by dtype, shape and bytes, sequences
    element by element, anything else by its repr (dataclasses, numbers, strings, None)."""
    h = hashlib.sha256(f"shade-checkpoint {FORMAT}".encode())
    for part in parts:
        _feed(h, part)
    return h.hexdigest()


class Resumption:
    """``protect``'s side of a checkpoint for one optimization of ``total`` steps."""

    def __init__(self, checkpoint: Optional[Checkpoint], shader: "Shader", total: int, parts: Sequence[Any],
                 every: int = SAVE_EVERY) -> None:
        """``parts``: everything the run depends on (see ``fingerprint``), hashed only when
        there is a checkpoint."""
        self.checkpoint, self.shader, self.total, self.every = checkpoint, shader, total, every
        self.print = fingerprint(*parts) if checkpoint is not None else ""
        self.from_step = 0

    def restore(self) -> int:
        """Load the checkpoint's state into the shader when it belongs to this problem;
        returns the step the optimization continues from (0: from the start)."""
        if self.checkpoint is None:
            return 0
        try:
            state = self.checkpoint.load()
        except Exception as exc:  # noqa: BLE001 - an unreadable checkpoint is only lost progress
            log.warning("ignoring the checkpoint: it could not be read (%s)", exc)
            return 0
        if state is None:
            return 0
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            log.warning("ignoring the checkpoint: not a state this version of Shade wrote")
            return 0
        if state.get("fingerprint") != self.print:
            log.warning("ignoring the checkpoint: it belongs to another image, other options or another seed")
            return 0
        step = state.get("shader", {}).get("steps_done") if isinstance(state.get("shader"), dict) else None
        if not isinstance(step, int) or not 0 < step <= self.total:
            log.warning("ignoring the checkpoint: its step count (%r) is not within this run's %d", step, self.total)
            return 0
        try:
            self.shader.load_state_dict(state["shader"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            log.warning("ignoring the checkpoint: its state does not fit this run (%s)", exc)
            return 0
        self.from_step = step
        log.info("resuming the optimization at step %d of %d from the checkpoint", step, self.total)
        return step

    def saving(self, on_step: Callable[[int], None]) -> Callable[[int], None]:
        """``on_step`` that first saves the state every ``every`` steps and at the last one."""
        if self.checkpoint is None:
            return on_step
        checkpoint = self.checkpoint

        def step(k: int) -> None:
            if k % self.every == 0 or k == self.total:
                try:
                    checkpoint.save({"format": FORMAT, "fingerprint": self.print, "shader": self.shader.state_dict()})
                except OSError as exc:      # a full disk costs the progress a crash would keep, not the job
                    log.warning("could not save the checkpoint at step %d (%s)", k, exc)
            on_step(k)
        return step
