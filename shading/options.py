"""What a caller asks of ``protect`` and what it gets back, plus the named presets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np
from PIL import Image

from .errors import OptionsError

ImageSource = Union[str, Path, bytes, Image.Image, np.ndarray]
# progress(step, total, stage): stage is "load", "optimize", "check" or "save".
# The callback may raise shading.Cancelled to stop the run.
ProgressCallback = Callable[[int, int, str], None]

# The vocabulary: the one place each list of choices is written. The daemon's config,
# the CLI's argparse choices, the OpenAPI document, /v1/status (which the extension builds
# its menus from) and the docs' tables derive from these; so do intensities and qualities
# (the keys of INTENSITIES and QUALITIES below).
MODES = ("poison", "cloak", "both")
# What each mode steers toward, declared once: "target" (a concept, through an anchor image)
# and/or "style" (a reference style image). Every check of "does this mode need an anchor
# (a style)?" reads this table (``mode_needs``).
MODE_NEEDS: dict[str, tuple[str, ...]] = {"poison": ("target",), "cloak": ("style",), "both": ("target", "style")}


def mode_needs(mode: str, what: str) -> bool:
    """Whether ``mode`` steers toward ``what`` ("target" or "style")."""
    return what in MODE_NEEDS.get(mode, ())


PRECISIONS = ("auto", "float32", "bfloat16")   # the optimizer's encoder passes (see precision.py)
DEVICES = ("auto", "cpu", "cuda", "mps")
# Formats an upload may have and a result keeps: name -> (content type, file extensions, the
# first being the one written).
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "PNG": ("image/png", (".png",)),
    "JPEG": ("image/jpeg", (".jpg", ".jpeg", ".jpe")),
    "WEBP": ("image/webp", (".webp",)),
}


def format_extension(fmt: str) -> str:
    """The extension a result in ``fmt`` is written with (``.jpg`` for JPEG)."""
    return FORMATS[fmt][1][0] if fmt in FORMATS else f".{fmt.lower()}"


# What poison steers toward (see shading/optimize/targets.py): "concept", the image's own
# latent carried toward the anchor's concept (its channel statistics), or "anchor", the
# anchor image's whole latent (the published recipe).
OBJECTIVES = ("concept", "anchor")
# What a shading acts on: the VAE encoders' latents (what a generator trains on) and the
# label models (classifiers, taggers, CLIP towers: what writes the captions it trains under).
CHANNELS = ("latent", "labels")
# The optimizer's settings a caller may override by name (``ProtectOptions.tuning``): the
# fields of ``shading.optimize.attack.AttackSettings`` that are not derived from the image
# or the intensity (a test holds the two lists together).
TUNABLE = ("low_cut", "chroma_cut", "lr", "lr_floor", "start_rms", "grain_cap", "envelope", "grain_cut",
           "recalibrate_every", "visibility_weight", "visibility_every", "plateau_every", "plateau_after",
           "plateau_gain", "alternate_eot", "check_lr", "band_weights")

DEFAULT_MAX_PIXELS = 50_000_000       # the largest image shaded (setting max_pixels)
DEFAULT_VIEW_SIZE = 512               # the trainer's short side


@dataclass(frozen=True)
class Intensity:
    """How visible the change may be, as a visibility target met for each image:
    ``visibility`` is the SSIMULACRA2 score (0-100; about 90 is visually lossless at 1:1,
    70 high quality) that the file as written keeps against the original. ``cap_255``
    caps |delta| per pixel (in /255). ``min_protection`` is the latent ratio the self-check
    accepts after a JPEG-85 round trip (lower is stronger); above it the result is weak."""

    name: str
    visibility: float
    cap_255: float
    min_protection: float


@dataclass(frozen=True)
class Quality:
    """How hard to look: optimizer steps, the trainer views (short sides) looked through whole,
    the larger views looked through view-sized tiles (``tiled``: the 1024 view of FLUX- and
    SDXL-era trainers at the cost of 512 passes), and the weight of a simulated post-upload
    transformation (EOT) in each step's loss. A weight between 0 and 1 costs two encoder
    passes a step (one clean, one transformed); 0 is one clean pass, for ``fast``."""

    name: str
    steps: int
    views: tuple[int, ...]
    check_steps: int          # extra steps the self-check may spend when protection fell short
    eot: float
    tiled: tuple[int, ...] = ()


ROBUST_EOT = 0.5              # the EOT weight ``--robust`` turns on where a preset has none
LARGE_VIEWS = (1024,)         # what ``--large-view`` adds where a preset has none


INTENSITIES = {
    i.name: i for i in (
        Intensity("low", 85.0, 12.0, 0.92),
        Intensity("default", 78.0, 16.0, 0.87),
        Intensity("high", 70.0, 24.0, 0.82),
    )
}
QUALITIES = {
    q.name: q for q in (
        Quality("fast", 12, (512,), 0, 0.0),
        Quality("default", 20, (512,), 6, 0.5, tiled=(1024,)),
        Quality("best", 96, (512, 1024), 24, 0.5),
    )
}


def choices() -> dict[str, list[str]]:
    """Every choice list by option name, as /v1/status and the OpenAPI document publish them."""
    return {"mode": list(MODES), "intensity": list(INTENSITIES), "quality": list(QUALITIES),
            "precision": list(PRECISIONS), "device": list(DEVICES)}


@dataclass
class ProtectOptions:
    mode: str = "poison"
    anchor: Optional[ImageSource] = None       # poison/both: an image of the target concept
    target: Optional[str] = None               # poison/both: a concept name, looked up in anchor_dirs
    style_image: Optional[ImageSource] = None  # cloak/both: an image in the style to move towards
    intensity: str = "default"
    quality: str = "default"
    encoders: tuple[str, ...] = ("installed",)  # every installed encoder (an ensemble); or names
    device: str = "auto"
    seed: Optional[int] = None
    model_dirs: tuple[Path, ...] = ()
    anchor_dirs: tuple[Path, ...] = ()
    max_pixels: int = DEFAULT_MAX_PIXELS
    view_size: int = DEFAULT_VIEW_SIZE         # the trainer's short side; tests use less
    steps: Optional[int] = None                # overrides the quality preset's step count
    eps_255: Optional[float] = None            # overrides the intensity's per-pixel cap (/255)
    visibility: Optional[float] = None         # overrides the intensity's SSIMULACRA2 target (0-100)
    eot: Optional[bool] = None                 # simulate recompression/resizing; None: the quality decides
    large_view: Optional[bool] = None          # also protect the 1024 view (through tiles); None: the quality decides
    self_check: bool = True
    precision: str = "auto"                    # optimizer passes: auto (bfloat16 where native), float32, bfloat16
    objective: str = "concept"                 # poison: "concept" (keeps the image's layout) or "anchor"
    coarse_mix: float = 0.0                    # concept objective: share of the anchor's coarse layout taken
    tuning: dict = field(default_factory=dict)  # optimizer settings by name (TUNABLE), for experiments and tests
    channels: tuple[str, ...] = ("latent",)    # what the shading acts on: "latent" (VAE encoders), "labels"
    label_models: tuple[str, ...] = ("efficientnet-lite0", "efficientnet-lite1")   # the labels channel's ensemble
    label_weight: float = 0.5                  # the labels channel's gradient against the latent's (each normalized)

    def validate(self) -> None:
        if self.mode not in MODES:
            raise OptionsError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.intensity not in INTENSITIES:
            raise OptionsError(f"intensity must be one of {', '.join(INTENSITIES)}, not {self.intensity!r}")
        if self.quality not in QUALITIES:
            raise OptionsError(f"quality must be one of {', '.join(QUALITIES)}, not {self.quality!r}")
        if self.device not in DEVICES:
            raise OptionsError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if self.precision not in PRECISIONS:
            raise OptionsError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if not self.encoders:
            raise OptionsError("at least one encoder is needed (e.g. taef2)")
        if not self.channels or any(c not in CHANNELS for c in self.channels):
            raise OptionsError(f"channels must be one or more of {', '.join(CHANNELS)}, not {self.channels!r}")
        if "labels" in self.channels and not self.label_models:
            raise OptionsError("the labels channel needs at least one label model (e.g. efficientnet-lite0)")
        if not self.label_weight >= 0:
            raise OptionsError(f"label_weight must be 0 or more, not {self.label_weight!r}")
        if self.visibility is not None and not 1 <= self.visibility <= 99:
            raise OptionsError(f"visibility is an SSIMULACRA2 score between 1 and 99 (e.g. 78), not {self.visibility!r}")
        if self.view_size < 64 or self.view_size % 8:
            raise OptionsError("view_size must be a multiple of 8, at least 64")
        if self.objective not in OBJECTIVES:
            raise OptionsError(f"objective must be one of {', '.join(OBJECTIVES)}, not {self.objective!r}")
        if not 0 <= self.coarse_mix <= 1:
            raise OptionsError(f"coarse_mix is a share between 0 and 1, not {self.coarse_mix!r}")
        bad = [c for c in self.channels if c not in CHANNELS]
        if bad or not self.channels:
            raise OptionsError(f"channels are one or more of {', '.join(CHANNELS)}, not {', '.join(bad) or 'none'}")
        if "labels" in self.channels and not self.label_models:
            raise OptionsError("the labels channel needs at least one label model (e.g. efficientnet-lite0)")
        unknown = sorted(set(self.tuning) - set(TUNABLE))
        if unknown:
            raise OptionsError(f"unknown optimizer setting(s) {', '.join(unknown)}; known: {', '.join(TUNABLE)}")
        if mode_needs(self.mode, "target") and self.anchor is None and not self.target:
            raise OptionsError(f"mode {self.mode!r} needs a target: give an anchor image or a target concept")
        if mode_needs(self.mode, "style") and self.style_image is None:
            raise OptionsError(f"mode {self.mode!r} needs a style image to move towards")

    @property
    def intensity_preset(self) -> Intensity:
        return INTENSITIES[self.intensity]

    @property
    def visibility_target(self) -> float:
        """The SSIMULACRA2 score the written file keeps: the option, else the intensity's."""
        return float(self.visibility if self.visibility is not None else self.intensity_preset.visibility)

    @property
    def quality_preset(self) -> Quality:
        return QUALITIES[self.quality]

    @property
    def whole_views(self) -> tuple[int, ...]:
        """The trainer views (short sides at a 512 trainer view) looked through whole."""
        views = self.quality_preset.views
        return tuple(v for v in views if v <= 512) if self.large_view is False else views

    @property
    def tiled_views(self) -> tuple[int, ...]:
        """The large views (short sides at a 512 trainer view) looked through view-sized tiles."""
        if self.large_view is None:
            return self.quality_preset.tiled
        if not self.large_view:
            return ()
        return self.quality_preset.tiled or tuple(v for v in LARGE_VIEWS if v not in self.quality_preset.views)

    @property
    def eot_weight(self) -> float:
        preset = self.quality_preset.eot
        if self.eot is None:
            return preset
        return (preset or ROBUST_EOT) if self.eot else 0.0
