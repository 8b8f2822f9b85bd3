"""Fetching encoder weights into a model folder (``shade models pull``). Each encoder
family in ``encoders.REGISTRY`` knows its own source; this is the command's entry point."""

from __future__ import annotations

from pathlib import Path

from .encoders import fetch_encoder


def pull_model(name: str, models_dir: Path) -> Path:
    """Download ``name`` into ``models_dir/name`` (diffusers format) with huggingface_hub's progress bars."""
    return fetch_encoder(name, Path(models_dir))
