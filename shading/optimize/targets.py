"""What the encoder should see instead.

- poison, ``objective="concept"`` (the default): the image's own latent carried toward the
  concept, i.e. with the anchor's channel statistics (and, by ``coarse_mix``, part of its
  coarse content) swapped in, keeping the image's own layout and fine structure, so the
  budget is spent on the concept, not on one photo's layout no invisible change can reach;
- poison, ``objective="anchor"``: the anchor image's whole latent (the published recipe);
- cloak: the image's own latent with the reference style's channel statistics;
- both: the image carried toward the concept, then given the style's statistics.

Poison and cloak share the machinery (``restyle``): a target that shares the image's layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import AnchorNotFound, ImageError
from ..io.imageio import load_image
from ..library import find_anchor, no_anchor_error, normalize_concept, text_to_image_folder
from ..measure.bands import coarse
from ..pixels.views import cover, to_tensor, to_view, trainer_crop


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
        raise no_anchor_error(concept, anchor_dirs)
    return load_image(path).rgb, concept


def restyle(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Give ``content`` latents the per-channel mean and spread of ``style`` latents."""
    c_mean, c_std = content.mean((-2, -1), keepdim=True), content.std((-2, -1), keepdim=True) + 1e-5
    s_mean, s_std = style.mean((-2, -1), keepdim=True), style.std((-2, -1), keepdim=True) + 1e-5
    return (content - c_mean) / c_std * s_std + s_mean


def carry_concept(content: torch.Tensor, concept: torch.Tensor, coarse_mix: float = 0.0) -> torch.Tensor:
    """``content`` latents with ``concept``'s channel statistics, and ``coarse_mix`` of the
    difference between their coarse (4 x 4) layouts moved over to the concept's."""
    carried = restyle(content, concept)
    if coarse_mix > 0:
        size = carried.shape[-2:]
        low = F.interpolate(coarse(concept) - coarse(carried), size=size, mode="bilinear", align_corners=False)
        carried = carried + coarse_mix * low
    return carried


OBJECTIVES = ("concept", "anchor")


class TargetBuilder:
    """Builds target latents for any view of the image, the anchor placed consistently:
    resized to cover the whole view and centre-cropped to it."""

    def __init__(self, mode: str, anchor: Optional[np.ndarray], style: Optional[np.ndarray],
                 objective: str = "concept", coarse_mix: float = 0.0) -> None:
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}")
        self.mode, self.objective, self.coarse_mix = mode, objective, coarse_mix
        self.anchor_rgb, self.style_rgb = anchor, style
        self.anchor = to_tensor(anchor) if anchor is not None else None
        self.style = to_tensor(style) if style is not None else None

    @property
    def shares_layout(self) -> bool:
        """Whether the target keeps the image's own layout (cloak, and poison's concept
        objective): its pull is judged on the concept's statistics, not the whole latent."""
        return self.mode == "cloak" or (self.mode == "poison" and self.objective == "concept")

    def _anchor_view(self, shape, like: torch.Tensor) -> torch.Tensor:
        return cover(self.anchor, tuple(shape)).to(like.device).contiguous(memory_format=torch.channels_last)

    def _style_latent(self, encoder, short: int, like: torch.Tensor) -> torch.Tensor:
        s = to_view(self.style, short).to(like.device).contiguous(memory_format=torch.channels_last)
        return encoder(s)

    def _finish(self, encoder, content_anchor: Optional[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        short = min(x.shape[-2:])
        if self.mode == "cloak":
            return restyle(encoder(x), self._style_latent(encoder, short, x))
        if self.objective == "anchor" or self.mode == "both":     # both: the anchor's content, restyled
            content = encoder(content_anchor)
        else:
            content = carry_concept(encoder(x), encoder(content_anchor), self.coarse_mix)
        return content if self.mode == "poison" else restyle(content, self._style_latent(encoder, short, x))

    @torch.no_grad()
    def concept_latent(self, encoder, x_crop: torch.Tensor, view_shape) -> torch.Tensor:
        """The latent whose channel statistics are the concept the image should move toward:
        the anchor's crop (poison, both) or the reference style (cloak)."""
        if self.mode == "cloak":
            return self._style_latent(encoder, min(x_crop.shape[-2:]), x_crop)
        return encoder(trainer_crop(self._anchor_view(view_shape, x_crop), x_crop.shape[-1]).contiguous(
            memory_format=torch.channels_last))

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
