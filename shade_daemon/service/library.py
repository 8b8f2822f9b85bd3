"""The anchor and style libraries as the daemon offers them: list, add, remove, show.

One way to add an image to either library: the checked upload gets the normalized name
in the user's first folder of that kind (0600, in a 0700 folder), and a name the user
already has is a conflict, never an overwrite. Built-in entries can be listed and shown,
not removed. Names and lookups are the core's (``shading.Library``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from shading import ANCHOR_EXTENSIONS, Library, load_image, normalize_concept, normalize_style

from ..config import Settings
from ..private import private_dir, restrict
from .errors import BadRequest, Conflict, NotFound, storage_error
from .naming import place_new

PREVIEW_SIDE = 256


@dataclass(frozen=True)
class Kind:
    """One library: anchors (concepts, the targets of poison/both) or styles (cloak/both)."""

    name: str                       # "anchor" or "style"
    plural: str
    normalize: Callable[[str], str]
    what: str                       # how a name is described in messages

    def dirs(self, settings: Settings) -> tuple[Path, ...]:
        return tuple(Path(d) for d in (settings.anchor_dirs if self.name == "anchor" else settings.style_dirs))

    def default(self, settings: Settings) -> str:
        return settings.target if self.name == "anchor" else settings.style


ANCHORS = Kind("anchor", "anchors", normalize_concept, "concept")
STYLES = Kind("style", "styles", normalize_style, "style")
KINDS = {"anchor": ANCHORS, "style": STYLES}


def user_files(folder: Path, name: str) -> list[Path]:
    """The files in a user's library folder that hold ``name`` (spaces or underscores)."""
    stems = {name, name.replace(" ", "_")}
    return [folder / f"{stem}{ext}" for stem in stems for ext in ANCHOR_EXTENSIONS if (folder / f"{stem}{ext}").is_file()]


class LibraryService:
    def __init__(self, settings: Settings, library: Library) -> None:
        self.settings = settings
        self.library = library

    def listing(self, kind: Kind) -> dict[str, Any]:
        """{anchors|styles: [{name, builtin}], default}: the user's first, then the built-ins."""
        entries = self.library.anchors() if kind is ANCHORS else self.library.styles()
        return {kind.plural: [{"name": name, "builtin": builtin} for name, _, builtin in entries],
                "default": kind.default(self.settings)}

    def add(self, kind: Kind, raw_name: str, image: Path, extension: str) -> str:
        """Add a checked image (a private temporary file, consumed) under ``raw_name``;
        returns the normalized name."""
        if not raw_name:
            raise BadRequest(f"name the {kind.what}: a field 'name' (letters, digits, '-', '_', spaces)",
                             code="bad_options")
        name = kind.normalize(raw_name)
        folder = kind.dirs(self.settings)[0]
        taken = Conflict(f"your {kind.name} library already has {name!r}; delete it first "
                         f"(DELETE /v1/{kind.plural}/{name}) or choose another name", code=f"{kind.name}_exists")
        try:
            private_dir(folder)
            if user_files(folder, name):
                raise taken
            restrict(image)
            place_new(image, folder, f"{name}{extension}", exact=True)
        except FileExistsError:
            raise taken from None
        except OSError as exc:
            raise storage_error(exc, f"your {kind.name} folder") from None
        return name

    def delete(self, kind: Kind, raw_name: str) -> str:
        name = kind.normalize(raw_name)
        removed = [p for d in kind.dirs(self.settings) for p in user_files(d, name)]
        if not removed:
            raise NotFound(f"{name!r} is not one of your {kind.plural} (built-in ones cannot be removed)",
                           code=f"{kind.name}_not_found")
        for p in removed:
            p.unlink(missing_ok=True)
        return name

    def image(self, kind: Kind, raw_name: str) -> Path:
        path = self.library.find_anchor(raw_name) if kind is ANCHORS else self.library.find_style(raw_name)
        if path is None:
            raise NotFound(f"no such {kind.what} in the {kind.name} library", code=f"{kind.name}_not_found")
        return path

    def preview_jpeg(self, kind: Kind, raw_name: str) -> bytes:
        """A small JPEG of the entry (for the dashboard's library page)."""
        from PIL import Image

        img = Image.fromarray(load_image(self.image(kind, raw_name), max_pixels=10 ** 9).rgb)
        img.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=85)
        return buf.getvalue()
