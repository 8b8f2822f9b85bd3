"""Which channels a shading acts on, when the caller leaves it to Shade (``auto``).

The labels channel needs its classifiers (the ``labels`` extra): ``auto`` turns it on
where every model of the ensemble is installed, and leaves the latent channel alone
otherwise, so a personal install without the extra shades as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..errors import OptionsError
from ..options import CHANNELS

AUTO = "auto"


def parse_channels(text: str) -> tuple[str, ...]:
    """``"latent,labels"`` -> ``("latent", "labels")``; ``"auto"`` stays ``("auto",)``.
    Raises ``OptionsError`` naming the choices for anything else."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    if names == (AUTO,):
        return names
    unknown = [n for n in names if n not in CHANNELS]
    if not names or unknown:
        raise OptionsError(f"channels: give {AUTO} or a comma-separated list of {', '.join(CHANNELS)}"
                           + (f", not {unknown[0]!r}" if unknown else ""))
    return names


def resolve_channels(channels: Sequence[str], label_models: Sequence[str],
                     model_dirs: Sequence[Path] = ()) -> tuple[str, ...]:
    """``channels`` as ``ProtectOptions.channels`` takes them: ``auto`` becomes latent and
    labels where every one of ``label_models`` is installed, else latent alone."""
    channels = tuple(channels)
    if channels != (AUTO,):
        return parse_channels(",".join(channels))
    from .registry import available_label_models

    installed = {info.name for info in available_label_models(model_dirs) if info.installed}
    wanted = set(label_models)
    return ("latent", "labels") if wanted and wanted <= installed else ("latent",)
