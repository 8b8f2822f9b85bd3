"""The anchor and style libraries on disk: concept and style names, where their images
are, the user's folders before the built-in ones. Torch-free, so listing names costs no
model import (the daemon asks often)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from .errors import AnchorNotFound, OptionsError, StyleNotFound

ANCHOR_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
_CONCEPT = re.compile(r"^[a-z0-9][a-z0-9 _-]{0,63}$")
# What a fresh install has: public-domain / CC0 anchors and public-domain paintings as
# reference styles (shading/assets/NOTICE records each one's source and licence). The
# user's own folders always come first: their "cat" replaces the built-in one.
ASSETS = Path(__file__).resolve().parent / "assets"
BUILTIN_ANCHORS = ASSETS / "anchors"
BUILTIN_STYLES = ASSETS / "styles"


def normalize_concept(name: str) -> str:
    concept = name.strip().lower()
    if not _CONCEPT.match(concept):
        raise OptionsError(f"{name!r} is not a concept name; use letters, digits, spaces, '-' or '_' (e.g. cat)")
    return concept


def normalize_style(name: str) -> str:
    style = name.strip().lower()
    if not _CONCEPT.match(style):
        raise OptionsError(f"{name!r} is not a style name; use letters, digits, spaces, '-' or '_' (e.g. van-gogh)")
    return style


def _names_in(folder: Path) -> list[str]:
    if not Path(folder).is_dir():
        return []
    return sorted({p.stem.lower() for p in Path(folder).iterdir()
                   if p.suffix.lower() in ANCHOR_EXTENSIONS and not p.name.startswith(".")})


def _library(user_dirs: Sequence[Path], builtin: Path) -> list[tuple[str, Path, bool]]:
    """(name, folder, built-in?) for every name, the user's folders first; a built-in
    name the user also has appears once, as the user's."""
    seen: set[str] = set()
    out = []
    for folder, is_builtin in [*((Path(d), False) for d in user_dirs), (builtin, True)]:
        for name in _names_in(folder):
            if name not in seen:
                seen.add(name)
                out.append((name, folder, is_builtin))
    return out


def _find(name: str, user_dirs: Sequence[Path], builtin: Path) -> Optional[Path]:
    for folder in [*user_dirs, builtin]:
        for ext in ANCHOR_EXTENSIONS:
            for candidate in (Path(folder) / f"{name}{ext}", Path(folder) / f"{name.replace(' ', '_')}{ext}"):
                if candidate.is_file():
                    return candidate
    return None


def anchor_library(anchor_dirs: Sequence[Path]) -> list[tuple[str, Path, bool]]:
    """(concept, folder, built-in?) for every concept: the user's first, then the built-ins."""
    return _library(anchor_dirs, BUILTIN_ANCHORS)


def library_concepts(anchor_dirs: Sequence[Path]) -> list[str]:
    """Every concept with an anchor image: the user's (sorted), then the built-in ones."""
    return [name for name, _, _ in anchor_library(anchor_dirs)]


def find_anchor(concept: str, anchor_dirs: Sequence[Path]) -> Optional[Path]:
    return _find(normalize_concept(concept), anchor_dirs, BUILTIN_ANCHORS)


def style_library(style_dirs: Sequence[Path]) -> list[tuple[str, Path, bool]]:
    """(style, folder, built-in?) for every reference style: the user's first, then the built-ins."""
    return _library(style_dirs, BUILTIN_STYLES)


def library_styles(style_dirs: Sequence[Path]) -> list[str]:
    return [name for name, _, _ in style_library(style_dirs)]


def find_style(style: str, style_dirs: Sequence[Path]) -> Optional[Path]:
    return _find(normalize_style(style), style_dirs, BUILTIN_STYLES)


def resolve_style(style: str, style_dirs: Sequence[Path]) -> Path:
    """The image file of a named reference style; StyleNotFound listing what there is."""
    path = find_style(style, style_dirs)
    if path is None:
        raise StyleNotFound(f"no reference style {normalize_style(style)!r} (styles available: "
                            f"{', '.join(library_styles(style_dirs))}). Add one with "
                            f"`shade styles add NAME IMAGE`, or give a style image")
    return path


def text_to_image_folder(model_dirs: Sequence[Path]) -> Optional[Path]:
    """A diffusers text-to-image pipeline the user installed (a folder with model_index.json)."""
    for root in model_dirs:
        for name in ("text-to-image", "sd-turbo", "sdxl-turbo"):
            if (Path(root) / name / "model_index.json").is_file():
                return Path(root) / name
    return None


def no_anchor_error(concept: str, anchor_dirs: Sequence[Path]) -> AnchorNotFound:
    known = library_concepts(anchor_dirs)
    listing = ", ".join(known) if known else "none yet"
    return AnchorNotFound(
        f"no anchor image for target {concept!r} (concepts available: {listing}). "
        f"Add one with `shade anchors add {concept} IMAGE`, or give an anchor image")


def check_target(target: str, anchor_dirs: Sequence[Path], model_dirs: Sequence[Path]) -> str:
    """The normalized concept when an anchor can be had for it (in the library, or rendered
    by an installed text-to-image pipeline); else AnchorNotFound listing what there is."""
    concept = normalize_concept(target)
    if find_anchor(concept, anchor_dirs) is None and text_to_image_folder(model_dirs) is None:
        raise no_anchor_error(concept, anchor_dirs)
    return concept




@dataclass(frozen=True)
class Library:
    """The user's anchor and style folders (searched before the built-in ones) and the model
    folders (where a text-to-image pipeline may render missing concepts)."""

    anchor_dirs: tuple[Path, ...] = ()
    style_dirs: tuple[Path, ...] = ()
    model_dirs: tuple[Path, ...] = ()

    def anchors(self) -> list[tuple[str, Path, bool]]:
        """(concept, folder, built-in?) for every concept, the user's first."""
        return anchor_library(self.anchor_dirs)

    def styles(self) -> list[tuple[str, Path, bool]]:
        """(style, folder, built-in?) for every reference style, the user's first."""
        return style_library(self.style_dirs)

    def concepts(self) -> list[str]:
        return library_concepts(self.anchor_dirs)

    def style_names(self) -> list[str]:
        return library_styles(self.style_dirs)

    def find_anchor(self, concept: str) -> Optional[Path]:
        return find_anchor(concept, self.anchor_dirs)

    def find_style(self, style: str) -> Optional[Path]:
        return find_style(style, self.style_dirs)

    def resolve_style(self, style: str) -> Path:
        return resolve_style(style, self.style_dirs)

    def check_target(self, target: str) -> str:
        return check_target(target, self.anchor_dirs, self.model_dirs)

    def renders_missing_targets(self) -> bool:
        """Whether an installed text-to-image pipeline renders concepts with no anchor image."""
        return text_to_image_folder(self.model_dirs) is not None
