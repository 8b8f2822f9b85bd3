"""Options that mean the same on a worker that cannot see this machine's files: the anchor and
style images travel as their bytes (through Ray's object store), never as paths."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any


def portable_options(options: Any) -> Any:
    """``options`` with file-path anchor and style images replaced by their contents. A named
    anchor keeps its name as the target, so the label in the measurements is a local run's."""
    changes: dict[str, Any] = {}
    if isinstance(options.anchor, (str, Path)):
        changes["anchor"] = Path(options.anchor).read_bytes()
        changes["target"] = options.target or Path(options.anchor).stem
    if isinstance(options.style_image, (str, Path)):
        changes["style_image"] = Path(options.style_image).read_bytes()
    return dataclasses.replace(options, **changes) if changes else options
