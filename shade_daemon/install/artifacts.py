"""What an install consists of: files, symlinks, registry values and OS commands.
Each knows how to describe itself; the installer writes them and records them so
``shade uninstall`` removes exactly these."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class FileArtifact:
    path: Path
    content: bytes
    what: str
    group: str  # "autostart" | "browsers" | "extension" | "launchers"
    mode: int = 0o644

    @property
    def sha256(self) -> str:
        return sha256(self.content)


@dataclass(frozen=True)
class SymlinkArtifact:
    path: Path
    target: str  # as written into the link (may be relative)
    what: str
    group: str


@dataclass(frozen=True)
class RegistryArtifact:
    key: str  # under HKEY_CURRENT_USER
    value: str  # the key's default value
    what: str
    group: str


@dataclass(frozen=True)
class CommandStep:
    """OS commands that activate what was written (run after writing, best effort)
    and the commands that undo it (run by uninstall before removing files)."""

    what: str
    group: str
    run: tuple[tuple[str, ...], ...]
    undo: tuple[tuple[str, ...], ...] = ()
    after_undo: tuple[tuple[str, ...], ...] = field(default=())  # e.g. daemon-reload once files are gone
    prepare: tuple[tuple[str, ...], ...] = field(default=())  # run first; may fail (e.g. unload an old copy)
    # When nothing of the step's group changed: just make sure it runs (no restart).
    run_unchanged: tuple[tuple[str, ...], ...] = field(default=())


Artifact = FileArtifact | SymlinkArtifact | RegistryArtifact | CommandStep


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
