"""What the encoder should see instead: an anchor image's latent (poison), the image's
own latent restyled after a reference (cloak), or the anchor restyled (both)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from .errors import AnchorNotFound, ImageError, OptionsError, StyleNotFound
from .imageio import load_image
from .views import cover, to_tensor, to_view, trainer_crop

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


def generate_anchor(concept: str, pipeline_dir: Path, cache_dir: Path, device: str) -> Path:
    """Render "a photo of a {concept}" once with the user's pipeline and cache it in the library."""
    from diffusers import AutoPipelineForText2Image

    pipe = AutoPipelineForText2Image.from_pretrained(pipeline_dir).to(device)
    generator = torch.Generator(device="cpu").manual_seed(0)
    image = pipe(f"a photo of a {concept}", num_inference_steps=4, guidance_scale=0.0,
                 generator=generator).images[0]
    cache_dir.mkdir(parents=True, exist_ok=True)
    out = cache_dir / f"{concept}.png"
    image.save(out)
    return out


def resolve_anchor(anchor, target: Optional[str], anchor_dirs: Sequence[Path],
                   model_dirs: Sequence[Path], device: str) -> tuple[np.ndarray, str]:
    """The anchor image (H x W x 3 uint8) and a label for it."""
    if anchor is not None:
        label = Path(anchor).stem if isinstance(anchor, (str, Path)) else (target or "anchor")
        try:
            return load_image(anchor, name=f"anchor {anchor}" if isinstance(anchor, (str, Path)) else "anchor").rgb, label
        except ImageError as exc:
            raise AnchorNotFound(f"the anchor image cannot be used: {exc}") from None
    concept = normalize_concept(target or "")
    path = find_anchor(concept, anchor_dirs)
    if path is None:
        pipeline = text_to_image_folder(model_dirs)
        if pipeline is not None and anchor_dirs:
            path = generate_anchor(concept, pipeline, Path(anchor_dirs[0]), device)
    if path is None:
        raise _no_anchor(concept, anchor_dirs)
    return load_image(path).rgb, concept


def _no_anchor(concept: str, anchor_dirs: Sequence[Path]) -> AnchorNotFound:
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
        raise _no_anchor(concept, anchor_dirs)
    return concept


def restyle(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Give ``content`` latents the per-channel mean and spread of ``style`` latents."""
    c_mean, c_std = content.mean((-2, -1), keepdim=True), content.std((-2, -1), keepdim=True) + 1e-5
    s_mean, s_std = style.mean((-2, -1), keepdim=True), style.std((-2, -1), keepdim=True) + 1e-5
    return (content - c_mean) / c_std * s_std + s_mean


class TargetBuilder:
    """Builds target latents for any view of the image, the anchor placed consistently:
    resized to cover the whole view and centre-cropped to it."""

    def __init__(self, mode: str, anchor: Optional[np.ndarray], style: Optional[np.ndarray]) -> None:
        self.mode = mode
        self.anchor = to_tensor(anchor) if anchor is not None else None
        self.style = to_tensor(style) if style is not None else None

    def _anchor_view(self, shape, like: torch.Tensor) -> torch.Tensor:
        return cover(self.anchor, tuple(shape)).to(like.device).contiguous(memory_format=torch.channels_last)

    def _style_latent(self, encoder, short: int, like: torch.Tensor) -> torch.Tensor:
        s = to_view(self.style, short).to(like.device).contiguous(memory_format=torch.channels_last)
        return encoder(s)

    def _finish(self, encoder, content_anchor: Optional[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        short = min(x.shape[-2:])
        if self.mode == "poison":
            return encoder(content_anchor)
        content = encoder(x) if self.mode == "cloak" else encoder(content_anchor)
        return restyle(content, self._style_latent(encoder, short, x))

    @torch.no_grad()
    def latent(self, encoder, x_view: torch.Tensor) -> torch.Tensor:
        """Target latent for the whole view ``x_view`` (1 x 3 x H x W)."""
        anchor = self._anchor_view(x_view.shape[-2:], x_view) if self.anchor is not None else None
        return self._finish(encoder, anchor, x_view)

    @torch.no_grad()
    def view_latent(self, encoder, view, x_work: torch.Tensor) -> torch.Tensor:
        """Target latent for a TrainerView (a crop of a resized view) of the image ``x_work``."""
        x_crop = view.look(x_work)
        anchor = None
        if self.anchor is not None:
            anchor = view.look(self._anchor_view(view.shape, x_crop)).contiguous(memory_format=torch.channels_last)
        return self._finish(encoder, anchor, x_crop)

    @torch.no_grad()
    def crop_latent(self, encoder, x_crop: torch.Tensor, view_shape) -> torch.Tensor:
        """Target latent for the trainer's centre crop of a view of shape ``view_shape``."""
        anchor = None
        if self.anchor is not None:
            anchor = trainer_crop(self._anchor_view(view_shape, x_crop), x_crop.shape[-1]).contiguous(
                memory_format=torch.channels_last)
        return self._finish(encoder, anchor, x_crop)
